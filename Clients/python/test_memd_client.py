"""Tests of memd_client against a live memd (socket from $MEMD_SOCKET).

    MEMD_SOCKET=/tmp/memd.sock python3 test_memd_client.py [-v]     # ends with "N passed, N failed"
    MEMD_SOCKET=/tmp/memd.sock python3 -m unittest -v test_memd_client

Offline tests (socket path rules, error mapping) run without a server.
"""

import asyncio
import os
import socket
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import memd_client as mc  # noqa: E402

SOCKET = os.environ.get("MEMD_SOCKET")


def unused_pid() -> int:
    try:
        pid_max = int(open("/proc/sys/kernel/pid_max").read())
    except OSError:
        pid_max = 32768
    for pid in range(pid_max - 1, 1, -1):
        if not os.path.exists(f"/proc/{pid}"):
            return pid
    raise RuntimeError("no unused pid")


class OfflineTests(unittest.TestCase):
    def test_socket_path_rules(self):
        uid = os.getuid()
        self.assertEqual(mc.resolve_socket_path("/x.sock", {"MEMD_SOCKET": "/y"}), "/x.sock")
        self.assertEqual(mc.resolve_socket_path(None, {"MEMD_SOCKET": "/y", "XDG_RUNTIME_DIR": "/r"}), "/y")
        self.assertEqual(mc.resolve_socket_path(None, {"XDG_RUNTIME_DIR": "/run/user/5"}), "/run/user/5/memd.sock")
        # Last: /run/memd.sock for root; /tmp/memd-UID.sock for others (or /run/memd.sock
        # when their own path has no socket and the system-wide one has).
        last = {mc.SYSTEM_SOCKET} if uid == 0 else {f"/tmp/memd-{uid}.sock", mc.SYSTEM_SOCKET}
        self.assertIn(mc.resolve_socket_path(None, {"MEMD_SOCKET": "", "XDG_RUNTIME_DIR": ""}), last)
        self.assertIn(mc.resolve_socket_path(None, {}), last)

    def test_error_classes(self):
        table = {
            -32700: (mc.ParseError, "parseError"), -32600: (mc.InvalidRequest, "invalidRequest"),
            -32601: (mc.MethodNotFound, "methodNotFound"), -32602: (mc.InvalidParams, "invalidParams"),
            -32603: (mc.InternalError, "internal"), -32001: (mc.ProcessNotFound, "processNotFound"),
            -32002: (mc.PermissionDenied, "permissionDenied"), -32003: (mc.ResourceLimit, "resourceLimit"),
            -32004: (mc.Unsupported, "unsupported"), -32005: (mc.SimNotFound, "simNotFound"),
            -32006: (mc.Timeout, "timeout"),
        }
        for code, (cls, kind) in table.items():
            e = mc.error_from_response({"code": code, "message": "m", "data": {"kind": kind, "pid": 1}})
            self.assertIsInstance(e, cls)
            self.assertIsInstance(e, mc.MemdError)
            self.assertEqual((e.code, e.kind, e.message, e.data["pid"]), (code, kind, "m", 1))
        e = mc.error_from_response({"code": -32600, "message": "too big", "data": {"kind": "requestTooLarge"}})
        self.assertIsInstance(e, mc.InvalidRequest)
        self.assertEqual(e.kind, "requestTooLarge")
        e = mc.error_from_response({"code": -1, "message": "odd"})
        self.assertEqual(type(e), mc.MemdError)

    def test_framing_against_socketpair(self):
        """Partial reads, CRLF, blank lines and a long line, with a stand-in peer."""
        a, b = socket.socketpair()
        c = mc.Client(connect=False)
        c.sock = a
        c.timeout = 5
        seen = []
        c.on_notification = lambda m, p: seen.append((m, p))
        big = "x" * (3 * 1024 * 1024)
        payload = (b'\r\n\n{"jsonrpc":"2.0","method":"experiment.progress","params":{"phase":"p"}}\r\n'
                   b'{"jsonrpc":"2.0","id":2,"result":2}\n'
                   + ('{"jsonrpc":"2.0","id":1,"result":"%s"}\n' % big).encode())
        def feed():
            for i in range(0, len(payload), 4093):
                b.sendall(payload[i:i + 4093])
        t = threading.Thread(target=feed)
        t.start()
        self.assertEqual(len(c.wait(1)), len(big))
        self.assertEqual(c.wait(2), 2)
        self.assertEqual(seen, [("experiment.progress", {"phase": "p"})])
        t.join()
        b.close()
        with self.assertRaises(mc.ConnectionClosed):
            c.wait(3)
        c.close()


@unittest.skipUnless(SOCKET, "MEMD_SOCKET not set: no live memd")
class LiveTests(unittest.TestCase):
    methods = None

    def setUp(self):
        self.c = mc.Client(SOCKET, timeout=60)
        if LiveTests.methods is None:
            LiveTests.methods = {m.get("name") for m in self.c.call("rpc.discover").get("methods", [])}

    def require(self, *methods):
        missing = [m for m in methods if m not in LiveTests.methods]
        if missing:
            self.skipTest("server does not list %s in rpc.discover" % ", ".join(missing))

    def tearDown(self):
        self.c.close()

    def test_discover(self):
        doc = self.c.call("rpc.discover")
        self.assertIn("openrpc", doc)
        names = {m["name"] for m in doc["methods"]}
        for name in ("meminfo", "maps", "pageStats", "runExperiment", "simulateTranslation", "sim.create"):
            self.assertIn(name, names)

    def test_meminfo(self):
        r = self.c.call("meminfo")
        self.assertEqual(r["source"], "proc")
        for k in ("total", "used", "free", "shared", "buffers", "cache", "buffCache", "available",
                  "swapTotal", "swapUsed", "swapFree"):
            self.assertIsInstance(r[k], int, k)
        self.assertEqual(r["buffCache"], r["buffers"] + r["cache"])
        self.assertEqual(r["swapUsed"], r["swapTotal"] - r["swapFree"])
        self.assertIn(r["used"], (r["total"] - r["available"], r["total"] - r["free"]))
        self.assertEqual(r["raw"]["MemTotal"], r["total"])

    def test_maps_of_self_and_kwargs_or_dict(self):
        r1 = self.c.call("maps", pid=os.getpid())
        r2 = self.c.call("maps", {"pid": os.getpid()})
        self.assertEqual(r1["pid"], os.getpid())
        self.assertTrue(r1["mappings"])
        self.assertEqual(r2["pid"], os.getpid())
        for m in r1["mappings"]:
            self.assertEqual(int(m["end"], 16) - int(m["start"], 16), m["size"])

    def test_typed_errors(self):
        with self.assertRaises(mc.ProcessNotFound) as cm:
            self.c.call("maps", pid=unused_pid())
        self.assertEqual(cm.exception.code, -32001)
        self.assertEqual(cm.exception.kind, "processNotFound")
        self.assertIn("pid", cm.exception.data)
        with self.assertRaises(mc.MethodNotFound):
            self.c.call("noSuchMethod")
        with self.assertRaises(mc.InvalidParams):
            self.c.call("maps")  # pid required with proc
        # the connection survives errors
        self.assertEqual(self.c.call("meminfo")["source"], "proc")

    def test_parse_error_keeps_connection(self):
        self.c.send_raw(b'{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]\n')
        with self.assertRaises(mc.ParseError):
            self.c.wait(None)
        self.assertEqual(self.c.call("meminfo")["source"], "proc")

    def test_notification_gets_no_reply(self):
        self.c.notify("meminfo")
        self.c.notify("noSuchMethod")
        # the next reply on the connection is the one to this call
        self.assertEqual(self.c.call("meminfo")["source"], "proc")
        self.assertFalse(self.c._pending)

    def test_batch(self):
        out = self.c.batch([("meminfo", None), mc.BatchCall("meminfo", None, notification=True),
                            ("noSuchMethod", None), {"method": "maps", "params": {"pid": os.getpid()}}])
        self.assertEqual(len(out), 3)
        self.assertEqual(out[0]["source"], "proc")
        self.assertIsInstance(out[1], mc.MethodNotFound)
        self.assertEqual(out[2]["pid"], os.getpid())
        self.assertEqual(self.c.batch([mc.BatchCall("meminfo", notification=True)]), [])

    def test_batch_too_large(self):
        with self.assertRaises(mc.ResourceLimit) as cm:
            self.c.batch([("meminfo", None)] * 1001)
        self.assertEqual(cm.exception.kind, "resourceLimit")

    def test_sim_not_found(self):
        self.require("sim.spawn")
        with self.assertRaises(mc.SimNotFound) as cm:
            self.c.call("sim.spawn", machine="no-such-machine")
        self.assertEqual(cm.exception.kind, "simNotFound")

    def test_sim_roundtrip(self):
        self.require("sim.create")
        m = self.c.call("sim.create", physicalBytes=16 * 1024 * 1024)["machine"]
        try:
            pid = self.c.call("sim.spawn", machine=m)["pid"]
            addr = self.c.call("sim.mmap", machine=m, pid=pid, length=1 << 20, prot="rw-")["address"]
            t = self.c.call("sim.touch", machine=m, pid=pid, address=addr, length=1 << 20, access="write")
            self.assertEqual(t["minorFaults"], 256)
            self.assertIn(m, [x["machine"] for x in self.c.call("sim.list")["machines"]])
            info = self.c.call("meminfo", source="sim", machine=m)
            self.assertEqual(info["source"], "sim")
            self.assertEqual(info["total"], 16 * 1024 * 1024)
        finally:
            self.c.call("sim.destroy", machine=m)
        with self.assertRaises(mc.SimNotFound):
            self.c.call("meminfo", source="sim", machine=m)

    def test_progress_notifications(self):
        self.require("runExperiment")
        seen = []
        self.c.on_notification = lambda method, params: seen.append((method, params))
        r = self.c.call("runExperiment", name="demandPaging", sizeBytes=8 << 20, stepBytes=2 << 20,
                        progress=True)
        self.assertEqual(r["name"], "demandPaging")
        self.assertTrue(seen)
        self.assertTrue(all(m == "experiment.progress" for m, _ in seen))
        self.assertTrue(all("phase" in p and "message" in p for _, p in seen))

    def test_cancel(self):
        self.require("runExperiment")
        first = []
        self.c.on_notification = lambda method, params: first.append(params)
        id_ = self.c.start("runExperiment", {"name": "demandPaging", "sizeBytes": 256 << 20,
                                             "stepBytes": 1 << 20, "progress": True})
        while not first and mc._idkey(id_) not in self.c._pending:
            self.c._dispatch(self.c.read_message())
        self.c.cancel(id_)
        with self.assertRaises(mc.Timeout) as cm:
            self.c.wait(id_)
        self.assertEqual(cm.exception.kind, "timeout")

    def test_async_client(self):
        async def go():
            async with mc.AsyncClient(SOCKET) as ac:
                a, b, c = await asyncio.gather(ac.call("meminfo"), ac.call("maps", pid=os.getpid()),
                                               ac.call("rpc.discover"))
                self.assertEqual(a["source"], "proc")
                self.assertEqual(b["pid"], os.getpid())
                self.assertIn("methods", c)
                with self.assertRaises(mc.ProcessNotFound):
                    await ac.call("maps", pid=unused_pid())
                out = await ac.batch([("meminfo", None), ("noSuchMethod", None)])
                self.assertIsInstance(out[1], mc.MethodNotFound)
        asyncio.run(asyncio.wait_for(go(), 60))


def main() -> int:
    """Run every test; print `N passed, N failed[, N skipped]` last (for Clients/run-tests.sh)."""
    verbosity = 2 if "-v" in sys.argv else 1
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=verbosity, stream=sys.stdout).run(suite)
    bad = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    line = "%d passed, %d failed" % (result.testsRun - bad - skipped, bad)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
