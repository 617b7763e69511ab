#!/usr/bin/env bash
# Clients/run-tests.sh SOCKET - build and run every client's tests against a live memd at SOCKET:
#   1. C: make -C Clients/c test   (the library's test under valgrind when installed, memd-call's exit codes)
#   2. Python: Clients/python/test_memd_client.py
#   3. the scripted client over Clients/scripted/scenarios/*.json
#   4. every client against an impostor server (Clients/test-impostor.sh; needs root)
# Prints each part's output and summary, then "N passed, N failed[, N skipped]" over all of them;
# exits non-zero on any failure. For the access steps ("as": "nobody") start memd as root with
# --socket-mode 0666; otherwise they are skipped with the reason.
set -u
if [ $# -ne 1 ]; then
    echo "usage: $0 SOCKET" >&2
    exit 2
fi
export MEMD_SOCKET="$1"
HERE="$(cd "$(dirname "$0")" && pwd)"
PY="${PYTHON:-python3}"
total_pass=0 total_fail=0 total_skip=0
out="$(mktemp)"
trap 'rm -f "$out"' EXIT

# run_part NAME COMMAND...: run it, show its output, add up its "N passed, N failed[, N skipped]" lines.
run_part() {
    local name="$1"
    shift
    echo "=== $name: $*"
    "$@" >"$out" 2>&1
    local rc=$?
    cat "$out"
    local p=0 f=0 s=0 found=0 line
    while IFS= read -r line; do
        if [[ "$line" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ ([0-9]+)\ skipped)?$ ]]; then
            found=1
            p=$((p + BASH_REMATCH[1]))
            f=$((f + BASH_REMATCH[2]))
            s=$((s + ${BASH_REMATCH[4]:-0}))
        fi
    done <"$out"
    if [ $found = 0 ] || { [ $rc != 0 ] && [ $f = 0 ]; }; then
        echo "FAIL $name: exit status $rc, no summary line or no failure counted"
        f=$((f + 1))
    fi
    echo "--- $name: $p passed, $f failed, $s skipped"
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    total_skip=$((total_skip + s))
}

if ! [ -S "$MEMD_SOCKET" ]; then
    echo "warning: $MEMD_SOCKET is not a socket (is memd running?)" >&2
fi

if make -s -C "$HERE/c" all >"$out" 2>&1; then
    run_part c make -s -C "$HERE/c" test
else
    cat "$out"
    echo "FAIL c: build failed"
    total_fail=$((total_fail + 1))
fi
run_part python "$PY" "$HERE/python/test_memd_client.py"
run_part impostor bash "$HERE/test-impostor.sh"
run_part scripted "$PY" "$HERE/scripted/memd-script" --socket "$MEMD_SOCKET"

echo "=== all clients"
line="$total_pass passed, $total_fail failed"
[ $total_skip -gt 0 ] && line="$line, $total_skip skipped"
echo "$line"
[ $total_fail = 0 ]
