import Testing

@testable import ProcFS

#if canImport(Glibc)
import Glibc
#endif

/// Reading a /proc file a piece at a time: whole lines only, whatever the reads cut, through a
/// buffer that grows only for a line longer than itself.
@Suite struct ReadLinesTests {
    /// Feeds `text` through a pipe in writes of the given sizes and collects what `readLines` hands on.
    static func pieces(_ text: [UInt8], writes sizes: [Int], capacity: Int) throws -> [[UInt8]] {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        var offset = 0
        var index = 0
        while offset < text.count {  // the pipe holds 64 KiB: the texts here are smaller
            let n = min(sizes[index % sizes.count], text.count - offset)
            _ = text.withUnsafeBytes { write(fds[1], $0.baseAddress! + offset, n) }
            offset += n
            index += 1
        }
        close(fds[1])
        defer { close(fds[0]) }
        var file = ProcFile(capacity: capacity)
        var got: [[UInt8]] = []
        try file.readLines(descriptor: fds[0], path: "pipe") { got.append(Array($0)) }
        return got
    }

    @Test(arguments: [1, 2, 3, 7, 64, 1000])
    func everyPieceEndsAtALineAndNothingIsLost(writeSize: Int) throws {
        var rng = LineLengths(seed: UInt64(writeSize))
        var text: [UInt8] = []
        for _ in 0..<200 {
            let length = Int(rng.next() % 90)
            text += (0..<length).map { _ in UInt8(0x61 + rng.next() % 26) } + [0x0A]
        }
        text += Array("last line without a newline".utf8)
        let got = try Self.pieces(text, writes: [writeSize, writeSize * 3 + 1], capacity: 4096)
        #expect(got.flatMap { $0 } == text)
        for piece in got.dropLast() { #expect(piece.last == 0x0A) }
    }

    @Test func aLineLongerThanTheBufferGrowsIt() throws {
        let long = [UInt8](repeating: 0x78, count: 10_000) + [0x0A]
        let text = Array("short\n".utf8) + long + Array("after\n".utf8)
        let got = try Self.pieces(text, writes: [512], capacity: 4096)
        #expect(got.flatMap { $0 } == text)
    }

    /// smaps read a piece at a time gives what the whole file parsed at once gives, for a process
    /// whose mappings hold still between the two reads: a `sleep` in its nanosleep (the test
    /// runner's own moved: its threads map memory, under ThreadSanitizer 413 then 415 mappings).
    @Test func streamingSmapsMatchesParsingTheWholeFile() throws {
        let pid = try Self.sleeper()
        defer {
            kill(pid, SIGKILL)
            waitpid(pid, nil, 0)
        }
        var files = try ProcessFiles(pid: pid, client: ProcClient(uid: geteuid(), gid: getegid()))
        let streamed = try files.smaps()
        var reader = ProcReader()
        let whole = try reader.smaps(pid: pid)
        #expect(streamed.count == whole.count && streamed.count > 5)
        // What the reads see of each mapping, all but PSS (it moves as other processes map the same
        // libc) and the page flags that reclaim ages.
        #expect(streamed.map(\.start) == whole.map(\.start) && streamed.map(\.end) == whole.map(\.end))
        #expect(streamed.map(\.path) == whole.map(\.path))
        #expect(streamed.map(\.perms) == whole.map(\.perms))
        #expect(streamed.allSatisfy { $0.detail != nil } && whole.allSatisfy { $0.detail != nil })
        #expect(streamed.map { $0.detail?.rss } == whole.map { $0.detail?.rss })
    }

    /// A `sleep 60` started with posix_spawn, once it sleeps (state S after its exec and its loader's
    /// mappings: nothing maps or unmaps in it from then on).
    static func sleeper() throws -> pid_t {
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("sleep"), strdup("60"), nil]
        defer { for argument in argv { free(argument) } }
        #expect(posix_spawnp(&pid, "sleep", nil, nil, argv, environ) == 0)
        for _ in 0..<1000 {
            var reader = ProcReader()
            if let stat = try? reader.stat(pid: pid), stat.comm == "sleep", stat.state == "S" { return pid }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, nil, 0)
        throw ProcError.notFound(path: "/proc/\(pid)/stat: sleep never slept")
    }
}

/// A seeded linear congruential generator (Knuth's MMIX constants): enough to vary line lengths.
struct LineLengths {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state >> 33
    }
}
