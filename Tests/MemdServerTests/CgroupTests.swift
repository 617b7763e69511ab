import Foundation
import JSONRPC
import MemdProtocol
import Testing

/// `cgroups` and the `cgroup` param: v2 from a fixture tree made from the kernel's
/// cgroup-v2 documentation (`memd --cgroup-root`), v1 live in this host's memory
/// hierarchy, with cgroups, limits, helpers and a real OOM kill.
@Suite(.serialized) struct CgroupTests {
    /// Tests/ProcFSTests/Fixtures/cgroup2, from the source tree.
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ProcFSTests/Fixtures/cgroup2").path

    func file(_ path: String) throws -> String {
        try readProc(path).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A flat keyed file (memory.stat, memory.events, memory.oom_control) read by the test.
    func keyed(_ path: String) throws -> [String: Int] {
        var values: [String: Int] = [:]
        for line in try readProc(path).split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count == 2 { values[String(f[0])] = Int(f[1]) }
        }
        return values
    }

    @Test func v2TreeFromTheFixture() throws {
        let memd = try MemdHarness(["--cgroup-root", Self.fixture])
        let client = try memd.client()
        let result = try call(client, "cgroups")
        #expect(result["version"] == .int(2))
        #expect(result["root"] == .string(Self.fixture))
        let groups = try #require(result["groups"]?.arrayValue)
        #expect(
            groups.compactMap { $0["path"]?.stringValue } == [
                "/", "/system.slice", "/system.slice/sshd.service", "/workload.slice", "/workload.slice/batch.scope",
            ]
        )
        let root = groups[0]
        for field in ["current", "max", "high", "peak", "workingSet", "events"] {
            #expect(root[field] == .null, "the v2 root has no \(field)")
        }
        for group in groups.dropFirst() {
            let dir = Self.fixture + (group["path"]?.stringValue ?? "")
            let current = Int(try file(dir + "/memory.current"))!
            #expect(group["current"] == .int(current))
            let max = try file(dir + "/memory.max")
            #expect(group["max"] == (max == "max" ? .null : .int(Int(max)!)))
            let high = try file(dir + "/memory.high")
            #expect(group["high"] == (high == "max" ? .null : .int(Int(high)!)))
            let peak = (try? file(dir + "/memory.peak")).flatMap { Int($0) }
            #expect(group["peak"] == (peak.map(JSON.int) ?? .null))
            let inactive = try keyed(dir + "/memory.stat")["inactive_file"]!
            #expect(group["workingSet"] == .int(Swift.max(0, current - inactive)), "kubelet's working set")
            let events = try keyed(dir + "/memory.events")
            #expect(group["events"]?["oomKill"] == .int(events["oom_kill"]!))
            #expect(group["events"]?["max"] == .int(events["max"]!))
            let procs = try readProc(dir + "/cgroup.procs").split(separator: "\n").count
            #expect(group["processes"] == .int(procs))
            let some = try readProc(dir + "/memory.pressure").split(separator: "\n")[0].split(separator: " ")
            #expect(Format.double(group["pressure"]?["some"]?["avg10"]) == Double(some[1].dropFirst(6))!)
            #expect(group["pressure"]?["some"]?["totalUs"] == .int(Int(some[4].dropFirst(6))!))
        }
        let withStat = try call(client, "cgroups", ["path": "/workload.slice", "depth": 0, "stat": true])
        let only = try #require(withStat["groups"]?.arrayValue)
        #expect(only.count == 1)
        let stat = try #require(only.first?["stat"]?.objectValue)
        let expected = try keyed(Self.fixture + "/workload.slice/memory.stat")
        #expect(Set(stat.keys) == Set(expected.keys))
        #expect(stat.members.allSatisfy { expected[$0.key] == $0.value.intValue })
        #expect(try call(client, "cgroups", ["depth": 1])["groups"]?.arrayValue?.count == 3)

        let info = try call(client, "meminfo", ["cgroup": "/workload.slice"])
        #expect(info["cgroup"]?["path"] == "/workload.slice")
        #expect(info["cgroup"]?["current"] == only[0]["current"])
        #expect(info["total"] != nil)

        for (method, params, param) in [
            ("cgroups", ["path": "/nope"], "path"), ("cgroups", ["path": "/system.slice/../.."], "path"),
            ("cgroups", ["path": "system.slice"], "path"), ("cgroups", ["path": "/../etc"], "path"),
            ("cgroups", ["path": "/memory.stat"], "path"), ("cgroups", ["depth": -1], "depth"),
            ("meminfo", ["cgroup": "/nope"], "cgroup"), ("meminfo", ["cgroup": "/a/.."], "cgroup"),
            ("pageStats", ["cgroup": "/"], "cgroup"), ("pageStats", ["all": true, "cgroup": "/x/../.."], "cgroup"),
        ] as [(String, JSONObject, String)] {
            expectInvalidParam(client, method, params, param)
        }

        // memctl cgroups: the same tree, indented, one line per cgroup.
        let memctl = productsDirectory.appendingPathComponent("memctl").path
        let tree = try run(memctl, ["cgroups", "--socket", memd.socketPath, "--bytes"])
        #expect(tree.status == 0, "\(tree.err)")
        let lines = tree.out.split(separator: "\n")
        #expect(lines.count == 2 + groups.count, "\(tree.out)")
        #expect(
            lines.dropFirst(2).map { String($0.drop { $0 == " " }.prefix { $0 != " " }) }
                == ["/", "system.slice", "sshd.service", "workload.slice", "batch.scope"]
        )
        #expect(lines[3].hasPrefix("  system.slice ") && lines[4].hasPrefix("    sshd.service "))
        let workload = lines[5].split(separator: " ")
        let workloadGroup = groups[3]
        #expect(
            workload == [
                "workload.slice", "\(Format.int(workloadGroup["current"]))", "\(Format.int(workloadGroup["max"]))",
                "\(Format.int(workloadGroup["peak"]))", "\(Format.int(workloadGroup["workingSet"]))", "3", "1.52", "0",
            ]
        )
        #expect(lines[3].split(separator: " ")[2] == "-", "no limit: -")
        memd.stop()
    }

    /// Expects -32602 naming `param`.
    func expectInvalidParam(_ client: MemdClient, _ method: String, _ params: JSONObject, _ param: String) {
        let outcome: Result<JSON, MemdClient.Failure> = Result { () throws(MemdClient.Failure) in
            try client.call(method, params)
        }
        guard case .failure(.server(let error)) = outcome else {
            Issue.record("\(method) \(params): \(outcome)")
            return
        }
        #expect(error.code.rawValue == -32602, "\(method) \(params)")
        #expect(error.data["param"] == .string(param), "\(method) \(params): \(error)")
    }

    @Test func memdRefusesARootThatIsNotACgroupTree() throws {
        let memd = productsDirectory.appendingPathComponent("memd").path
        let dir = NSTemporaryDirectory() + "memd-cg-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var roots = [dir, dir + "/missing"]
        // A cgroup2 mount without the memory controller (this host's /sys/fs/cgroup/unified).
        for line in try readProc("/proc/self/mountinfo").split(separator: "\n") where line.contains(" - cgroup2 ") {
            let mountPoint = String(line.split(separator: " ")[4])
            let controllers = (try? readProc(mountPoint + "/cgroup.controllers")) ?? ""
            if !controllers.contains("memory") { roots.append(mountPoint) }
        }
        for root in roots {
            let refused = try run(memd, ["--socket", dir + "/s", "--cgroup-root", root])
            #expect(refused.status != 0, "memd started with --cgroup-root \(root)")
            #expect(refused.err.contains("--cgroup-root") && refused.err.contains(root), "\(refused.err)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/s"))
        }
    }

    @Test func v1LiveWithLimitsHelpersAndAnOOMKill() throws {
        guard getuid() == 0, let mount = Self.v1MemoryMount() else { return }
        let name = "memdtest-\(getpid())-\(UInt32.random(in: 0...999_999))"
        let top = mount + "/" + name
        try Self.make(top, limit: 256 << 20)
        defer { rmdir(top) }
        try Self.make(top + "/held", limit: 128 << 20)
        defer { rmdir(top + "/held") }
        try Self.make(top + "/oom", limit: 32 << 20)
        defer { rmdir(top + "/oom") }

        let held = try CgroupHelper(cgroup: top + "/held", bytes: 24 << 20)
        defer { held.stop() }
        let doomed = try CgroupHelper(cgroup: top + "/oom", bytes: 256 << 20)
        defer { doomed.stop() }
        doomed.process.waitUntilExit()
        #expect(
            doomed.process.terminationReason == .uncaughtSignal && doomed.process.terminationStatus == SIGKILL,
            "the helper over its cgroup's limit is OOM-killed"
        )

        let memd = try MemdHarness()
        let client = try memd.client()
        let usageBefore = Int(try file(top + "/held/memory.usage_in_bytes"))!
        let result = try call(client, "cgroups", ["path": .string("/" + name)])
        let usageAfter = Int(try file(top + "/held/memory.usage_in_bytes"))!
        #expect(result["version"] == .int(1) && result["root"] == .string(mount))
        let groups = try #require(result["groups"]?.arrayValue)
        #expect(groups.compactMap { $0["path"]?.stringValue } == ["/\(name)", "/\(name)/held", "/\(name)/oom"])
        let (topGroup, heldGroup, oomGroup) = (groups[0], groups[1], groups[2])
        #expect(topGroup["max"] == .int(Int(try file(top + "/memory.limit_in_bytes"))!))
        #expect(heldGroup["max"] == .int(128 << 20))
        #expect(heldGroup["high"] == .null && heldGroup["pressure"] == .null)
        let current = Format.int(heldGroup["current"])
        #expect(current >= Swift.min(usageBefore, usageAfter) && current <= Swift.max(usageBefore, usageAfter))
        #expect(current >= 24 << 20, "the helper's 24 MiB are charged to its cgroup")
        #expect(Format.int(heldGroup["peak"]) >= current)
        let inactive = try keyed(top + "/held/memory.stat")["total_inactive_file"]!
        #expect(abs(Format.int(heldGroup["workingSet"]) - Swift.max(0, current - inactive)) <= 1 << 20)
        #expect(heldGroup["processes"] == .int(1))
        if FileManager.default.fileExists(atPath: top + "/held/memory.memsw.usage_in_bytes") {
            let memsw = Int(try file(top + "/held/memory.memsw.usage_in_bytes"))!
            #expect(abs(Format.int(heldGroup["swapCurrent"]) - (memsw - current)) <= 1 << 20)
        }
        let oomControl = try keyed(top + "/oom/memory.oom_control")
        #expect(oomGroup["events"]?["oomKill"] == .int(oomControl["oom_kill"]!))
        #expect(Format.int(oomGroup["events"]?["oomKill"]) >= 1, "the OOM kill is counted")
        #expect(oomGroup["events"]?["underOom"] == .bool(false))
        #expect(heldGroup["events"]?["oomKill"] == .int(0))
        #expect(oomGroup["processes"] == .int(0))
        // The root: no limit, so max is null.
        let root = try #require(try call(client, "cgroups", ["depth": 0])["groups"]?.arrayValue?.first)
        #expect(root["path"] == "/" && root["max"] == .null)

        // pageStats all in a cgroup: the subtree's processes, nobody else.
        let stats = try call(client, "pageStats", ["all": true, "cgroup": .string("/" + name)])
        #expect(stats["processes"]?.arrayValue?.compactMap { $0["pid"] } == [.int(Int(held.process.processIdentifier))])
        let info = try call(client, "meminfo", ["cgroup": .string("/\(name)/held")])
        #expect(info["cgroup"]?["max"] == .int(128 << 20))
        // usage by cgroup: the helper's row carries its cgroup path.
        let usage = try call(client, "usage", ["pids": [.int(Int(held.process.processIdentifier))], "by": "cgroup"])
        #expect(usage["rows"]?.arrayValue?.first?["cgroup"] == .string("/\(name)/held"))
        memd.stop()
    }

    /// The v1 memory hierarchy's mount point, from /proc/self/mountinfo.
    static func v1MemoryMount() -> String? {
        guard let text = try? readProc("/proc/self/mountinfo") else { return nil }
        for line in text.split(separator: "\n") where line.contains(" - cgroup ") {
            let fields = line.split(separator: " ")
            if fields.last?.split(separator: ",").contains("memory") == true { return String(fields[4]) }
        }
        return nil
    }

    /// mkdir + memory.limit_in_bytes (+ memsw, so that no swap hides the OOM).
    static func make(_ dir: String, limit: Int) throws {
        guard mkdir(dir, 0o755) == 0 else { throw HarnessError.commandFailed("mkdir \(dir): errno \(errno)") }
        try String(limit).write(toFile: dir + "/memory.limit_in_bytes", atomically: false, encoding: .utf8)
        try? String(limit).write(toFile: dir + "/memory.memsw.limit_in_bytes", atomically: false, encoding: .utf8)
    }
}

/// A python3 process that moves itself into a cgroup, then writes `bytes` of memory.
final class CgroupHelper {
    let process = Process()
    let input = Pipe()

    init(cgroup: String, bytes: Int) throws {
        let script = """
            import os, sys
            open(sys.argv[1] + "/cgroup.procs", "w").write(str(os.getpid()))
            block = b"x" * int(sys.argv[2])
            sys.stdout.write("ready\\n"); sys.stdout.flush()
            sys.stdin.read()
            """
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, cgroup, String(bytes)]
        let output = Pipe()
        process.standardOutput = output
        process.standardInput = input
        try process.run()
        _ = output.fileHandleForReading.availableDataLine()  // "ready", or EOF when killed
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()  // also once it has ended: that frees the Process (see MemdHarness's deinit)
    }
}
