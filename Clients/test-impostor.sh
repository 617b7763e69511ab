#!/usr/bin/env bash
# Clients/test-impostor.sh - every client refuses a server that is neither root nor the
# caller (SO_PEERCRED, limits.md §5). An impostor (python3 run as uid 65534 with setpriv)
# listens on a temporary socket and answers every request with a plausible result; the
# C client (memd-call), the Python client and memd-script must each refuse to talk to it.
# Needs root (to become 65534); otherwise prints one skip. Prints "N passed, N failed[, N skipped]".
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
PY=/usr/bin/python3
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
    echo "skip: the impostor test needs root and setpriv"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi
dir="$(mktemp -d /tmp/memd-impostor.XXXXXX)"
chown 65534:65534 "$dir"
sock="$dir/memd.sock"
impostor='
import json, socket, sys, threading
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(8)
def serve(c):
    f = c.makefile("rwb")
    for line in f:
        try:
            m = json.loads(line)
        except ValueError:
            continue
        if isinstance(m, dict) and "id" in m:
            f.write((json.dumps({"jsonrpc": "2.0", "id": m["id"], "result": {"source": "proc", "total": 1}}) + "\n").encode())
            f.flush()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
'
setpriv --reuid=65534 --regid=65534 --clear-groups "$PY" -c "$impostor" "$sock" &
impostor_pid=$!
trap 'kill "$impostor_pid" 2>/dev/null; wait "$impostor_pid" 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
pass=0 fail=0
# check NAME COMMAND...: must fail, naming the impostor's uid.
check() {
    local name="$1"
    shift
    local output rc
    output="$("$@" 2>&1)"
    rc=$?
    if [ $rc != 0 ] && [[ "$output" == *"runs as uid 65534, not root or you"* ]]; then
        pass=$((pass + 1))
        echo "ok   $name refuses the impostor (exit $rc)"
    else
        fail=$((fail + 1))
        echo "FAIL $name talked to the impostor (exit $rc): $output"
    fi
}
check c "$HERE/c/memd-call" meminfo --socket "$sock"
check python "$PY" -c "
import sys
sys.path.insert(0, '$HERE/python')
import memd_client
print(memd_client.Client('$sock').call('meminfo'))"
check python-async "$PY" -c "
import asyncio, sys
sys.path.insert(0, '$HERE/python')
import memd_client
async def main():
    c = memd_client.AsyncClient('$sock')
    await c.connect()
    print(await c.call('meminfo'))
asyncio.run(main())"
check scripted "$PY" "$HERE/scripted/memd-script" --socket "$sock" "$HERE/scripted/scenarios/meminfo.json"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
