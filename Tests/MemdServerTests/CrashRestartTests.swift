import Foundation
import JSONRPC
import MemdProtocol
import Testing

/// Crash-only restarts (issue 23): memd SIGKILLed in the middle of work. Its clients see a clean
/// end of connection, its children die with it (memlab's PR_SET_PDEATHSIG), and the next memd,
/// on the same socket path and $TMPDIR, sweeps what the first left and answers at once.
@Suite(.serialized) struct CrashRestartTests {
    /// A memd on a socket path and a $TMPDIR of its own, that can be killed and started again there.
    final class Site {
        let directory: String
        var socketPath: String { directory + "/memd.sock" }
        var tmp: String { directory + "/tmp" }

        init() throws {
            directory = NSTemporaryDirectory() + "memd-crash-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: directory + "/tmp", withIntermediateDirectories: true)
            chmod(directory, 0o755)
            chmod(directory + "/tmp", 0o1777)
        }

        /// Starts memd; returns it once it answers (the time that took is `startSeconds`).
        func start() throws -> (process: Process, startSeconds: Double) {
            let process = Process()
            process.executableURL = productsDirectory.appendingPathComponent("memd")
            process.arguments = ["--socket", socketPath, "--log-level", "warning"]
            var environment = ProcessInfo.processInfo.environment
            environment["TMPDIR"] = tmp
            process.environment = environment
            process.standardError = FileHandle.nullDevice
            let started = Date()
            try process.run()
            for _ in 0..<500 {
                if let client = try? MemdClient(path: socketPath), (try? client.call("meminfo")) != nil {
                    return (process, Date().timeIntervalSince(started))
                }
                guard process.isRunning else { break }
                usleep(10_000)
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw HarnessError.notStarted("memd did not answer on \(socketPath)")
        }

        deinit { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// Every descendant of `pid` now (from /proc/PID/task/*/children), children first. Read with
    /// `readProc`, not `String(contentsOfFile:)`: Foundation's read of a file whose size is 0 (all of
    /// /proc) leaks its 4 KiB buffer when the file is empty, as `children` is for a task with none
    /// (LeakSanitizer in the test runner; swift-foundation Data+Reading.swift, readBytesFromFile).
    static func descendants(of pid: Int32) -> [Int32] {
        var out: [Int32] = []
        var queue = [pid]
        while let next = queue.popLast() {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(next)/task")) ?? []
            for task in tasks {
                let text = (try? readProc("/proc/\(next)/task/\(task)/children")) ?? ""
                let children = text.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespaces)) }
                out += children
                queue += children
            }
        }
        return out
    }

    /// Whether `pid` is a live process (not gone, not a zombie).
    static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = try? readProc("/proc/\(pid)/stat"),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return !stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    /// The client's next read ends with memd closing the connection (not a timeout, not garbage).
    static func expectCleanEnd(_ client: MemdClient) {
        do {
            while true {
                let line = try client.readLine()
                // Notifications or a reply already on their way are fine; anything else is not.
                #expect((try? JSONParser.parse(line)) != nil, "a torn line: \(String(decoding: line, as: UTF8.self))")
            }
        } catch {
            guard case .connectionLost(let reason) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(reason == "memd closed the connection" || reason.contains("reset"), "\(reason)")
        }
    }

    /// What a test is given once memd was killed and the next one answers on the same site.
    struct Restarted {
        /// The killed memd's pid.
        let killed: Int32
        /// What the killed memd had left in $TMPDIR (the next one swept it).
        let leftBefore: [String]
        /// A client of the next memd, still running.
        let client: MemdClient
    }

    /// The steps every test here shares: memd on a site of its own; `request` (a line, after the calls
    /// it makes first on the same client) sent; `underWay` waits until the work is under way (default:
    /// its first line back — a progress notification, a sample); then SIGKILL. The client reads a clean
    /// end of connection, every descendant memd had dies with it (`expectChildren`: there was one), the
    /// next memd on the same socket and $TMPDIR answers at once and swept the killed one's leftovers,
    /// and `afterRestart` checks the rest against that next memd.
    func killDuring(
        expectChildren: Bool,
        _ request: (MemdClient) throws -> String,
        underWay: (MemdClient) throws -> Void = { client in
            // A progress notification or a sample; a reply this early is a refusal, and says why.
            let line = try client.readLine()
            #expect(
                (try? JSONParser.parse(line))?["method"] != nil,
                "not under way: \(String(decoding: line, as: UTF8.self))"
            )
        },
        afterRestart: (Restarted) throws -> Void = { _ in }
    ) throws {
        let site = try Site()
        let (memd, _) = try site.start()
        let client = try MemdClient(path: site.socketPath)
        client.setReadTimeout(seconds: 20)
        try client.send(Array(try request(client).utf8) + [0x0A])
        try underWay(client)

        let children = Self.descendants(of: memd.processIdentifier)
        if expectChildren { #expect(!children.isEmpty, "no child of memd was running when it was killed") }
        let leftBefore = (try? FileManager.default.contentsOfDirectory(atPath: site.tmp)) ?? []
        kill(memd.processIdentifier, SIGKILL)
        memd.waitUntilExit()
        Self.expectCleanEnd(client)
        let deadline = Date().addingTimeInterval(5)
        while children.contains(where: Self.isAlive), Date() < deadline { usleep(20_000) }
        #expect(!children.contains(where: Self.isAlive), "orphans of a killed memd: \(children.filter(Self.isAlive))")

        let (next, seconds) = try site.start()
        defer {
            kill(next.processIdentifier, SIGTERM)
            next.waitUntilExit()
        }
        print("memd restarted after a SIGKILL and answered in \(Int(seconds * 1000)) ms")
        #expect(seconds < 5, "the next memd took \(seconds) s to answer")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: site.tmp)) ?? []
        #expect(left.allSatisfy { !$0.hasPrefix("memd.\(memd.processIdentifier).") }, "not swept: \(left)")
        let nextClient = try MemdClient(path: site.socketPath)
        nextClient.setReadTimeout(seconds: 20)
        try afterRestart(Restarted(killed: memd.processIdentifier, leftBefore: leftBefore, client: nextClient))
    }

    @Test func killedDuringAnExperiment() throws {
        try killDuring(expectChildren: true) { _ in
            #"{"jsonrpc":"2.0","id":1,"method":"runExperiment","params":{"name":"demandPaging","sizeBytes":536870912,"stepBytes":4096,"progress":true}}"#
        }
    }

    /// filemap makes `memd.<pid>.XXXXXX` in $TMPDIR: the next memd removes it.
    @Test func killedDuringFilemapLeavesNothingAfterTheRestart() throws {
        try killDuring(expectChildren: true) { _ in
            #"{"jsonrpc":"2.0","id":1,"method":"runExperiment","params":{"name":"filemap","sizeBytes":268435456,"progress":true}}"#
        } afterRestart: { restarted in
            #expect(
                restarted.leftBefore.contains { $0.hasPrefix("memd.\(restarted.killed).") },
                "filemap made no directory"
            )
        }
    }

    @Test func killedDuringAWatch() throws {
        try killDuring(expectChildren: false) { _ in
            #"{"jsonrpc":"2.0","id":1,"method":"watch","params":{"intervalMs":100,"durationMs":600000,"pids":[\#(getpid())]}}"#
        }
    }

    @Test func killedDuringASimTouch() throws {
        try killDuring(expectChildren: false) { client in
            let m = try #require(try client.call("sim.create", ["physicalBytes": .int(64 << 30)])["machine"])
            _ = try client.call("sim.spawn", ["machine": m])
            let length = 10_000_000 * 4096
            let a = try client.call("sim.mmap", ["machine": m, "pid": 1, "length": .int(length), "prot": "rw-"])
            return line([
                "jsonrpc": "2.0", "id": 7, "method": "sim.touch",
                "params": [
                    "machine": m, "pid": 1, "address": a["address"] ?? .null, "length": .int(length), "access": "write",
                ],
            ])
        } underWay: { _ in
            usleep(300_000)  // the touch is under way (ten million accesses take seconds)
        }
    }

    /// Killed between a `clear_refs` and its read: what memd changed is the target's referenced bits
    /// (the kernel's, not memd's: nothing to sweep) and its one-measurement-per-process turn (memd's
    /// memory: gone with it). The measured process lives on (it is no child of memd), and the next
    /// memd measures it at once — no turn left waiting — and exactly: the 16 MiB it keeps touching.
    @Test func killedDuringAWorkingSet() throws {
        let helper = try TouchPages(["64", "16"])
        defer { helper.end() }
        try killDuring(expectChildren: false) { _ in
            #"{"jsonrpc":"2.0","id":1,"method":"workingSet","params":{"pid":\#(helper.pid),"intervalMs":300,"count":3600}}"#
        } afterRestart: { restarted in
            #expect(Self.isAlive(helper.pid), "the measured process died with memd")
            let started = Date()
            let (_, result) = try workingSet(
                restarted.client,
                ["pid": .int(Int(helper.pid)), "intervalMs": 500, "mappings": true]
            )
            let seconds = Date().timeIntervalSince(started)
            #expect(seconds < 5, "the next memd's workingSet took \(seconds) s (a 500 ms interval)")
            let sample = try #require(result["samples"]?.arrayValue?.first)
            let row = try #require(mapping(sample, at: helper.hex("buffer").start))
            let referenced = figure(row["referenced"])
            #expect(abs(referenced - 16 << 20) <= WorkingSetTests.slack, "referenced \(referenced)")
        }
    }
}
