import Foundation
import JSONRPC
import MemdProtocol
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// service.md: memd under systemd — socket activation (sd_listen_fds(3)) through systemd's own
/// systemd-socket-activate, readiness and watchdog (sd_notify(3)) on a datagram socket standing in
/// for $NOTIFY_SOCKET, journal-style log lines, and one version everywhere.
@Suite(.serialized)
struct ServiceTests {
    /// A temporary directory (0755, so nobody may reach a socket in it) removed at deinit.
    final class TempDirectory {
        let url: URL
        init() throws {
            url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent(
                "memd-service-\(UUID().uuidString.prefix(8))"
            )
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            chmod(url.path, 0o755)
        }
        func path(_ name: String) -> String { url.appendingPathComponent(name).path }
        deinit { try? FileManager.default.removeItem(at: url) }
    }

    /// A process started with extra environment, stderr to a file; killed at deinit.
    final class Started {
        let process = Process()
        let stderrPath: String

        init(
            _ executable: String,
            _ arguments: [String],
            environment: [String: String] = [:],
            stderrPath: String
        )
            throws
        {
            self.stderrPath = stderrPath
            // Truncated in place, not replaced: a test may have named its inode in $JOURNAL_STREAM.
            let fd = open(stderrPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw HarnessError.commandFailed("open \(stderrPath): errno \(errno)") }
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            var env = ProcessInfo.processInfo.environment
            for key in [
                "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "NOTIFY_SOCKET", "WATCHDOG_USEC", "JOURNAL_STREAM",
            ] {
                env[key] = nil
            }
            env.merge(environment) { $1 }
            process.environment = env
            process.standardError = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
            try process.run()
        }

        var log: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

        /// SIGTERM, then the exit status (nil: still running after `seconds`).
        func stop(within seconds: Double = 5) -> Int32? {
            if process.isRunning { kill(process.processIdentifier, SIGTERM) }
            let deadline = Date().addingTimeInterval(Sanitizer.scaled(seconds))
            while process.isRunning, Date() < deadline { usleep(10_000) }
            if process.isRunning { return nil }
            process.waitUntilExit()  // at once: it has ended; that frees the Process (see MemdHarness's deinit)
            return process.terminationStatus
        }

        deinit {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
    }

    /// A datagram socket standing in for systemd's $NOTIFY_SOCKET: a path, or an abstract name
    /// (written `@name` in the variable, as systemd does).
    final class NotifyListener {
        let fd: Int32
        let variable: String

        init(path: String? = nil, abstract: String? = nil) throws {
            let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let name: [UInt8] = path.map { Array($0.utf8) } ?? ([0] + Array((abstract ?? "").utf8))
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: name) }
            let length = socklen_t(MemoryLayout<sa_family_t>.size + name.count + (path == nil ? 0 : 1))
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
            }
            guard bound == 0 else {
                close(fd)
                throw HarnessError.commandFailed("bind notify socket: errno \(errno)")
            }
            self.fd = fd
            variable = path ?? "@" + (abstract ?? "")
        }

        /// The next datagram, or nil if none came within `seconds`.
        func next(within seconds: Double) -> String? {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32(seconds * 1000)) == 1 else { return nil }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count > 0 else { return nil }
            return String(decoding: buffer[..<count], as: UTF8.self)
        }

        /// Datagrams until one contains `line` (as a whole line), or nil after `seconds`.
        func await(_ line: String, within seconds: Double) -> [String]? {
            var seen: [String] = []
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                guard let message = next(within: deadline.timeIntervalSinceNow) else { break }
                seen.append(message)
                if message.split(separator: "\n").contains(Substring(line)) { return seen }
            }
            return nil
        }

        deinit { close(fd) }
    }

    static var memd: String { productsDirectory.appendingPathComponent("memd").path }
    static var memctl: String { productsDirectory.appendingPathComponent("memctl").path }

    static func inode(_ path: String) -> UInt64? {
        var info = stat()
        return lstat(path, &info) == 0 ? UInt64(info.st_ino) : nil
    }

    static func waitForClient(_ path: String, _ started: Started) throws -> MemdClient {
        for _ in 0..<300 {
            if let client = try? MemdClient(path: path) {
                client.setReadTimeout(seconds: 20)
                return client
            }
            guard started.process.isRunning else { break }
            usleep(20_000)
        }
        throw HarnessError.notStarted(started.log)
    }

    // MARK: version

    @Test func oneVersionEverywhere() throws {
        #expect(openRPC["info"]?["version"]?.stringValue == MemdVersion.current, "openrpc.json's info.version")
        let memd = try run(Self.memd, ["--version"])
        let memctl = try run(Self.memctl, ["--version"])
        #expect(memd.status == 0 && memctl.status == 0)
        #expect(memd.out.trimmingCharacters(in: .whitespacesAndNewlines) == MemdVersion.current)
        #expect(memctl.out.trimmingCharacters(in: .whitespacesAndNewlines) == MemdVersion.current)
        let harness = try MemdHarness()
        defer { harness.stop() }
        let document = try call(try harness.client(), "rpc.discover")
        #expect(document["info"]?["version"]?.stringValue == MemdVersion.current)
    }

    // MARK: socket activation

    /// systemd-socket-activate binds PATH and execs memd with it as fd 3 (LISTEN_PID, LISTEN_FDS,
    /// LISTEN_FDNAMES): memd serves on it, binds nothing of its own (its --socket is not made),
    /// and leaves the path, which is systemd's, when it stops.
    @Test func takesTheSocketSystemdHandsIt() throws {
        let dir = try TempDirectory()
        let path = dir.path("activated.sock")
        let unused = dir.path("unused.sock")
        let started = try Started(
            "/usr/bin/systemd-socket-activate",
            ["-l", path, "--fdname=memd.socket", Self.memd, "--socket", unused, "--log-level", "info"],
            stderrPath: dir.path("stderr")
        )
        let client = try Self.waitForClient(path, started)
        let inodeBefore = Self.inode(path)
        #expect(try call(client, "meminfo")["total"] != nil)
        #expect(FileManager.default.fileExists(atPath: unused) == false, "memd bound its own path")
        #expect(started.log.contains("socket from systemd"), "\(started.log)")
        #expect(started.log.contains("memd.socket"), "LISTEN_FDNAMES is logged: \(started.log)")
        client.disconnect()
        #expect(started.stop() == 0, "\(started.log)")
        #expect(Self.inode(path) == inodeBefore, "the socket file is systemd's: memd must not unlink it")
    }

    /// Variables meant for another process (LISTEN_PID not memd's) are not memd's: it binds as usual.
    @Test func listenVariablesOfAnotherPidAreIgnored() throws {
        let dir = try TempDirectory()
        let path = dir.path("own.sock")
        let started = try Started(
            Self.memd,
            ["--socket", path, "--log-level", "info"],
            environment: ["LISTEN_PID": "1", "LISTEN_FDS": "1"],
            stderrPath: dir.path("stderr")
        )
        let client = try Self.waitForClient(path, started)
        #expect(try call(client, "meminfo")["total"] != nil)
        #expect(!started.log.contains("socket from systemd"))
        client.disconnect()
        #expect(started.stop() == 0)
        #expect(!FileManager.default.fileExists(atPath: path), "memd's own socket is removed at exit")
    }

    /// LISTEN_PID is memd's but fd 3 is no listening Unix socket: memd refuses to start (exit 1)
    /// rather than serve nothing or bind behind systemd's back.
    @Test func refusesAPassedDescriptorThatIsNotAListeningSocket() throws {
        let dir = try TempDirectory()
        let result = try run(
            "/bin/sh",
            [
                "-c", "exec 3</dev/null; LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" --socket \"$1\"", Self.memd,
                dir.path("x.sock"),
            ]
        )
        #expect(result.status == 1, "\(result.err)")
        #expect(result.err.contains("fd 3"), "\(result.err)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("x.sock")))
    }

    // MARK: readiness, stopping, watchdog

    @Test(arguments: [false, true])
    func notifiesReadyWatchdogAndStopping(abstract: Bool) throws {
        let dir = try TempDirectory()
        let listener =
            abstract
            ? try NotifyListener(abstract: "memd-test-\(UUID().uuidString.prefix(8))")
            : try NotifyListener(path: dir.path("notify"))
        let path = dir.path("memd.sock")
        let started = try Started(
            Self.memd,
            ["--socket", path, "--log-level", "warning"],
            environment: ["NOTIFY_SOCKET": listener.variable, "WATCHDOG_USEC": "200000"],
            stderrPath: dir.path("stderr")
        )
        let ready = listener.await("READY=1", within: 30)
        #expect(ready != nil, "no READY=1: \(started.log)")
        // READY=1 means it accepts calls now: no waiting for the socket.
        let client = try MemdClient(path: path)
        client.setReadTimeout(seconds: 20)
        #expect(try call(client, "meminfo")["total"] != nil)
        // Every half of WATCHDOG_USEC: several pings within a few seconds.
        for _ in 0..<3 {
            #expect(listener.await("WATCHDOG=1", within: 10) != nil, "watchdog ping missing: \(started.log)")
        }
        client.disconnect()
        kill(started.process.processIdentifier, SIGTERM)
        #expect(listener.await("STOPPING=1", within: 10) != nil)
        #expect(started.stop() == 0)
    }

    /// systemd-socket-activate and a notify socket together, as memd.socket + memd.service run it.
    @Test func activatedAndNotifying() throws {
        let dir = try TempDirectory()
        let listener = try NotifyListener(path: dir.path("notify"))
        let path = dir.path("activated.sock")
        let started = try Started(
            "/usr/bin/systemd-socket-activate",
            [
                "-l", path, "-E", "NOTIFY_SOCKET=\(listener.variable)", Self.memd, "--socket", dir.path("unused.sock"),
                "--log-level", "warning",
            ],
            stderrPath: dir.path("stderr")
        )
        let client = try Self.waitForClient(path, started)
        #expect(try call(client, "meminfo")["total"] != nil)
        #expect(listener.await("READY=1", within: 30) != nil, "\(started.log)")
        client.disconnect()
        #expect(started.stop() == 0)
        #expect(listener.await("STOPPING=1", within: 5) != nil)
        #expect(Self.inode(path) != nil)
    }

    // MARK: logs

    /// Under journald ($JOURNAL_STREAM names stderr), a line is `<priority>message`: journald adds the
    /// time; elsewhere each line starts with its own timestamp.
    @Test func journalLinesHaveNoTimestamp() throws {
        let dir = try TempDirectory()
        let stderrPath = dir.path("stderr")
        close(open(stderrPath, O_WRONLY | O_CREAT, 0o644))
        var info = stat()
        #expect(stat(stderrPath, &info) == 0)
        let stream = "\(info.st_dev):\(info.st_ino)"

        for journal in [true, false] {
            let path = dir.path("memd-\(journal).sock")
            let started = try Started(
                Self.memd,
                ["--socket", path, "--log-level", "info"],
                environment: journal ? ["JOURNAL_STREAM": stream] : [:],
                stderrPath: stderrPath
            )
            let client = try Self.waitForClient(path, started)
            client.disconnect()
            #expect(started.stop() == 0)
            let lines = started.log.split(separator: "\n").filter { $0.contains("memd listening") }
            #expect(lines.count == 1, "\(started.log)")
            let line = String(lines.first ?? "")
            let timestamp = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/
            if journal {
                #expect(line.hasPrefix("<6>"), "syslog priority prefix for journald: \(line)")
                #expect(line.firstMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d/) == nil, "\(line)")
            } else {
                #expect(line.firstMatch(of: timestamp) != nil, "\(line)")
            }
        }
    }
}
