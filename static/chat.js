// The chat page: join a room over a WebSocket, show what arrives as text.
"use strict";
(function () {
  const join = document.getElementById("chat-join");
  const chat = document.getElementById("chat");
  const log = document.getElementById("chat-log");
  const send = document.getElementById("chat-send");
  const input = document.getElementById("chat-message");
  let socket = null;

  function show(line) {
    const item = document.createElement("li");
    item.className = "chat-line chat-line-" + line.kind;
    const who = document.createElement("strong");
    who.textContent = line.name;
    item.append(who, " ", line.kind === "message" ? line.text : line.text);
    log.append(item);
    item.scrollIntoView({ block: "nearest" });
  }

  join.addEventListener("submit", function (event) {
    event.preventDefault();
    const name = document.getElementById("chat-name").value;
    const room = document.getElementById("chat-room").value || "lobby";
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const query = new URLSearchParams({ name: name, room: room });
    socket = new WebSocket(scheme + "//" + location.host + "/ws/chat?" + query);
    socket.addEventListener("open", function () {
      join.hidden = true;
      chat.hidden = false;
      input.focus();
    });
    socket.addEventListener("message", function (message) {
      show(JSON.parse(message.data));
    });
    socket.addEventListener("close", function () {
      show({ kind: "leave", name: "", text: "(disconnected)" });
    });
  });

  send.addEventListener("submit", function (event) {
    event.preventDefault();
    if (socket && input.value.trim() !== "") {
      socket.send(input.value);
      input.value = "";
    }
  });
})();
