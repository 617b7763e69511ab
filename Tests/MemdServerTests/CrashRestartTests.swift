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

    /// Every descendant of `pid` now (from /proc/PID/task/*/children), children first.
    static func descendants(of pid: Int32) -> [Int32] {
        var out: [Int32] = []
        var queue = [pid]
        while let next = queue.popLast() {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(next)/task")) ?? []
            for task in tasks {
                let text = (try? String(contentsOfFile: "/proc/\(next)/task/\(task)/children", encoding: .utf8)) ?? ""
                let children = text.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespaces)) }
                out += children
                queue += children
            }
        }
        return out
    }

    /// Whether `pid` is a live process (not gone, not a zombie).
    static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
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

    /// SIGKILLs memd while `during` runs; checks its children die, then restarts it on the same site.
    func killAndRestart(
        _ site: Site,
        _ memd: Process,
        client: MemdClient,
        expectChildren: Bool
    ) throws -> [String] {
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
        return leftBefore
    }

    func send(_ client: MemdClient, _ request: String) throws {
        try client.send(Array(request.utf8) + [0x0A])
    }

    @Test func killedDuringAnExperiment() throws {
        let site = try Site()
        let (memd, _) = try site.start()
        let client = try MemdClient(path: site.socketPath)
        client.setReadTimeout(seconds: 20)
        try send(
            client,
            #"{"jsonrpc":"2.0","id":1,"method":"runExperiment","params":{"name":"demandPaging","sizeBytes":536870912,"stepBytes":4096,"progress":true}}"#
        )
        _ = try client.readLine()  // the first progress notification: memlab is running
        _ = try killAndRestart(site, memd, client: client, expectChildren: true)
    }

    /// filemap makes `memd.<pid>.XXXXXX` in $TMPDIR: the next memd removes it.
    @Test func killedDuringFilemapLeavesNothingAfterTheRestart() throws {
        let site = try Site()
        let (memd, _) = try site.start()
        let client = try MemdClient(path: site.socketPath)
        client.setReadTimeout(seconds: 20)
        try send(
            client,
            #"{"jsonrpc":"2.0","id":1,"method":"runExperiment","params":{"name":"filemap","sizeBytes":268435456,"progress":true}}"#
        )
        _ = try client.readLine()
        let leftBefore = try killAndRestart(site, memd, client: client, expectChildren: true)
        #expect(leftBefore.contains { $0.hasPrefix("memd.\(memd.processIdentifier).") }, "filemap made no directory")
    }

    @Test func killedDuringAWatch() throws {
        let site = try Site()
        let (memd, _) = try site.start()
        let client = try MemdClient(path: site.socketPath)
        client.setReadTimeout(seconds: 20)
        try send(
            client,
            #"{"jsonrpc":"2.0","id":1,"method":"watch","params":{"intervalMs":100,"durationMs":600000,"pids":[\#(getpid())]}}"#
        )
        _ = try client.readLine()  // the first sample
        _ = try killAndRestart(site, memd, client: client, expectChildren: false)
    }

    @Test func killedDuringASimTouch() throws {
        let site = try Site()
        let (memd, _) = try site.start()
        let client = try MemdClient(path: site.socketPath)
        client.setReadTimeout(seconds: 20)
        let m = try #require(try client.call("sim.create", ["physicalBytes": .int(64 << 30)])["machine"])
        _ = try client.call("sim.spawn", ["machine": m])
        let length = 10_000_000 * 4096
        let a = try client.call("sim.mmap", ["machine": m, "pid": 1, "length": .int(length), "prot": "rw-"])["address"]
        try send(
            client,
            line([
                "jsonrpc": "2.0", "id": 7, "method": "sim.touch",
                "params": ["machine": m, "pid": 1, "address": a ?? .null, "length": .int(length), "access": "write"],
            ])
        )
        usleep(300_000)  // the touch is under way (ten million accesses take seconds)
        _ = try killAndRestart(site, memd, client: client, expectChildren: false)
    }
}
