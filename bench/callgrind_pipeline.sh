#!/usr/bin/env bash
# User-space instructions per request on the hot path, counted by callgrind: deterministic
# for a given binary, whatever else the machine is doing. The server runs under valgrind
# while wrk pipelines 16 requests per write (DEPTH, below); the total is divided by the
# requests served.
# Counting starts once the server has answered its first request, so start-up (registering
# routes, say) is not spread over the requests.
#
# usage: bench/callgrind_pipeline.sh [PATH] [SECONDS] [SERVER ARGS...]  (default /plaintext, 5)
#   e.g. bench/callgrind_pipeline.sh /user/42 5 --extra-routes 997     (1,000 routes)
# VERBOSE=1 adds the costliest functions (the first few lines are the call stack at the dump);
# KEEP=1 keeps the callgrind files (for --tree=caller and the like).
# SERVER_CMD='/path/to/peer {port}' measures another server the same way (a peer from
# ../shared/bench/anchors, say); server arguments are then ignored.
# DEPTH=1 sends one request per write (no pipelining): what a request costs when each one
# needs its own readiness event, read and write.
# ZERO=0 counts from start-up instead, for a server that a signal to callgrind would stop (the
# ceiling treats the EINTR it gets from epoll_wait as fatal); small for a server with no set-up.
# HEADER='Accept-Encoding: gzip' adds that header to every request (wrk -H).
# needs: valgrind, wrk, and `cargo build --release -p carafe --example bench_server`
set -euo pipefail
cd "$(dirname "$0")/.."
path="${1:-/plaintext}"
seconds="${2:-5}"
shift $(($# < 2 ? $# : 2))
server=target/release/examples/bench_server
label="${SERVER_CMD:-$*}"
out=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if [ -n "${SERVER_CMD:-}" ]; then
  # shellcheck disable=SC2086 # the command is split into words on purpose
  set -- ${SERVER_CMD//\{port\}/$port}
else
  set -- "$server" --addr "127.0.0.1:$port" --workers 1 "$@"
fi
valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$@" >"$out/valgrind.log" 2>&1 &
pid=$!
trap '[ -z "$pid" ] || kill -INT "$pid" 2>/dev/null || true; [ "${KEEP:-0}" = 1 ] && echo "kept $out" >&2 || rm -rf "$out"' EXIT
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port$path" && break; sleep 0.1; done
[ "${ZERO:-1}" = 0 ] || callgrind_control --zero "$pid" >/dev/null 2>&1
depth="${DEPTH:-16}"
sed "s/DEPTH/$depth/" >"$out/pipeline.lua" <<'LUA'
init = function(args) local r = {} for i = 1, DEPTH do r[i] = wrk.format() end req = table.concat(r) end
request = function() return req end
LUA
requests=$(wrk -t1 -c16 -d"${seconds}s" ${HEADER:+-H "$HEADER"} -s "$out/pipeline.lua" "http://127.0.0.1:$port$path" | awk '/requests in/ {print $1}')
callgrind_control --dump "$pid" >/dev/null 2>&1
# The counts are dumped; a server that ignores SIGINT (some peers) is killed after 5 s.
kill -INT "$pid" 2>/dev/null || true
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -KILL "$pid" 2>/dev/null || true
wait "$pid" || true
pid=""
# A server that the dump request stopped (the ceiling) wrote its counts to the final file.
dump=$(ls "$out"/cg.* 2>/dev/null | head -1 || true)
dump="${dump:-$out/cg}"
total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "$path${label:+ ($label)}: $requests requests, $total instructions, $((total / requests)) instructions per request"
if [ "${VERBOSE:-0}" = 1 ]; then callgrind_annotate --threshold=100 "$dump" 2>/dev/null | sed -n '/file:function/,$p' | head -30; fi
