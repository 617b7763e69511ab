import Foundation
import JSONRPC
import MemdProtocol
import Testing

/// limits.md §5: root acts for a client only with the client's rights.
@Suite(.serialized) struct ProcRightsTests {
    /// A client that is not root, whose child execs /usr/bin/passwd (setuid root; stdin a
    /// pipe so it waits): requests racing the exec never show passwd, and once it has
    /// exec'd, maps, pageStats and simulateTranslation of it are refused.
    static let raceScript = #"""
        import json, os, socket, subprocess, sys
        path, rounds = sys.argv[1], int(sys.argv[2])
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        f = s.makefile("rwb")
        n = 0
        def call(method, params):
            global n
            n += 1
            f.write((json.dumps({"jsonrpc": "2.0", "id": n, "method": method, "params": params}) + "\n").encode())
            f.flush()
            while True:
                m = json.loads(f.readline())
                if m.get("id") == n:
                    return m
        def code(m):
            return m["error"]["code"] if "error" in m else 0
        out = {"leaks": [], "oks": 0, "refused": 0, "gone": 0, "final": [], "before": []}
        def record(m):
            c = code(m)
            if c == 0:
                out["oks"] += 1
                text = json.dumps(m["result"])
                if "passwd" in text or "libpam" in text:
                    out["leaks"].append(text[:300])
            elif c == -32002:
                out["refused"] += 1
            elif c == -32001:
                out["gone"] += 1
            else:
                out["leaks"].append("unexpected " + json.dumps(m)[:300])
        for r in range(rounds):
            first = r == 0
            cmd = "read x; exec /usr/bin/passwd" if first else "exec /usr/bin/passwd"
            p = subprocess.Popen(["/bin/sh", "-c", cmd], stdin=subprocess.PIPE,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if first:
                # Before the exec: the client's own shell, readable.
                out["before"] = [code(call("maps", {"pid": p.pid})), code(call("pageStats", {"pid": p.pid}))]
                p.stdin.write(b"\n")
                p.stdin.flush()
            for i in range(60):
                m = call(["maps", "pageStats"][i % 2], {"pid": p.pid})
                record(m)
                if i % 2 == 1:
                    record(call("simulateTranslation", {"pid": p.pid, "addresses": ["0x400000"]}))
            # passwd waits on its stdin: now it is passwd, setuid root.
            with open("/proc/%d/comm" % p.pid) as c:
                comm = c.read().strip()
            out["final"].append([comm, code(call("maps", {"pid": p.pid})), code(call("pageStats", {"pid": p.pid})),
                                 code(call("simulateTranslation", {"pid": p.pid, "addresses": ["0x400000"]})),
                                 code(call("maps", {"pid": p.pid, "detail": True}))])
            p.kill()
            p.wait()
        print(json.dumps(out))
        """#

    @Test func setuidExecIsNeverShown() throws {
        guard getuid() == 0, FileManager.default.fileExists(atPath: "/usr/bin/passwd") else { return }
        let memd = try MemdHarness(["--socket-mode", "0666"])
        let result = try run(
            "setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", Self.raceScript,
                        memd.socketPath, "20"])
        #expect(result.status == 0, "\(result.err)")
        let out = try JSONParser.parse(Array(result.out.utf8))
        #expect(out["leaks"]?.arrayValue == [], "passwd shown to uid 65534: \(out["leaks"] ?? .null)")
        #expect(out["before"] == [0, 0], "the client's own shell before the exec is readable")
        let finals = out["final"]?.arrayValue ?? []
        #expect(finals.count == 20)
        for final in finals {
            #expect(final == ["passwd", -32002, -32002, -32002, -32002], "after the exec: \(final)")
        }
        #expect((out["refused"]?.intValue ?? 0) > 0)
        memd.stop()
    }
}
