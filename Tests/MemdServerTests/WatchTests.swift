import Foundation
import JSONRPC
import MemdProtocol
import TestSupport
import Testing

/// `meminfo.pressure`: /proc/pressure/memory as the kernel prints it.
@Suite(.serialized) struct PressureInMeminfoTests {
    /// The `some`/`full` lines of /proc/pressure/memory, read by the test itself.
    static func kernelPressure() -> [String: [String: Double]]? {
        guard let text = try? readProc("/proc/pressure/memory"), !text.isEmpty else { return nil }
        var lines: [String: [String: Double]] = [:]
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ")
            var fields: [String: Double] = [:]
            for word in words.dropFirst() {
                let pair = word.split(separator: "=")
                fields[String(pair[0])] = Double(pair[1])
            }
            lines[String(words[0])] = fields
        }
        return lines
    }

    @Test func pressureIsTheKernels() throws {
        let memd = try MemdHarness()
        defer { memd.stop() }
        let client = try memd.client()
        let before = Self.kernelPressure()
        let info = try call(client, "meminfo")
        let after = Self.kernelPressure()
        let pressure = try #require(info["pressure"])
        guard let before, let after else {
            #expect(pressure == .null, "no PSI on this host, so pressure must be null")
            return
        }
        for kind in ["some", "full"] {
            let line = try #require(pressure[kind]?.objectValue, "\(kind)")
            let total = Format.int(line["totalUs"])
            #expect(Double(total) >= before[kind]!["total"]! && Double(total) <= after[kind]!["total"]!)
            for avg in ["avg10", "avg60", "avg300"] {
                let value = Format.double(line[avg])
                let (a, b) = (before[kind]![avg]!, after[kind]![avg]!)
                #expect(value >= min(a, b) && value <= max(a, b), "\(kind).\(avg) \(value) not in \(a)…\(b)")
            }
        }
    }
}

/// The tree helper (Tests/Helpers/watchkids.py): forks children that touch known amounts.
final class Kids {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Helpers/watchkids.py").path

    let process = Process()
    let input = Pipe()
    let output = Pipe()

    init(_ arguments: [String]) throws {
        // The interpreter itself (a pyenv shim would be a shell with children of its own).
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [Kids.script] + arguments
        process.standardInput = input
        process.standardOutput = output
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    /// Lets a `--gate`d helper start forking.
    func go() { input.fileHandleForWriting.write(Data("go\n".utf8)) }

    /// What the children reported: pid → (MiB, VmHWM, VmRSS held); and pids killed by a signal.
    func finish() -> (children: [Int: (mib: Int, hwm: Int, held: Int)], killed: [Int]) {
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        var children: [Int: (mib: Int, hwm: Int, held: Int)] = [:]
        var killed: [Int] = []
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ").map(String.init)
            if words.first == "child", words.count >= 5 {
                children[Int(words[1])!] = (Int(words[2])!, Int(words[3])!, Int(words[4])!)
            }
            if words.first == "killed" { killed.append(Int(words[1])!) }
        }
        return (children, killed)
    }

    deinit {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()  // frees the Process (MemdHarness's deinit says why)
    }
}

/// A watch run to its end: the samples (checked against openrpc.json as they come) and the summary.
func watch(
    _ client: MemdClient,
    _ params: JSONObject,
    onSample: (Int, JSON) -> Void = { _, _ in }
) throws
    -> (samples: [JSON], summary: JSON)
{
    var samples: [JSON] = []
    let validator = SchemaValidator(document: openRPC)
    let summary = try client.call("watch", params) { method, sample in
        guard method == "watch.sample" else { return }
        let problems = validator.validate(sample, ["$ref": "#/components/schemas/WatchSample"], path: "sample")
        #expect(problems.isEmpty, "watch.sample does not match openrpc.json: \(problems.prefix(5))")
        samples.append(sample)
        onSample(samples.count - 1, sample)
    }
    let problems = validator.validateResult(of: "watch", summary)
    #expect(problems.isEmpty, "watch summary does not match openrpc.json: \(problems.prefix(5))")
    return (samples, summary)
}

/// `watch`: samples, events and the summary's peaks, against the kernel's own figures.
@Suite(.serialized) struct WatchTests {
    @Test func followsATreeWhoseChildrenComeAndGo() throws {
        let memd = try MemdHarness()
        defer { memd.stop() }
        let client = try memd.client()
        let kids = try Kids(["--gate", "--hold", "0.6", "24", "48", "16"])
        let (samples, summary) = try watch(
            client,
            ["pids": [.int(Int(kids.pid))], "children": true, "untilExit": true, "intervalMs": 100, "pss": true]
        ) { index, _ in if index == 0 { kids.go() } }
        let (children, _) = kids.finish()
        #expect(children.count == 3)

        // The stream: seq from 0 without holes, time moving on, rates from the second sample on.
        #expect(samples.map { Format.int($0["seq"]) } == Array(0..<samples.count))
        #expect(samples.first?["rates"] == .null && samples.dropFirst().allSatisfy { $0["rates"] != .null })
        let elapsed = samples.map { Format.int($0["elapsedMs"]) }
        #expect(elapsed == elapsed.sorted() && Set(elapsed).count == elapsed.count)
        // Deadlines: each sample was sent within its own interval, one interval per tick at most.
        let ticks = elapsed.map { $0 / 100 }
        #expect(Set(ticks).count == ticks.count, "two samples in one interval: \(elapsed)")

        // Events: each child spawned (parent: the helper) and exited, the helper exited last.
        let events = samples.flatMap { $0["events"]?.arrayValue ?? [] }
        let spawned = events.filter { $0["kind"] == "spawn" }
        #expect(Set(spawned.map { Format.int($0["pid"]) }) == Set(children.keys))
        #expect(spawned.allSatisfy { Format.int($0["ppid"]) == Int(kids.pid) })
        let exited = events.filter { $0["kind"] == "exit" }.map { Format.int($0["pid"]) }
        #expect(Set(exited) == Set(children.keys).union([Int(kids.pid)]))
        #expect(samples.last?["events"]?.arrayValue?.contains(["kind": "exit", "pid": .int(Int(kids.pid))]) == true)

        // The summary: every child's peak lies between the rss it held for 0.6 s (sampled every
        // 0.1 s, so seen) and its own VmHWM; at least what it touched.
        #expect(summary["endedBy"] == "untilExit")
        #expect(Format.int(summary["samples"]) == samples.count)
        let peaks = try #require(summary["peaks"]?["processes"]?.arrayValue)
        for (pid, child) in children {
            let peak = try #require(peaks.first { Format.int($0["pid"]) == pid }, "no peak for child \(pid)")
            let rssMax = Format.int(peak["rssMax"])
            #expect(
                rssMax >= child.mib << 20 && rssMax >= child.held && rssMax <= child.hwm,
                "child \(pid) touched \(child.mib) MiB: rssMax \(rssMax), held \(child.held), VmHWM \(child.hwm)"
            )
            #expect(Format.int(peak["pssMax"]) >= child.mib << 20)
            #expect(Format.int(peak["minflt"]) > 0 && peak["exitedAtMs"] != .null)
            #expect(Format.int(peak["ppid"]) == Int(kids.pid))
            // The sample where rss was highest says the same.
            let at = Format.int(peak["rssMaxAtMs"])
            let row = samples.first { Format.int($0["elapsedMs"]) == at }?["processes"]?.arrayValue?
                .first { Format.int($0["pid"]) == pid }
            #expect(Format.int(row?["rss"]) == rssMax)
        }
        let largest = children.values.map(\.mib).max()! << 20
        #expect(Format.int(summary["peaks"]?["treeRssMax"]) >= largest)
        #expect(Format.int(summary["peaks"]?["treePssMax"]) >= largest)
        // The system figures: the lowest available memory any sample saw.
        let available = samples.compactMap { $0["meminfo"]?["available"]?.intValue }
        #expect(Format.int(summary["peaks"]?["availableMin"]) == available.min())
    }

    /// The pids allocated between two samples are threads' too: a followed child's threads (whose
    /// stat names the child's parent as theirs) are neither spawned nor followed.
    @Test func threadsOfAFollowedChildAreNotItsSiblings() throws {
        let memd = try MemdHarness()
        defer { memd.stop() }
        let client = try memd.client()
        let child = #"""
            import threading, time
            threads = [threading.Thread(target=time.sleep, args=(3,), daemon=True) for _ in range(4)]
            for t in threads: t.start()
            print(" ".join(str(t.native_id) for t in threads), flush=True)
            time.sleep(2)
            """#
        let script = """
            import subprocess, sys
            sys.stdin.readline()
            child = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdout=subprocess.PIPE, text=True)
            print(child.pid, child.stdout.readline().strip(), flush=True)
            child.wait()
            """
        let parent = Process()
        parent.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        parent.arguments = ["-c", script, child]
        let input = Pipe()
        let output = Pipe()
        parent.standardInput = input
        parent.standardOutput = output
        try parent.run()
        defer {
            if parent.isRunning { kill(parent.processIdentifier, SIGKILL) }
            parent.waitUntilExit()
        }
        let (samples, _) = try watch(
            client,
            ["pids": [.int(Int(parent.processIdentifier))], "children": true, "count": 15, "intervalMs": 100]
        ) { index, _ in if index == 0 { input.fileHandleForWriting.write(Data("go\n".utf8)) } }
        let line = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
        let ids = line.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int($0) }
        try #require(ids.count == 5, "the helper said \(line)")
        let followed = Set(samples.flatMap { $0["processes"]?.arrayValue ?? [] }.map { Format.int($0["pid"]) })
        #expect(followed == [Int(parent.processIdentifier), ids[0]], "threads \(ids.dropFirst())")
        let spawned = samples.flatMap { $0["events"]?.arrayValue ?? [] }.filter { $0["kind"] == "spawn" }
        #expect(spawned.map { Format.int($0["pid"]) } == [ids[0]])
    }

    /// Four watches of one tree at once keep one stat and one statm open per process, not four
    /// (KeptHandles), each watch still reading the kernel's figures; closed when the last ends.
    @Test func watchesOfOneTreeShareTheirDescriptors() throws {
        let memd = try MemdHarness()
        defer { memd.stop() }
        let client = try memd.client()
        let tree = Process()
        tree.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        tree.arguments = [
            "-c",
            "import os, sys, time\nfor _ in range(8):\n    if os.fork() == 0:\n        time.sleep(60); os._exit(0)\n"
                + "print('ready', flush=True)\nsys.stdin.read()\n",
        ]
        let (input, output) = (Pipe(), Pipe())
        (tree.standardInput, tree.standardOutput) = (input, output)
        try tree.run()
        defer {
            try? input.fileHandleForWriting.close()
            tree.waitUntilExit()
        }
        _ = output.fileHandleForReading.availableDataLine()
        let children = try readProc("/proc/\(tree.processIdentifier)/task/\(tree.processIdentifier)/children")
            .split(separator: " ").compactMap { Int($0) }
        defer { for child in children { kill(Int32(child), SIGKILL) } }
        try #require(children.count == 8)
        let pids = Set(children + [Int(tree.processIdentifier)])
        /// memd's descriptors open on /proc/PID/stat of the tree's processes.
        func keptStats() -> [Int] {
            let dir = "/proc/\(memd.process.processIdentifier)/fd"
            return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).compactMap { fd in
                guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: dir + "/" + fd) else {
                    return nil
                }
                let parts = target.split(separator: "/")
                guard parts.count == 3, parts[0] == "proc", parts[2] == "stat", let pid = Int(parts[1]) else {
                    return nil
                }
                return pids.contains(pid) ? pid : nil
            }
        }
        let params = #"{"pids":[\#(tree.processIdentifier)],"children":true,"system":false,"count":8,"intervalMs":100}"#
        for id in 0..<4 {
            try client.send(Array(#"{"jsonrpc":"2.0","id":\#(id),"method":"watch","params":\#(params)}\#n"#.utf8))
        }
        var (results, samples, kept) = (0, 0, [Int]())
        while results < 4 {
            let message = try JSONParser.parse(try client.readLine())
            if message["id"] != nil {
                results += 1
                #expect(message["result"]?["endedBy"] == "count")
            } else if let rows = message["params"]?["processes"]?.arrayValue {
                samples += 1
                #expect(Set(rows.map { Format.int($0["pid"]) }) == pids, "every watch follows the tree")
                // Midway, every watch has read the tree a few times.
                if samples == 16 { kept = keptStats() }
                for row in rows {
                    let pid = Format.int(row["pid"])
                    let statm = try readProc("/proc/\(pid)/statm").split(separator: " ")
                    #expect(Format.int(row["rss"]) == Int(statm[1])! * Int(getpagesize()), "pid \(pid)")
                }
            }
        }
        #expect(
            kept.sorted() == pids.sorted(),
            "one stat per process, whatever the number of watches: \(kept.sorted())"
        )
        // Closed once the last watch ended (the summary is sent after its descriptors are let go).
        var left = keptStats()
        for _ in 0..<50 where !left.isEmpty {
            usleep(20_000)
            left = keptStats()
        }
        #expect(left.isEmpty)
    }

    @Test func endsByCountAndByDuration() throws {
        let memd = try MemdHarness()
        defer { memd.stop() }
        let client = try memd.client()
        let counted = try watch(client, ["intervalMs": 100, "count": 3])
        #expect(counted.summary["endedBy"] == "count" && counted.samples.count <= 3 && !counted.samples.isEmpty)
        #expect(counted.samples.allSatisfy { $0["processes"] == [] && $0["meminfo"]?["raw"] == nil })
        // Each sample's meminfo is the meminfo method's figures (total never moves).
        let total = try call(client, "meminfo")["total"]
        #expect(counted.samples.allSatisfy { $0["meminfo"]?["total"] == total })
        let timed = try watch(client, ["intervalMs": 100, "durationMs": 450])
        #expect(timed.summary["endedBy"] == "duration" && Format.int(timed.summary["durationMs"]) >= 450)
        #expect(!timed.samples.isEmpty && timed.samples.count <= 5)
        // system: false — no system figures, only what was asked.
        let bare = try watch(client, ["system": false, "pids": [.int(Int(getpid()))], "count": 2, "intervalMs": 100])
        #expect(bare.samples.allSatisfy { $0["meminfo"] == nil && $0["processes"]?.arrayValue?.count == 1 })
        #expect(bare.summary["peaks"]?["systemUsed"] == .null)
    }

    @Test func stopEndsItWithTheSummaryAndCancelWithTimeout() throws {
        let memd = try MemdHarness()
        defer { memd.stop() }
        let client = try memd.client()
        // watch.stop from within the stream (same connection): the summary says "stop".
        let stopped = try watch(client, ["intervalMs": 100]) { index, sample in
            if index == 1 {
                let stop =
                    #"{"jsonrpc":"2.0","id":"s","method":"watch.stop","params":{"id":"# + "\(sample["requestId"]!)"
                    + "}}\n"
                try? client.send(Array(stop.utf8))
            }
        }
        #expect(stopped.summary["endedBy"] == "stop" && stopped.samples.count >= 2)
        #expect(try call(client, "watch.stop", ["id": 12345]) == ["stopped": false])
        // $/cancelRequest: -32006, as for any call.
        let other = try memd.client()
        do {
            _ = try other.call("watch", ["intervalMs": 100]) { _, sample in
                let cancel =
                    #"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":"# + "\(sample["requestId"]!)" + "}}\n"
                try? other.send(Array(cancel.utf8))
            }
            Issue.record("a cancelled watch answered with a result")
        } catch MemdClient.Failure.server(let error) {
            #expect(error.code.rawValue == -32006 && error.kind == "timeout")
        }
        // The connection is still good afterwards.
        #expect(try call(other, "meminfo")["total"] != nil)
    }

    @Test func badParamsAreNamed() throws {
        let memd = try MemdHarness()
        defer { memd.stop() }
        let client = try memd.client()
        let cases: [(JSONObject, String)] = [
            (["intervalMs": 99], "intervalMs"), (["intervalMs": 60_001], "intervalMs"),
            (["intervalMs": "1s"], "intervalMs"),
            (["pids": [0]], "pids"), (["pids": [-4]], "pids"), (["pids": ["1"]], "pids"), (["pids": 1], "pids"),
            (["pids": [.int(Int(Int32.max) + 1)]], "pids"), (["count": 0], "count"), (["durationMs": 0], "durationMs"),
            (["durationMs": .int(Int.max)], "durationMs"), (["untilExit": true], "untilExit"),
            (["children": true], "children"), (["pss": true], "pss"), (["system": 1], "system"), (["pid": 1], "pid"),
        ]
        for (params, param) in cases {
            do {
                _ = try client.call("watch", params)
                Issue.record("watch \(params) answered")
            } catch MemdClient.Failure.server(let error) {
                #expect(error.code.rawValue == -32602 && error.data["param"] == .string(param), "\(params): \(error)")
            }
        }
        expectError(client, "watch.stop", [:], code: -32602, kind: "invalidParams")
        expectError(client, "watch.stop", ["id": [1]], code: -32602, kind: "invalidParams")
        // A process that does not exist.
        expectError(client, "watch", ["pids": [.int(Int(Int32.max))]], code: -32001, kind: "processNotFound")
    }

    /// As nobody: another user's process is refused (the maps rule), and 16 watches at once is the limit.
    @Test func accessAndThePerUIDLimit() throws {
        let memd = try MemdHarness(["--socket-mode", "0666"])
        defer { memd.stop() }
        let script = """
            import json, socket, sys
            s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile('rwb')
            def send(o): f.write((json.dumps(o) + "\\n").encode()); f.flush()
            send({"jsonrpc": "2.0", "id": "root", "method": "watch", "params": {"pids": [1]}})
            answers = {}
            # Its answer first: pipelined calls run at once, and a watch counts against the limit
            # from before its access check (under TSan the 17 below got there first: 'root' was the 17th).
            while "root" not in answers:
                m = json.loads(f.readline())
                if "id" in m: answers[str(m["id"])] = m
            for i in range(17): send({"jsonrpc": "2.0", "id": i, "method": "watch", "params": {"durationMs": 20000}})
            while len(answers) < 2:
                m = json.loads(f.readline())
                if "id" in m: answers[str(m["id"])] = m
                if len(answers) == 2: break
            for i in range(17): send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": i}})
            while len(answers) < 18:
                m = json.loads(f.readline())
                if "id" in m: answers[str(m["id"])] = m
            print(json.dumps(answers))
            """
        let result = try run(
            "setpriv",
            [
                "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", script,
                memd.socketPath,
            ]
        )
        #expect(result.status == 0, "\(result.err)")
        let answers = try #require(try JSONParser.parse(result.out).objectValue)
        #expect(answers["root"]?["error"]?["code"] == -32002)
        let limited = answers.members.filter { $0.value["error"]?["code"] == -32003 }
        #expect(limited.count == 1, "\(answers)")
        #expect(limited.first?.value["error"]?["data"]?["resource"] == "watches")
        #expect(limited.first?.value["error"]?["data"]?["limit"] == 16)
        let cancelled = answers.members.filter { $0.value["error"]?["code"] == -32006 }
        #expect(cancelled.count == 16)
        // Root is not held to it.
        let client = try memd.client()
        for index in 0..<17 {
            let line = #"{"jsonrpc":"2.0","id":\#(index),"method":"watch","params":{"count":2,"intervalMs":100}}\#n"#
            try client.send(Array(line.utf8))
        }
        var results = 0
        while results < 17 {
            let message = try JSONParser.parse(try client.readLine())
            if message["id"] != nil {
                #expect(message["result"]?["endedBy"] == "count")
                results += 1
            }
        }
    }

    /// A client that does not read gets gaps, not a backlog: samples that cannot be sent are
    /// skipped (memd with 64 KiB of unsent output at most; samples of ~150 processes, ~30 KB each).
    @Test func aSlowClientGetsGapsNotABacklog() throws {
        let memd = try MemdHarness(["--max-unsent-bytes", "65536"])
        defer { memd.stop() }
        // A sanitizer's memd takes that many times longer over each sample: it is given that much
        // longer to fill the socket and its 64 KiB.
        let kids = try Kids(["--sleepers", "150", "--hold", "\(Int(Sanitizer.scaled(20.0)))"])
        defer { kill(-kids.pid, SIGKILL) }
        _ = kids.output.fileHandleForReading.availableData  // "ready"
        let client = try memd.client()
        let request =
            #"{"jsonrpc":"2.0","id":1,"method":"watch","params":{"pids":[\#(kids.pid)],"children":true,"#
            + #""intervalMs":100,"durationMs":\#(Int(Sanitizer.scaled(3000.0)))}}\#n"#
        try client.send(Array(request.utf8))
        usleep(useconds_t(Sanitizer.scaled(2_500_000.0)))  // not reading
        var samples: [JSON] = []
        var summary = JSON.null
        while summary == .null {
            let message = try JSONParser.parse(try client.readLine())
            if message["method"] == "watch.sample" { samples.append(message["params"] ?? .null) }
            if message["id"] == 1 { summary = message["result"] ?? .null }
        }
        #expect(samples.allSatisfy { $0["processes"]?.arrayValue?.count == 151 })
        #expect(samples.map { Format.int($0["seq"]) } == Array(0..<samples.count))
        #expect(Format.int(summary["samples"]) == samples.count)
        #expect(Format.int(summary["skipped"]) > 0, "\(summary)")
        let elapsed = samples.map { Format.int($0["elapsedMs"]) }
        #expect(zip(elapsed, elapsed.dropFirst()).contains { $1 - $0 >= 200 }, "no gap in \(elapsed)")
    }

    /// An OOM kill in a small memory cgroup shows as an `oomKill` event (/proc/vmstat oom_kill).
    @Test func oomKillInASmallCgroup() throws {
        guard getuid() == 0, let cgroup = SmallCgroup(limitBytes: 32 << 20) else { return }
        defer { cgroup.remove() }
        let memd = try MemdHarness()
        defer { memd.stop() }
        let client = try memd.client()
        let kids = try Kids(["--gate", "--hold", "0.3", "--cgroup", cgroup.path, "96"])
        let (samples, summary) = try watch(
            client,
            ["pids": [.int(Int(kids.pid))], "children": true, "untilExit": true, "intervalMs": 100]
        ) { index, _ in if index == 0 { kids.go() } }
        let (_, killed) = kids.finish()
        #expect(killed.count == 1, "the child was not OOM-killed")
        let ooms = samples.flatMap { $0["events"]?.arrayValue ?? [] }.filter { $0["kind"] == "oomKill" }
        #expect(!ooms.isEmpty && ooms.allSatisfy { Format.int($0["count"]) >= 1 })
        #expect(Format.int(summary["oomKills"]) >= 1)
        #expect(Format.int(summary["oomKills"]) == ooms.reduce(0) { $0 + Format.int($1["count"]) })
        #expect(cgroup.oomKills() >= 1)
    }
}

/// A memory cgroup for the OOM test, made the way the oom experiment makes one
/// (Sources/Experiments/MemoryCgroup.swift): v1's memory hierarchy (memory and memory+swap
/// limits), or v2's memory.max and memory.swap.max.
struct SmallCgroup {
    let path: String
    let isV2: Bool

    init?(limitBytes: Int) {
        let name = "memd-watchtest-\(getpid())"
        let fm = FileManager.default
        let v1 = "/sys/fs/cgroup/memory"
        if fm.fileExists(atPath: v1 + "/memory.limit_in_bytes") {
            path = v1 + "/" + name
            isV2 = false
        } else if (try? readProc("/sys/fs/cgroup/cgroup.subtree_control"))?.contains("memory") == true {
            path = "/sys/fs/cgroup/" + name
            isV2 = true
        } else {
            return nil
        }
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else { return nil }
        let files =
            isV2 ? ["memory.max", "memory.swap.max"] : ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
        let values = isV2 ? [String(limitBytes), "0"] : [String(limitBytes), String(limitBytes)]
        for (file, value) in zip(files, values) {
            try? value.write(toFile: path + "/" + file, atomically: false, encoding: .utf8)
        }
    }

    func oomKills() -> Int {
        let text = (try? readProc(path + (isV2 ? "/memory.events" : "/memory.oom_control"))) ?? ""
        for line in text.split(separator: "\n") where line.hasPrefix("oom_kill ") {
            return Int(line.split(separator: " ")[1]) ?? 0
        }
        return 0
    }

    func remove() { rmdir(path) }
}

/// `memctl watch` and `memctl run`, the built binary against a real memd.
@Suite(.serialized) struct MemctlWatchTests {
    static let memctl = productsDirectory.appendingPathComponent("memctl").path

    static func lines(_ text: String) throws -> [JSON] {
        try text.split(separator: "\n").map { try JSONParser.parse(String($0)) }
    }

    @Test func watchJSONLinesThenTheSummary() throws {
        let memd = try MemdHarness()
        defer { memd.stop() }
        let result = try run(
            Self.memctl,
            [
                "watch", "--socket", memd.socketPath, "--json", "--count", "3",
                "--interval", "100ms", "--pid", "\(getpid())", "--pss",
            ]
        )
        #expect(result.status == 0, "\(result.err)")
        let lines = try Self.lines(result.out)
        let samples = lines.dropLast()
        #expect(!samples.isEmpty && samples.count <= 3)
        #expect(samples.allSatisfy { $0["seq"] != nil && $0["processes"]?.arrayValue?.first?["pss"] != nil })
        #expect(lines.last?["endedBy"] == "count")
        #expect(SchemaValidator(document: openRPC).validateResult(of: "watch", lines.last ?? .null).isEmpty)
    }

    /// Ctrl-C ends the watch through watch.stop: the summary still comes, and memctl exits 0.
    @Test func interruptStopsAndPrintsTheSummary() throws {
        let memd = try MemdHarness()
        defer { memd.stop() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.memctl)
        process.arguments = ["watch", "--socket", memd.socketPath, "--json", "--interval", "100ms"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var text = ""
        while text.filter({ $0 == "\n" }).count < 2 {
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
        }
        kill(process.processIdentifier, SIGINT)
        text += String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let lines = try Self.lines(text)
        #expect(lines.last?["endedBy"] == "stop" && Format.int(lines.last?["samples"]) == lines.count - 1)
    }

    @Test func runExitsWithTheCommandsStatus() throws {
        let memd = try MemdHarness()
        defer { memd.stop() }
        let seven = try run(Self.memctl, ["run", "--socket", memd.socketPath, "--", "/bin/sh", "-c", "exit 7"])
        #expect(seven.status == 7, "\(seven.err)")
        #expect(seven.err.contains("Exit status: 7"))
        let killed = try run(Self.memctl, ["run", "--socket", memd.socketPath, "--", "/bin/sh", "-c", "kill -TERM $$"])
        #expect(killed.status == 128 + SIGTERM)
        let missing = try run(Self.memctl, ["run", "--socket", memd.socketPath, "--", "/nonexistent/command"])
        #expect(missing.status == 127)
        let usage = try run(Self.memctl, ["run", "--socket", memd.socketPath])
        #expect(usage.status == 2)
    }

    /// The peak rss of a one-process command that touches 64 MiB and holds it is what `time -v`
    /// says (time run under memctl: the same process); children that time folds into one max
    /// show one by one; the SVG chart parses and has a line per process and one for the tree.
    @Test func runAgreesWithTimeAndSeesTheChildren() throws {
        let memd = try MemdHarness()
        defer { memd.stop() }
        let dir = memd.directory.path
        let single = try run(
            Self.memctl,
            [
                "run", "--socket", memd.socketPath, "--json", "-o", dir + "/one.json", "--",
                "/usr/bin/time", "-f", "%M", "-o", dir + "/one.time",
                "/usr/bin/python3", "-c", "import time; b = b'\\x01' * (64 << 20); time.sleep(0.6)",
            ]
        )
        #expect(single.status == 0, "\(single.err)")
        let report = try JSONParser.parse(try readProc(dir + "/one.json"))
        let timeKiB = Int(try readProc(dir + "/one.time").trimmingCharacters(in: .whitespacesAndNewlines))!
        let python = try #require(
            report["watch"]?["peaks"]?["processes"]?.arrayValue?.first { $0["command"] == "python3" }
        )
        // rss is three per-CPU counters (file, anon, shmem: mm->rss_stat, percpu_counter since 6.2),
        // read without summing the CPUs: each may lag by its batch, max(32, 2 × CPUs) pages, on
        // every CPU (lib/percpu_counter.c). memd's statm and time's ru_maxrss may differ by that.
        let cpus = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let slack = 3 * cpus * max(32, 2 * cpus) * 4096
        let rssMax = Format.int(python["rssMax"])
        #expect(abs(rssMax - timeKiB * 1024) <= slack, "rssMax \(rssMax) vs time -v \(timeKiB * 1024)")
        #expect(Format.int(python["rssMax"]) >= 64 << 20)

        let tree = try run(
            Self.memctl,
            [
                "run", "--socket", memd.socketPath, "--json", "-o", dir + "/tree.json", "--plot", dir + "/tree.svg",
                "--",
                "/usr/bin/time", "-f", "%M", "-o", dir + "/tree.time", "/usr/bin/python3", Kids.script, "--together",
                "--hold", "0.6", "24", "40",
            ]
        )
        #expect(tree.status == 0, "\(tree.err)")
        let treeReport = try JSONParser.parse(try readProc(dir + "/tree.json"))
        let treeTimeKiB = Int(try readProc(dir + "/tree.time").trimmingCharacters(in: .whitespacesAndNewlines))!
        let processes = treeReport["watch"]?["peaks"]?["processes"]?.arrayValue ?? []
        let children = processes.filter { Format.int($0["rssMax"]) >= 24 << 20 && $0["command"] == "python3" }
        #expect(children.count == 2, "memd saw \(processes.map { "\($0["command"]!):\($0["rssMax"]!)" })")
        // time -v reports one number, the largest process; memd's tree held both children at once.
        let treeMax = Format.int(treeReport["watch"]?["peaks"]?["treeRssMax"])
        #expect(treeMax >= (24 + 40) << 20 && treeMax > treeTimeKiB * 1024)
        #expect(treeTimeKiB * 1024 < (24 + 40) << 20)

        // The chart: well-formed SVG, a polyline per process memd saw and one for the tree.
        let check = """
            import sys, xml.etree.ElementTree as ET
            root = ET.parse(sys.argv[1]).getroot()
            ns = '{http://www.w3.org/2000/svg}'
            assert root.tag == ns + 'svg', root.tag
            lines = root.findall(ns + 'polyline')
            pids = sorted(int(l.get('data-pid')) for l in lines if l.get('data-pid'))
            trees = [l for l in lines if l.get('data-series') == 'tree']
            for l in lines:
                for point in l.get('points').split():
                    x, y = map(float, point.split(','))
                    assert 0 <= x <= float(root.get('width')) and 0 <= y <= float(root.get('height')), point
            print(len(trees), ' '.join(map(str, pids)))
            """
        let parsed = try run("/usr/bin/python3", ["-c", check, dir + "/tree.svg"])
        #expect(parsed.status == 0, "\(parsed.err)")
        let expected = processes.map { Format.int($0["pid"]) }.sorted().map(String.init).joined(separator: " ")
        #expect(parsed.out.trimmingCharacters(in: .whitespacesAndNewlines) == "1 " + expected)
    }
}
