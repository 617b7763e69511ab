import Foundation
import JSONRPC
import MemdProtocol
import Testing

/// `usage` over a real socket, against /proc/PID/smaps_rollup read by the test and
/// against Debian's smem 1.5.
@Suite(.serialized) struct UsageTests {
    @Test func processRowIsSmapsRollup() throws {
        let memd = try MemdHarness()
        let client = try memd.client()
        let helper = try SleepingHelpers(count: 1)
        defer { helper.stop() }
        let pid = helper.pids[0]
        let before = try rollup(pid)
        let result = try call(client, "usage", ["pids": [.int(Int(pid))]])
        let after = try rollup(pid)
        let row = try #require(result["rows"]?.arrayValue?.first)
        #expect(row["pid"] == .int(Int(pid)))
        #expect(row["command"] == .string(try readProc("/proc/\(pid)/comm").trimmingCharacters(in: .newlines)))
        #expect(row["uid"] == .int(0) && row["user"] == .string("root"))
        // An idle process: its own pages do not move; shared ones may by a few KiB as others come and go.
        for (field, key) in [("rss", "Rss"), ("swap", "Swap")] {
            #expect(Format.int(row[field]) == before[key]! * 1024, "\(field)")
        }
        #expect(Format.int(row["uss"]) == (before["Private_Clean"]! + before["Private_Dirty"]!) * 1024)
        for (field, key) in [
            ("pss", "Pss"), ("pssAnon", "Pss_Anon"), ("pssFile", "Pss_File"),
            ("pssShmem", "Pss_Shmem"), ("swapPss", "SwapPss"),
        ] {
            let (low, high) = (min(before[key]!, after[key]!) * 1024, max(before[key]!, after[key]!) * 1024)
            let value = Format.int(row[field])
            #expect(value >= low - 16384 && value <= high + 16384, "\(field) \(value) not in \(low)…\(high)")
        }
        // cgroup: the memory hierarchy's line of /proc/PID/cgroup.
        let line = try readProc("/proc/\(pid)/cgroup").split(separator: "\n").first { $0.contains(":memory:") }
        if let line { #expect(row["cgroup"] == .string(String(line.split(separator: ":", maxSplits: 2)[2]))) }
        #expect(result["totals"]?["count"] == .int(1))
        #expect(result["skipped"]?["exited"] == .int(0))

        // The whole host: every process listed once, kernel threads left out, totals the sum of rows.
        let all = try call(client, "usage")
        let rows = try #require(all["rows"]?.arrayValue)
        let pids = rows.map { Format.int($0["pid"]) }
        #expect(Set(pids).count == pids.count)
        #expect(pids.contains(Int(pid)) && pids.contains(Int(getpid())))
        #expect(!pids.contains(2), "kthreadd has no memory of its own")
        #expect(Format.int(all["totals"]?["count"]) == rows.count)
        for field in ["rss", "pss", "uss", "swap"] {
            #expect(Format.int(all["totals"]?[field]) == rows.reduce(0) { $0 + Format.int($1[field]) }, "\(field)")
        }
        let pss = rows.map { Format.int($0["pss"]) }
        #expect(pss == pss.sorted(by: >), "sorted by pss, descending")
        memd.stop()
    }

    @Test func figuresAreWhatSmemPrints() throws {
        let memd = try MemdHarness()
        let client = try memd.client()
        let helpers = try SleepingHelpers(count: 3)
        defer { helpers.stop() }
        // PSS moves whenever another process maps or drops a page it shares (tests run side by
        // side): smem is run just before and just after memd's call, and memd's figure must lie
        // between the two (plus smem's per-mapping truncation).
        func smemRows() throws -> [Int: [Int]] {
            let smem = try run("smem", ["-H", "-c", "pid uss pss rss swap maps", "-P", helpers.marker])
            #expect(smem.status == 0, "smem failed: \(smem.err)")
            var rows: [Int: [Int]] = [:]
            for line in smem.out.split(separator: "\n") {
                let f = line.split(separator: " ").compactMap { Int($0) }
                if f.count == 6, helpers.pids.contains(Int32(f[0])) { rows[f[0]] = f }
            }
            return rows
        }
        let before = try smemRows()
        let result = try call(client, "usage", ["pids": .array(helpers.pids.map { .int(Int($0)) })])
        let after = try smemRows()
        let rows = try #require(result["rows"]?.arrayValue)
        var seen = 0
        for (pid, f) in after.sorted(by: { $0.key < $1.key }) {
            guard let b = before[pid] else { continue }
            seen += 1
            let row = try #require(rows.first { $0["pid"] == .int(pid) })
            // rss and swap are the process's own: exact. uss and pss count how many processes share
            // each page, and smem is itself a python3 process sharing the helpers' interpreter pages
            // while it measures (memd is not), as are other suites' processes that come and go: uss
            // within 25% of smem's, pss between smem's two readings less 25% and plus its per-mapping
            // truncation (each mapping's Pss cut to a whole KiB) plus 25%.
            func between(_ value: Int, _ column: Int) -> Bool {
                value >= min(b[column], f[column]) && value <= max(b[column], f[column])
            }
            #expect(
                between(Format.int(row["rss"]) / 1024, 3),
                "rss of \(pid): \(Format.int(row["rss"]) / 1024), smem \(b[3]) then \(f[3])"
            )
            #expect(Format.int(row["swap"]) / 1024 == f[4], "swap of \(pid)")
            let uss = Format.int(row["uss"]) / 1024
            #expect(
                abs(uss - f[1]) * 4 <= max(uss, f[1]),
                "uss of \(pid): \(uss), smem \(b[1]) then \(f[1])"
            )
            let pss = Format.int(row["pss"]) / 1024
            let (low, high) = (min(b[2], f[2]), max(b[2], f[2]) + f[5] + 4)
            #expect(
                pss * 4 >= low * 3 && pss * 4 <= high * 5,
                "pss of \(pid): memd \(pss) KiB, smem \(b[2]) then \(f[2]) KiB, \(f[5]) maps"
            )
        }
        #expect(seen == 3, "smem listed \(seen) of the helpers before and after")
        memd.stop()
    }

    @Test func groupsSortsAndLimits() throws {
        let memd = try MemdHarness()
        let client = try memd.client()
        let helpers = try SleepingHelpers(count: 3)
        defer { helpers.stop() }
        let pids: JSON = .array(helpers.pids.map { .int(Int($0)) } + [.int(Int(getpid()))])
        let processes = try #require(try call(client, "usage", ["pids": pids])["rows"]?.arrayValue)
        #expect(processes.count == 4)
        let byCommand = try call(client, "usage", ["pids": pids, "by": "command"])
        let sleeps = try #require(byCommand["rows"]?.arrayValue?.first { $0["command"] == "sleep" })
        #expect(sleeps["count"] == .int(3) && sleeps["pid"] == nil)
        let sleepRows = processes.filter { $0["command"] == "sleep" }
        for field in ["rss", "uss"] {
            #expect(Format.int(sleeps[field]) == sleepRows.reduce(0) { $0 + Format.int($1[field]) }, "\(field)")
        }
        // Pss of shared pages moves as other processes on the host start and exit.
        #expect(abs(Format.int(sleeps["pss"]) - sleepRows.reduce(0) { $0 + Format.int($1["pss"]) }) <= 64 << 10)
        let byUser = try call(client, "usage", ["pids": pids, "by": "user"])
        #expect(byUser["rows"]?.arrayValue?.count == 1)
        #expect(byUser["rows"]?.arrayValue?.first?["user"] == "root")
        #expect(byUser["totals"]?["count"] == .int(4))
        let byCgroup = try call(client, "usage", ["pids": pids, "by": "cgroup"])
        let cgroups = Set(processes.compactMap { $0["cgroup"]?.stringValue })
        #expect(Set((byCgroup["rows"]?.arrayValue ?? []).compactMap { $0["cgroup"]?.stringValue }) == cgroups)

        let limited = try call(client, "usage", ["sort": "rss", "limit": 2])
        let limitedRows = try #require(limited["rows"]?.arrayValue)
        #expect(limitedRows.count == 2)
        #expect(Format.int(limitedRows[0]["rss"]) >= Format.int(limitedRows[1]["rss"]))
        #expect(Format.int(limited["totals"]?["count"]) > 2, "totals count every row, not just the first 2")
        let noSwap = try call(client, "usage", ["pids": pids, "swap": false])
        #expect(noSwap["rows"]?.arrayValue?.allSatisfy { $0["swap"] == nil && $0["swapPss"] == nil } == true)
        let cmdline = try call(client, "usage", ["pids": pids, "cmdline": true])
        let helperRow = try #require(cmdline["rows"]?.arrayValue?.first { $0["pid"] == .int(Int(helpers.pids[0])) })
        #expect(helperRow["cmdline"]?.stringValue?.contains(helpers.marker) == true)
        memd.stop()
    }

    /// The whole host's cgroups come from each cgroup's list (CgroupMembers): every row still shows
    /// the memory line of its own /proc/PID/cgroup, also for a process whose threads are in two
    /// cgroups (v1 lists it in both; the kernel's file shows its leader's).
    @Test func wholeHostCgroupsAreTheKernels() throws {
        guard getuid() == 0, let mount = CgroupTests.v1MemoryMount() else { return }
        let name = "memdtest-\(getpid())-\(UInt32.random(in: 0...999_999))"
        let top = mount + "/" + name
        try CgroupTests.make(top, limit: 256 << 20)
        defer { rmdir(top) }
        for child in ["a", "b"] { try CgroupTests.make(top + "/" + child, limit: 128 << 20) }
        defer { for child in ["a", "b"] { rmdir(top + "/" + child) } }
        // Its leader in a, a second thread in b.
        let split = try ThreadedCgroupHelper(leader: top + "/a", thread: top + "/b")
        defer { split.stop() }
        let alone = try CgroupHelper(cgroup: top + "/b", bytes: 1 << 20)
        defer { alone.stop() }

        let memd = try MemdHarness()
        let client = try memd.client()
        /// Each process's memory line of /proc/PID/cgroup, now.
        func kernels() throws -> [Int: String] {
            var paths: [Int: String] = [:]
            for entry in try FileManager.default.contentsOfDirectory(atPath: "/proc") {
                guard let pid = Int(entry), let text = try? readProc("/proc/\(pid)/cgroup"),
                    let line = text.split(separator: "\n").first(where: { $0.contains(":memory:") })
                else { continue }
                paths[pid] = String(line.split(separator: ":", maxSplits: 2)[2])
            }
            return paths
        }
        let before = try kernels()
        let rows = try #require(try call(client, "usage")["rows"]?.arrayValue)
        let after = try kernels()
        func row(_ pid: Int32) -> JSON? { rows.first { $0["pid"] == .int(Int(pid)) } }
        #expect(row(split.process.processIdentifier)?["cgroup"] == .string("/\(name)/a"))
        #expect(row(alone.process.processIdentifier)?["cgroup"] == .string("/\(name)/b"))
        var compared = 0
        // Other tests' processes move between cgroups: those that stayed put are compared.
        for row in rows {
            let pid = Format.int(row["pid"])
            guard let path = before[pid], after[pid] == path else { continue }
            #expect(row["cgroup"] == .string(path), "pid \(pid)")
            compared += 1
        }
        #expect(compared > 2)
        memd.stop()
    }

    @Test func badInputNamesTheParam() throws {
        let memd = try MemdHarness()
        let client = try memd.client()
        for (params, param) in [
            (["by": "users"], "by"), (["sort": "size"], "sort"), (["by": "user", "sort": "pid"], "sort"),
            (["swap": false, "sort": "swap"], "sort"), (["pids": [0]], "pids"), (["pids": ["1"]], "pids"),
            (["pids": 1], "pids"), (["limit": -1], "limit"), (["by": "user", "cmdline": true], "cmdline"),
            (["bye": "user"], "bye"),
        ] as [(JSONObject, String)] {
            do {
                _ = try client.call("usage", params)
                Issue.record("usage \(params) succeeded")
            } catch MemdClient.Failure.server(let error) {
                #expect(error.code.rawValue == -32602)
                #expect(error.data["param"] == .string(param), "\(params): \(error)")
            }
        }
        memd.stop()
    }

    @Test func aClientSeesOnlyItsOwnProcesses() throws {
        guard getuid() == 0 else { return }
        let memd = try MemdHarness(["--socket-mode", "0666"])
        let memctl = productsDirectory.appendingPathComponent("memctl").path
        let nobody = try SleepingHelpers(count: 1, uid: 65534)
        defer { nobody.stop() }
        let seen = try run(
            "setpriv",
            [
                "--reuid=65534", "--regid=65534", "--clear-groups", memctl,
                "--socket", memd.socketPath, "call", "usage",
            ]
        )
        #expect(seen.status == 0, "\(seen.err)")
        let result = try JSONParser.parse(seen.out)
        let rows = result["rows"]?.arrayValue ?? []
        #expect(rows.contains { $0["pid"] == .int(Int(nobody.pids[0])) })
        #expect(rows.allSatisfy { $0["uid"] == .int(65534) }, "nobody sees only nobody's processes")
        #expect(result["skipped"]?["denied"] == .int(0), "other users' processes are not counted as denied")
        memd.stop()
    }

    @Test func memctlSmemPrintsSmemsTable() throws {
        let memd = try MemdHarness()
        let helpers = try SleepingHelpers(count: 3)
        defer { helpers.stop() }
        let memctl = productsDirectory.appendingPathComponent("memctl").path
        // A pattern that matches the helpers' command line but not smem's or memctl's own.
        let pattern = "sleep " + helpers.marker.replacingOccurrences(of: ".", with: "[.]")
        func both(_ flags: [String]) throws -> (memctl: [Substring], smem: [Substring]) {
            let ours = try run(memctl, ["smem", "--socket", memd.socketPath] + flags + ["-P", pattern])
            let theirs = try run("smem", flags + ["-P", pattern])
            #expect(ours.status == 0 && theirs.status == 0, "\(ours.err) \(theirs.err)")
            return (ours.out.split(separator: "\n"), theirs.out.split(separator: "\n"))
        }
        func maps(_ pid: Int) throws -> Int { try readProc("/proc/\(pid)/maps").split(separator: "\n").count }

        let (ours, theirs) = try both(["-t"])
        #expect(ours.count == 3 + 3 && theirs.count == 3 + 3, "header, 3 rows, rule, totals:\n\(ours)\n\(theirs)")
        #expect(ours.first == theirs.first, "the header")
        #expect(ours.dropFirst(4).first == theirs.dropFirst(4).first, "the rule under the rows")
        // Rows by pid: the text columns exactly (positions included), sizes as smem sums them.
        func row(_ lines: [Substring], _ pid: Int32) -> Substring? {
            lines.first { $0.split(separator: " ").first == Substring(String(pid)) }
        }
        for pid in helpers.pids {
            let (a, b) = (try #require(row(ours, pid)), try #require(row(theirs, pid)))
            #expect(a.prefix(43) == b.prefix(43), "PID, User, Command columns")
            let (x, y) = (
                a.dropFirst(43).split(separator: " ").map { Int($0)! },
                b.dropFirst(43).split(separator: " ").map { Int($0)! }
            )
            #expect(x[0] == y[0] && x[3] == y[3], "Swap, RSS: \(a) vs \(b)")
            // USS moves while other suites' processes that share pages with the helper come and go.
            #expect(abs(x[1] - y[1]) * 4 <= max(x[1], y[1]), "USS: \(a) vs \(b)")
            let mappings = try maps(Int(pid))
            #expect(x[2] >= y[2] && x[2] <= y[2] + mappings + 4, "PSS: \(a) vs \(b)")
        }
        let (total, smemTotal) = (ours.last!.split(separator: " "), theirs.last!.split(separator: " "))
        #expect(total[0] == "3" && total[1] == "1" && total[0...1] == smemTotal[0...1], "3 processes of 1 user")
        #expect(total[5] == smemTotal[5], "RSS totals")

        let (users, smemUsers) = try both(["-u"])
        // User, Count, Swap and RSS exactly; USS and PSS move while other suites' python3 processes
        // come and go (a library page shared with them becomes private when they exit): within 25%.
        let (mine, smemRow) = (users.last?.split(separator: " ") ?? [], smemUsers.last?.split(separator: " ") ?? [])
        #expect(users.count == 2 && users.first == smemUsers.first && mine.count == 6 && smemRow.count == 6)
        if mine.count == 6, smemRow.count == 6 {
            #expect(mine[0...2] == smemRow[0...2] && mine[5] == smemRow[5], "\(users) vs \(smemUsers)")
            for column in [3, 4] {
                let (a, b) = (Double(mine[column]) ?? 0, Double(smemRow[column]) ?? 0)
                #expect(abs(a - b) <= 0.25 * max(a, b), "column \(column): \(users) vs \(smemUsers)")
            }
        }
        let (human, smemHuman) = try both(["-k"])
        for pid in helpers.pids {
            let (a, b) = (try #require(row(human, pid)), try #require(row(smemHuman, pid)))
            #expect(a.split(separator: " ").last == b.split(separator: " ").last, "RSS with units: \(a) vs \(b)")
        }
        let byCommand = try run(memctl, ["smem", "--socket", memd.socketPath, "-c", "-P", pattern, "-h"]).out
        #expect(byCommand.split(separator: "\n").last?.hasPrefix("sleep") == true, "\(byCommand)")
        #expect(byCommand.split(separator: "\n").last?.split(separator: " ")[1] == "3", "\(byCommand)")
        let bad = try run(memctl, ["smem", "--socket", memd.socketPath, "-s", "size"])
        #expect(bad.status == 2 && bad.err.contains("-s"), "\(bad.err)")
        memd.stop()
    }

    /// /proc/PID/smaps_rollup as key → KiB.
    func rollup(_ pid: Int32) throws -> [String: Int] {
        var values: [String: Int] = [:]
        for line in try readProc("/proc/\(pid)/smaps_rollup").split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            if fields.count == 3 { values[String(fields[0].dropLast())] = Int(fields[1]) }
        }
        return values
    }
}

/// `sleep` processes whose command line carries a marker (their duration,
/// `3600.NNNNNN`, unique to this test run); with `uid`, run as that user (setpriv).
final class SleepingHelpers {
    let marker = "3600.\(UInt32.random(in: 100_000...999_999))"
    private(set) var processes: [Process] = []
    var pids: [Int32] { processes.map(\.processIdentifier) }

    init(count: Int, uid: UInt32? = nil) throws {
        for _ in 0..<count {
            let process = Process()
            if let uid {
                process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
                process.arguments = ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "/bin/sleep", marker]
            } else {
                process.executableURL = URL(fileURLWithPath: "/bin/sleep")
                process.arguments = [marker]
            }
            try process.run()
            processes.append(process)
        }
        // Wait until each runs sleep itself (setpriv execs it), asleep, its rss no longer growing
        // (the dynamic linker has mapped and touched what it will).
        func settled() -> [String]? {
            let states = pids.map { pid -> String? in
                guard (try? readProc("/proc/\(pid)/comm"))?.hasPrefix("sleep") == true,
                    let stat = try? readProc("/proc/\(pid)/stat"),
                    let close = stat.range(of: ")", options: .backwards)
                else { return nil }
                let fields = stat[close.upperBound...].split(separator: " ")
                return fields[0] == "S" ? String(fields[21]) : nil
            }
            return states.contains(nil) ? nil : states.compactMap { $0 }
        }
        var last: [String]? = nil
        for _ in 0..<200 {
            usleep(20_000)
            let now = settled()
            if let now, now == last { return }
            last = now
        }
        throw HarnessError.commandFailed("sleep helpers did not start")
    }

    func stop() {
        for process in processes where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// A python3 process whose leader moves into one cgroup and whose second thread into another
/// (v1's `tasks` file moves one thread).
final class ThreadedCgroupHelper {
    let process = Process()
    let input = Pipe()

    init(leader: String, thread: String) throws {
        let script = """
            import os, sys, threading
            open(sys.argv[1] + "/cgroup.procs", "w").write(str(os.getpid()))
            moved = threading.Event()
            def other():
                open(sys.argv[2] + "/tasks", "w").write(str(threading.get_native_id()))
                moved.set()
                threading.Event().wait()
            threading.Thread(target=other, daemon=True).start()
            moved.wait()
            sys.stdout.write("ready\\n"); sys.stdout.flush()
            sys.stdin.read()
            """
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, leader, thread]
        let output = Pipe()
        process.standardOutput = output
        process.standardInput = input
        try process.run()
        _ = output.fileHandleForReading.availableDataLine()  // "ready", or EOF when it failed
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}
