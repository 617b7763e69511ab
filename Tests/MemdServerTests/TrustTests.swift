import Foundation
import JSONRPC
import MemdProtocol
import Testing

/// limits.md §5: root acts for a client only with the client's rights.
@Suite(.serialized) struct ProcRightsTests {
    /// A client that is not root, whose child execs /usr/bin/passwd (setuid root; stdin a
    /// pipe so it waits): requests racing the exec never show passwd, and once it has
    /// exec'd, maps, pageStats and simulateTranslation of it are refused and usage hides it.
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
                # cmdline is anyone's to read (/proc/PID/cmdline is 0444), and the shell's own
                # says "exec /usr/bin/passwd": what must never show is passwd's memory.
                result = dict(m["result"])
                result.pop("cmdline", None)
                text = json.dumps(result)
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
                if i % 3 == 0:
                    # usage hides what is not the client's: passwd's row never shows.
                    record(call("usage", {"pids": [p.pid]}))
                if i % 2 == 1:
                    record(call("simulateTranslation", {"pid": p.pid, "addresses": ["0x400000"]}))
            # passwd waits on its stdin: now it is passwd, setuid root.
            with open("/proc/%d/comm" % p.pid) as c:
                comm = c.read().strip()
            out["final"].append([comm, code(call("maps", {"pid": p.pid})), code(call("pageStats", {"pid": p.pid})),
                                 code(call("simulateTranslation", {"pid": p.pid, "addresses": ["0x400000"]})),
                                 code(call("maps", {"pid": p.pid, "detail": True})),
                                 len(call("usage", {"pids": [p.pid]})["result"]["rows"])])
            p.kill()
            p.wait()
        print(json.dumps(out))
        """#

    @Test func setuidExecIsNeverShown() throws {
        guard getuid() == 0, FileManager.default.fileExists(atPath: "/usr/bin/passwd") else { return }
        let memd = try MemdHarness(["--socket-mode", "0666"])
        let result = try run(
            "setpriv",
            [
                "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", Self.raceScript,
                memd.socketPath, "20",
            ]
        )
        #expect(result.status == 0, "\(result.err)")
        let out = try JSONParser.parse(Array(result.out.utf8))
        #expect(out["leaks"]?.arrayValue == [], "passwd shown to uid 65534: \(out["leaks"] ?? .null)")
        #expect(out["before"] == [0, 0], "the client's own shell before the exec is readable")
        let finals = out["final"]?.arrayValue ?? []
        #expect(finals.count == 20)
        for final in finals {
            #expect(final == ["passwd", -32002, -32002, -32002, -32002, 0], "after the exec: \(final)")
        }
        #expect((out["refused"]?.intValue ?? 0) > 0)
        memd.stop()
    }
}

/// The experiment child of a client that is not root, seen from /proc while it runs.
@Suite(.serialized) struct ExperimentChildTests {
    /// Connects, starts a long demandPaging, prints the first progress line, then holds
    /// the connection until its stdin closes.
    static let clientScript = #"""
        import json, socket, sys
        s = socket.socket(socket.AF_UNIX)
        s.connect(sys.argv[1])
        f = s.makefile("rwb")
        f.write(b'{"jsonrpc":"2.0","id":1,"method":"runExperiment","params":{"name":"demandPaging",'
                b'"sizeBytes":268435456,"stepBytes":4096,"progress":true}}\n')
        f.flush()
        print(f.readline().decode().strip(), flush=True)
        sys.stdin.read()
        """#

    @Test func memlabRunsWithTheClientsRightsOnly() throws {
        guard getuid() == 0 else { return }
        // memd with supplementary groups of its own (root, groups 4 and 24), which memlab must not keep.
        let memd = try GroupedMemd()
        let client = Process()
        client.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        client.arguments = [
            "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", Self.clientScript,
            memd.socketPath,
        ]
        let input = Pipe()
        let output = Pipe()
        client.standardInput = input
        client.standardOutput = output
        try client.run()
        defer {
            try? input.fileHandleForWriting.close()
            client.waitUntilExit()
            memd.stop()
        }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while Glibc.read(output.fileHandleForReading.fileDescriptor, &byte, 1) == 1, byte != 0x0A { line.append(byte) }
        let progress = try JSONParser.parse(line)
        #expect(progress["method"] == "experiment.progress", "\(String(decoding: line, as: UTF8.self))")
        let memdPid = memd.process.processIdentifier
        #expect(try readProc("/proc/\(memdPid)/status").contains("Groups:\t4 24"), "memd itself has groups")
        let memlab = try #require(
            ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init).first {
                pid in
                let stat = (try? readProc("/proc/\(pid)/stat")) ?? ""
                return stat.contains("(memlab)")
                    && stat.split(separator: ")").last?.split(separator: " ")[1] == "\(memdPid)"
            }
        )
        let status = try readProc("/proc/\(memlab)/status")
        let fields = { (key: String) in
            status.split(separator: "\n").first { $0.hasPrefix(key + ":") }?
                .dropFirst(key.count + 1).split(whereSeparator: { $0 == "\t" || $0 == " " }).map(String.init) ?? ["?"]
        }
        #expect(fields("Uid") == ["65534", "65534", "65534", "65534"])
        #expect(fields("Gid") == ["65534", "65534", "65534", "65534"])
        #expect(fields("Groups") == [], "supplementary groups: \(fields("Groups"))")
        let environ = try readProc("/proc/\(memlab)/environ")
        #expect(environ.split(separator: "\0").sorted() == ["LANG=C", "PATH=/usr/bin:/bin"])
        let fds = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(memlab)/fd").compactMap(Int.init)
            .sorted()
        #expect(fds == [0, 1, 2])
        let limits = try readProc("/proc/\(memlab)/limits")
        let core = limits.split(separator: "\n").first { $0.hasPrefix("Max core file size") }
        #expect(core?.split(separator: " ").dropFirst(4).prefix(2) == ["0", "0"], "\(core ?? "")")
        // Not dumpable: the kernel shows its /proc files as root's (task_dump_owner).
        var info = stat()
        #expect(stat("/proc/\(memlab)/status", &info) == 0 && info.st_uid == 0)
        // …so the client itself may not read it, through memd either.
        let memctl = productsDirectory.appendingPathComponent("memctl").path
        let maps = try run(
            "setpriv",
            [
                "--reuid=65534", "--regid=65534", "--clear-groups", memctl,
                "--socket", memd.socketPath, "call", "maps", "--pid", "\(memlab)",
            ]
        )
        #expect(maps.err.contains("-32002"), "\(maps.err)")
    }
}

/// A forged experiment helper (what a hijacked memlab could write): each forged line
/// ends the experiment with -32603 and an error line in memd's log.
@Suite(.serialized) struct ForgedHelperTests {
    @Test(arguments: [
        #"{"event":"point","phase":"beforeWrite","touchedBytes":0,"childPid":1}"#,
        #"{"event":"point","phase":"beforeWrite","touchedBytes":0,"childPid":99999999999}"#,
        #"{"event":"point","phase":"touched","touchedBytes":1e300}"#,
        "LONG",
    ])
    func forgedLineEndsTheExperiment(_ line: String) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "memd-forged-\(getpid())-\(line.count)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let helper = directory.appendingPathComponent("memlab").path
        let body = line == "LONG" ? "head -c 70000 /dev/zero | tr '\\0' a; echo" : "printf '%s\\n' '\(line)'"
        try "#!/bin/sh\n\(body)\nread x\n".write(toFile: helper, atomically: true, encoding: .utf8)
        chmod(helper, 0o755)
        let memd = try MemdHarness(["--helper", helper])
        let client = try memd.client()
        expectError(
            client,
            "runExperiment",
            ["name": "cow", "sizeBytes": .int(1 << 20)],
            code: -32603,
            kind: "internal"
        )
        #expect(try client.call("meminfo")["source"] == "proc", "memd lives on")
        memd.stop()
        let log = String(decoding: memd.stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(log.contains("untrusted"), "memd's log: \(log)")
    }
}

/// The socket: root's default /run/memd.sock, a client's fallback to it, and an
/// impostor (a server that is neither root nor the client) refused.
@Suite(.serialized) struct SocketTrustTests {
    /// A listener run as uid 65534 that answers every request with a plausible result.
    static let impostorScript = #"""
        import json, socket, sys
        s = socket.socket(socket.AF_UNIX)
        s.bind(sys.argv[1])
        s.listen(8)
        print("ready", flush=True)
        while True:
            c, _ = s.accept()
            f = c.makefile("rwb")
            for line in f:
                m = json.loads(line)
                f.write((json.dumps({"jsonrpc": "2.0", "id": m.get("id"), "result": {"source": "proc"}}) + "\n").encode())
                f.flush()
        """#

    @Test func pathsForRootAndOthers() {
        let none: (String) -> String? = { _ in nil }
        #expect(SocketPath.candidates(explicit: nil, environment: none, uid: 0) == ["/run/memd.sock"])
        #expect(
            SocketPath.candidates(explicit: nil, environment: none, uid: 1000) == [
                "/tmp/memd-1000.sock", "/run/memd.sock",
            ]
        )
        let xdg: (String) -> String? = { $0 == "XDG_RUNTIME_DIR" ? "/run/user/1000" : nil }
        #expect(
            SocketPath.candidates(explicit: nil, environment: xdg, uid: 1000) == [
                "/run/user/1000/memd.sock", "/run/memd.sock",
            ]
        )
        let named: (String) -> String? = { $0 == "MEMD_SOCKET" ? "/x/m.sock" : nil }
        #expect(SocketPath.candidates(explicit: nil, environment: named, uid: 1000) == ["/x/m.sock"])
        #expect(SocketPath.candidates(explicit: "/y.sock", environment: xdg, uid: 0) == ["/y.sock"])
    }

    @Test func impostorIsRefusedAndItsSocketNotReplaced() throws {
        guard getuid() == 0 else { return }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("memd-impostor-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        chown(directory.path, 65534, 65534)
        let path = directory.appendingPathComponent("memd.sock").path
        let impostor = Process()
        impostor.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        impostor.arguments = [
            "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", Self.impostorScript, path,
        ]
        let output = Pipe()
        impostor.standardOutput = output
        try impostor.run()
        _ = output.fileHandleForReading.availableData  // "ready"
        let memctl = productsDirectory.appendingPathComponent("memctl").path
        let refused = try run(memctl, ["--socket", path, "call", "meminfo"])
        #expect(refused.status == 3)
        #expect(refused.err.contains("the server at \(path) runs as uid 65534, not root or you"), "\(refused.err)")
        #expect(throws: MemdClient.Failure.self) { _ = try MemdClient(path: path) }
        kill(impostor.processIdentifier, SIGKILL)
        impostor.waitUntilExit()
        // The impostor's socket is stale now, but not memd's to replace.
        let memd = try run(productsDirectory.appendingPathComponent("memd").path, ["--socket", path])
        #expect(memd.status != 0)
        #expect(memd.err.contains("owned by uid 65534"), "\(memd.err)")
        var info = stat()
        #expect(lstat(path, &info) == 0 && info.st_uid == 65534, "the file is left alone")
    }

    @Test func rootListensOnRunMemdSockAndOthersFallBackToIt() throws {
        guard getuid() == 0, !SocketPath.isSocket(SocketPath.system), !SocketPath.isSocket("/tmp/memd-65534.sock")
        else { return }
        var environment = ProcessInfo.processInfo.environment
        environment["MEMD_SOCKET"] = nil
        environment["XDG_RUNTIME_DIR"] = nil
        let memd = Process()
        memd.executableURL = productsDirectory.appendingPathComponent("memd")
        memd.arguments = ["--socket-mode", "0666", "--log-level", "warning"]
        memd.environment = environment
        try memd.run()
        defer {
            kill(memd.processIdentifier, SIGTERM)
            memd.waitUntilExit()
        }
        for _ in 0..<200 where !SocketPath.isSocket(SocketPath.system) { usleep(20_000) }
        #expect(SocketPath.isSocket(SocketPath.system))
        let memctl = productsDirectory.appendingPathComponent("memctl").path
        let asRoot = try run(memctl, ["call", "meminfo"], environment: environment)
        #expect(asRoot.status == 0, "\(asRoot.err)")
        let asNobody = try run(
            "setpriv",
            ["--reuid=65534", "--regid=65534", "--clear-groups", memctl, "call", "meminfo"],
            environment: environment
        )
        #expect(asNobody.status == 0, "\(asNobody.err)")
        #expect(asNobody.out.contains("\"source\""))
    }
}

/// Leftovers: at start memd removes `memd.<pid>.*` entries of a dead memd, keeps a live one's.
@Suite(.serialized) struct LeftoverTests {
    /// A pid that is no process now: a child that has exited and been reaped.
    func deadPid() throws -> Int32 {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        return child.processIdentifier
    }

    @Test func deadMemdsLeftoversAreSweptLiveOnesKept() throws {
        guard getuid() == 0 else { return }
        let live = try MemdHarness()  // a running memd whose entries must stay
        let livePid = live.process.processIdentifier
        let dead = try deadPid()
        let fm = FileManager.default
        let tmp = fm.temporaryDirectory.appendingPathComponent("memd-sweep-\(getpid())").path
        try fm.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: tmp) }
        // Outside the leftovers: a file a symlink inside them points at, which must survive.
        let victim = tmp + "/victim"
        try "keep".write(toFile: victim, atomically: false, encoding: .utf8)
        try fm.createDirectory(atPath: "\(tmp)/memd.\(dead).abc/sub", withIntermediateDirectories: true)
        try "x".write(toFile: "\(tmp)/memd.\(dead).abc/filemap-1", atomically: false, encoding: .utf8)
        try fm.createSymbolicLink(atPath: "\(tmp)/memd.\(dead).abc/sub/link", withDestinationPath: victim)
        try "x".write(toFile: "\(tmp)/memd.\(dead).file", atomically: false, encoding: .utf8)
        try fm.createSymbolicLink(atPath: "\(tmp)/memd.\(dead).dirlink", withDestinationPath: tmp + "/target")
        try fm.createDirectory(atPath: tmp + "/target", withIntermediateDirectories: true)
        try "x".write(toFile: tmp + "/target/inside", atomically: false, encoding: .utf8)
        try fm.createDirectory(atPath: "\(tmp)/memd.\(livePid).keep", withIntermediateDirectories: true)
        let sleeper = Process()  // a running process that is not memd
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["30"]
        try sleeper.run()
        defer {
            kill(sleeper.processIdentifier, SIGKILL)
            sleeper.waitUntilExit()
        }
        try "x".write(toFile: "\(tmp)/memd.\(sleeper.processIdentifier).notmemd", atomically: false, encoding: .utf8)
        try "x".write(toFile: tmp + "/memd.notapid.x", atomically: false, encoding: .utf8)
        try "x".write(toFile: tmp + "/other.txt", atomically: false, encoding: .utf8)
        // Cgroups where memd makes them (v1: the memory hierarchy's top).
        let cgroupTop = "/sys/fs/cgroup/memory"
        let cgroups =
            fm.fileExists(atPath: cgroupTop + "/cgroup.procs")
            && mkdir("\(cgroupTop)/memd.\(dead).oom-1", 0o755) == 0
            && mkdir("\(cgroupTop)/memd.\(livePid).oom-1", 0o755) == 0
        defer {
            rmdir("\(cgroupTop)/memd.\(dead).oom-1")
            rmdir("\(cgroupTop)/memd.\(livePid).oom-1")
        }

        let memd = Process()
        memd.executableURL = productsDirectory.appendingPathComponent("memd")
        let socket = tmp + "/memd.sock.d"
        try fm.createDirectory(atPath: socket, withIntermediateDirectories: true)
        memd.arguments = ["--socket", socket + "/s", "--log-level", "warning"]
        var environment = ProcessInfo.processInfo.environment
        environment["TMPDIR"] = tmp
        memd.environment = environment
        memd.standardError = FileHandle.nullDevice
        try memd.run()
        defer {
            kill(memd.processIdentifier, SIGTERM)
            memd.waitUntilExit()
        }
        for _ in 0..<200 where (try? MemdClient(path: socket + "/s")) == nil { usleep(20_000) }

        let left = Set(try fm.contentsOfDirectory(atPath: tmp))
        #expect(!left.contains("memd.\(dead).abc") && !left.contains("memd.\(dead).file"))
        #expect(!left.contains("memd.\(dead).dirlink"), "a symlink is removed, not followed")
        #expect(!left.contains("memd.\(sleeper.processIdentifier).notmemd"), "a running process that is not memd")
        #expect(left.isSuperset(of: ["memd.\(livePid).keep", "memd.notapid.x", "other.txt", "victim", "target"]))
        #expect(
            fm.fileExists(atPath: tmp + "/target/inside")
                && (try? String(contentsOfFile: victim, encoding: .utf8)) == "keep"
        )
        if cgroups {
            #expect(!fm.fileExists(atPath: "\(cgroupTop)/memd.\(dead).oom-1"))
            #expect(fm.fileExists(atPath: "\(cgroupTop)/memd.\(livePid).oom-1"))
        }
        live.stop()
    }
}

/// memd run as root with supplementary groups 4 and 24 (setpriv execs it: same pid).
final class GroupedMemd {
    let directory: String
    let socketPath: String
    let process = Process()

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("memd-groups-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chmod(directory, 0o755)
        socketPath = directory + "/memd.sock"
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = [
            "--groups=4,24", productsDirectory.appendingPathComponent("memd").path, "--socket", socketPath,
            "--socket-mode", "0666", "--log-level", "warning",
        ]
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<200 where (try? MemdClient(path: socketPath)) == nil { usleep(20_000) }
    }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        process.waitUntilExit()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()  // also once it has ended: that frees the Process (see MemdHarness's deinit)
        try? FileManager.default.removeItem(atPath: directory)
    }
}
