import Foundation
import Testing

@testable import ProcFS

#if canImport(Glibc)
import Glibc
#endif

/// A child process for these tests: started, and its first line of output read (it is ready).
final class Child {
    let process = Process()
    private let input = Pipe()
    private let output = Pipe()

    init(_ executable: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = output
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    /// The child's next line.
    func line() -> String {
        var bytes: [UInt8] = []
        while true {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            guard let first = byte.first, first != 0x0A else { break }
            bytes.append(first)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    func send(_ text: String) { input.fileHandleForWriting.write(Data((text + "\n").utf8)) }

    /// Killed and reaped: its pid names no process any more. (SIGKILL: a child may inherit a
    /// mask that blocks SIGTERM.)
    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// Reads of a process that cost less than `status`: stat and statm kept open and read again
/// (a watch's every sample), comm and the directory's owner (usage), one verification for many reads.
@Suite struct KeptProcessFilesTests {
    let me = ProcClient(uid: geteuid(), gid: getegid(), pid: getpid())

    static func vmRSS(_ pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        return try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])) * 1024
    }

    @Test func keptStatAndStatmAreTheKernelsFiguresNowUntilTheProcessIsGone() throws {
        let child = try Child("/usr/bin/python3", ["-c", "print('ready', flush=True); import time; time.sleep(60)"])
        defer { child.stop() }
        #expect(child.line() == "ready")
        var kept = try KeptProcessFiles(ProcessFiles(pid: child.pid, client: me))
        for _ in 0..<3 {
            let (stat, statm) = try kept.read()
            #expect(stat.pid == child.pid)
            #expect(stat.comm == "python3")
            #expect(stat.vsize == statm.size * pageSize)
            // A sleeping process: statm's resident pages are VmRSS (task_statm and task_mem add the same counters).
            #expect(statm.resident * pageSize == (try Self.vmRSS(child.pid)))
        }
        child.stop()
        do {
            _ = try kept.read()
            Issue.record("a reaped process was read")
        } catch {
            #expect(error == .notFound(path: "/proc/\(child.pid)/stat"))
        }
    }

    @Test func aKeptReadFromTheStartIsFresh() throws {
        // A child's rss grows by what it touches between two reads of the same descriptors (a child:
        // other tests read this process's own maps and smaps twice and compare).
        let size = 64 << 20
        let child = try Child(
            "/usr/bin/python3",
            [
                "-c",
                "import sys, time; print('ready', flush=True); sys.stdin.readline(); "
                    + "block = bytearray(b'x' * \(size)); print('touched', flush=True); time.sleep(60)",
            ]
        )
        defer { child.stop() }
        #expect(child.line() == "ready")
        var kept = try KeptProcessFiles(ProcessFiles(pid: child.pid, client: me))
        let before = try kept.read().statm.resident * pageSize
        child.send("go")
        #expect(child.line() == "touched")
        let after = try kept.read().statm.resident * pageSize
        #expect(after - before >= size - (4 << 20), "rss \(before) → \(after) after touching \(size) bytes")
        #expect(after == (try Self.vmRSS(child.pid)))
    }

    @Test func commAndTheDirectorysOwnerAreStatussNameAndEffectiveUID() throws {
        // status escapes a newline, a tab and a backslash in the name (proc_task_name); comm prints them as they are.
        let child = try Child(
            "/usr/bin/python3",
            [
                "-c",
                "open('/proc/self/comm', 'w').write('a\\nb\\tc\\\\d'); print('ready', flush=True); "
                    + "import time; time.sleep(60)",
            ]
        )
        defer { child.stop() }
        #expect(child.line() == "ready")
        var files = try ProcessFiles(pid: child.pid, client: me)
        let identity = try files.identity()
        #expect(try files.command() == "a\nb\tc\\d")
        #expect(try files.command() == identity.name)
        #expect(try files.effectiveUID() == identity.effectiveUID)
        #expect(try files.effectiveUID() == geteuid())
    }

    @Test func aProcessWithoutMemoryHasNoRollup() throws {
        // kthreadd (pid 2, where this /proc shows the host's kernel threads): no mm, so smaps_rollup
        // fails with ESRCH while the process is there.
        guard let status = try? String(contentsOfFile: "/proc/2/status", encoding: .utf8),
            status.contains("Name:\tkthreadd"), geteuid() == 0
        else { return }
        var files = try ProcessFiles(pid: 2, client: me)
        do {
            _ = try files.processMemory()
            Issue.record("a kernel thread has a rollup")
        } catch {
            #expect(error == .notFound(path: "/proc/2/smaps_rollup"))
        }
        try files.verify()
    }

    @Test func readsVerifiedOnceAreRefusedWhenTheOwnerChangedBeforeTheEnd() throws {
        // A process of uid 65534 read for uid 65534; it turns itself non-dumpable (its files then
        // belong to root, task_dump_owner) between two reads: the verification at the end refuses all.
        guard geteuid() == 0 else { return }
        let script =
            "import ctypes, sys; print('ready', flush=True); sys.stdin.readline(); "
            + "ctypes.CDLL(None).prctl(4, 0, 0, 0, 0); print('hidden', flush=True); import time; time.sleep(60)"
        let child = try Child(
            "/usr/bin/setpriv",
            ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", script]
        )
        defer { child.stop() }
        #expect(child.line() == "ready")
        let nobody = ProcClient(uid: 65534, gid: 65534)
        var files = try ProcessFiles(pid: child.pid, client: nobody)
        let name = try files.verifyingOnce { files throws(ProcError) in try files.command() }
        #expect(name == "python3")
        do {
            _ = try files.verifyingOnce { files throws(ProcError) in
                let name = try files.command()
                child.send("go")
                #expect(child.line() == "hidden")
                _ = try files.statm()
                return name
            }
            Issue.record("read for uid 65534 after the process turned non-dumpable")
        } catch {
            #expect(error == .permissionDenied(path: "/proc/\(child.pid)"))
        }
    }

    @Test func aThreadsStatSaysItIsNoLeader() throws {
        // /proc/TID of a thread is readable though /proc does not list it; a watch that reads the
        // pids allocated since its last sample meets threads' too.
        let child = try Child(
            "/usr/bin/python3",
            [
                "-c",
                "import threading, time; t = threading.Thread(target=time.sleep, args=(60,), daemon=True); "
                    + "t.start(); print(t.native_id, flush=True); time.sleep(60)",
            ]
        )
        defer { child.stop() }
        let thread = try #require(Int32(child.line()))
        var leader = try ProcessFiles(pid: child.pid, client: me)
        #expect(!(try leader.stat().isThread))
        var files = try ProcessFiles(pid: thread, client: me)
        let stat = try files.stat()
        #expect(stat.isThread)
        #expect(stat.pid == thread)
        #expect(!(try processIDs()).contains(thread))
    }

    @Test func lastPIDIsLoadavgsFifthField() throws {
        let text = Array("0.52 0.58 0.59 2/1359 31871\n".utf8)
        #expect(text.withUnsafeBufferPointer { LastPID.parse($0) } == 31871)
        let cut = Array("0.52 0.58 0.59 31871\n".utf8)
        #expect(cut.withUnsafeBufferPointer { LastPID.parse($0) } == nil)
    }

    @Test func aNewProcessMovesTheLastPID() throws {
        #expect(LastPID.isOwnNamespace())
        var reader = ProcReader(capacity: 4096)
        let before = try reader.lastPID()
        let child = try Child("/bin/echo", ["born"])
        #expect(child.line() == "born")
        child.stop()
        let after = try reader.lastPID()
        // Pids are allocated upwards, until they wrap at pid_max.
        #expect(after >= child.pid || after < before, "last pid \(before) → \(after), child \(child.pid)")
        #expect(after != before)
    }
}
