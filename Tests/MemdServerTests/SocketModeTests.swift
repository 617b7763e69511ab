import Foundation
import MemdProtocol
import TestSupport
import Testing

/// The socket's mode is set as the file is born, never by a call that names its path
/// afterwards (limits.md §5, v3): a symlink swapped in at the path between `bind` and a
/// `chmod(path)` would make root change another file's mode.
@Suite(.serialized) struct SocketModeTests {
    /// The permission bits of the file at `path` (not following a symlink).
    func mode(of path: String) -> UInt32? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return UInt32(info.st_mode) & 0o7777
    }

    @Test func modeIsSetWithoutAChmodOfThePath() throws {
        guard let strace = ["/usr/bin/strace", "/bin/strace"].first(where: FileManager.default.isExecutableFile)
        else {
            Issue.record("strace is missing (scripts/test installs it)")
            return
        }
        let directory = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("memd-mode-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let socketPath = directory.appendingPathComponent("memd.sock").path
        let trace = directory.appendingPathComponent("trace").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: strace)
        // `/chmod`: every syscall of the chmod family this strace knows (chmod, fchmod,
        // fchmodat, and fchmodat2 where it knows it).
        process.arguments = [
            "-f", "-qq", "-e", "trace=/chmod", "-o", trace,
            productsDirectory.appendingPathComponent("memd").path,
            "--socket", socketPath, "--socket-mode", "0666", "--log-level", "warning",
        ]
        process.standardError = FileHandle.nullDevice
        process.environment = Sanitizer.withoutLeakCheck(
            ProcessInfo.processInfo.environment,
            because: "memd runs under strace, so LeakSanitizer's tracer cannot attach to its threads"
        )
        try process.run()
        var answered = false
        for _ in 0..<500 where process.isRunning {
            if (try? MemdClient(path: socketPath)) != nil {
                answered = true
                break
            }
            usleep(20_000)
        }
        #expect(answered, "memd under strace did not answer")
        #expect(mode(of: socketPath) == 0o666)
        // strace's child is memd: stop it, and strace ends with it.
        let children = (try? readProc("/proc/\(process.processIdentifier)/task/\(process.processIdentifier)/children"))
        for pid in (children ?? "").split(separator: " ").compactMap({ Int32($0) }) { kill(pid, SIGTERM) }
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        let calls = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n")
        let naming = calls.filter { $0.contains(socketPath) || $0.contains("memd.sock") }
        #expect(naming.isEmpty, "chmod-family calls naming the socket: \(naming)")
    }

    @Test func defaultModeIsOwnerOnly() throws {
        let memd = try MemdHarness()
        #expect(mode(of: memd.socketPath) == 0o600)
        memd.stop()
    }

    @Test func refusesModeBitsBeyondPermissions() throws {
        let memd = productsDirectory.appendingPathComponent("memd").path
        let result = try run(memd, ["--socket", "/nonexistent/memd.sock", "--socket-mode", "4777"])
        #expect(result.status != 0)
        #expect(result.err.contains("--socket-mode"))
    }
}
