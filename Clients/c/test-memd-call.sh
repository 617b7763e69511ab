#!/bin/sh
# memd-call's exit codes and output against a live memd ($MEMD_SOCKET).
cd "$(dirname "$0")" || exit 2
pass=0 fail=0
check() { if [ "$1" = 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL memd-call: $2"; fi; }
out=$(./memd-call meminfo 2>/tmp/memd-call.err.$$); rc=$?
check $([ $rc = 0 ] && echo "$out" | grep -q '"total":' && echo 0 || echo 1) "meminfo: exit 0 and the result (rc $rc)"
out=$(./memd-call maps "{\"pid\":$$}" --socket "$MEMD_SOCKET"); rc=$?
check $([ $rc = 0 ] && echo "$out" | grep -q "\"pid\":$$" && echo 0 || echo 1) "maps with params and --socket (rc $rc)"
./memd-call noSuchMethod 2>/tmp/memd-call.err.$$; rc=$?
check $([ $rc = 1 ] && grep -q '^error -32601 methodNotFound: ' /tmp/memd-call.err.$$ && echo 0 || echo 1) \
    "error: exit 1 and 'error CODE KIND: MESSAGE' (rc $rc: $(cat /tmp/memd-call.err.$$))"
./memd-call maps '{"pid":"x"}' 2>/tmp/memd-call.err.$$; rc=$?
check $([ $rc = 1 ] && grep -q '^error -32602 invalidParams: ' /tmp/memd-call.err.$$ && echo 0 || echo 1) "invalid params (rc $rc)"
./memd-call meminfo --socket /nonexistent/memd.sock 2>/tmp/memd-call.err.$$; rc=$?
check $([ $rc = 3 ] && grep -q '/nonexistent/memd.sock' /tmp/memd-call.err.$$ && echo 0 || echo 1) "cannot connect: exit 3 naming the path (rc $rc)"
./memd-call 2>/dev/null; rc=$?
check $([ $rc = 2 ] && echo 0 || echo 1) "usage: exit 2 (rc $rc)"
./memd-call meminfo '[1]' 2>/dev/null; rc=$?
check $([ $rc = 2 ] && echo 0 || echo 1) "params not an object: exit 2 (rc $rc)"
rm -f /tmp/memd-call.err.$$
echo "$pass passed, $fail failed"
[ $fail = 0 ]
