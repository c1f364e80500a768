// The live panel: listen to /events and show what the server pushes.
"use strict";
(function () {
  const source = new EventSource("/events");
  source.addEventListener("stats", function (event) {
    const stats = JSON.parse(event.data);
    document.getElementById("live-visitors").textContent = stats.visitors;
    document.getElementById("live-chat").textContent = stats.chat_messages;
  });
  source.addEventListener("time", function (event) {
    document.getElementById("live-time").textContent = event.data;
  });
  source.addEventListener("posts", function (event) {
    const list = document.getElementById("live-posts");
    list.replaceChildren();
    for (const post of JSON.parse(event.data)) {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = "/blog/" + encodeURIComponent(post.slug);
      link.textContent = post.title;
      item.append(link);
      list.append(item);
    }
  });
})();
