import Foundation
import Synchronization
import Testing

@testable import ProcFS

#if canImport(Glibc)
import Glibc
#endif

/// Reading a /proc file a piece at a time (``PieceReader``): whole lines only, whatever the reads
/// cut, in pieces that grow only for a line longer than themselves, read by the consumer or by a
/// helper thread ahead of it.
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
        let reader = PieceReader(descriptor: fds[0], path: "pipe", pieceBytes: capacity)
        var got: [[UInt8]] = []
        try reader.forEachPiece { got.append(Array($0)) }
        return got
    }

    /// `lines` lines of seeded lengths (some longer than a 4 KiB piece), the last without `\n`.
    static func text(lines: Int, seed: UInt64) -> [UInt8] {
        var rng = LineLengths(seed: seed)
        var text: [UInt8] = []
        for index in 0..<lines {
            let length = index % 500 == 7 ? 5000 + Int(rng.next() % 5000) : Int(rng.next() % 120)
            text += (0..<length).map { _ in UInt8(0x61 + rng.next() % 26) } + [0x0A]
        }
        return text + Array("last line without a newline".utf8)
    }

    /// A file of `text` in the temporary directory, opened for reading (unlinked at once).
    static func descriptor(of text: [UInt8]) throws -> Int32 {
        var template = Array("/tmp/piecereader-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        try #require(fd >= 0)
        unlink(String(cString: template))
        let written = text.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
        try #require(written == text.count)
        lseek(fd, 0, SEEK_SET)
        return fd
    }

    /// A helper thread reading ahead while the consumer parses slowly: the pieces still come whole
    /// and in order, and the helper did read some of them (the consumer alone would not fail this).
    @Test(arguments: [2, 3, 5])
    func aHelperReadsAheadAndTheLinesStayInOrder(pieces: Int) throws {
        let text = Self.text(lines: 3000, seed: UInt64(pieces))
        let reader = PieceReader(
            descriptor: try Self.descriptor(of: text),
            path: "file",
            pieces: pieces,
            pieceBytes: 4096
        )
        let helperReads = Counter()
        var threads: [pthread_t] = []
        var got: [UInt8] = []
        var sizes: [Int] = []
        let startingHelper = { threads.append(Self.thread { helperReads.add(reader.readAhead()) }) }
        try reader.forEachPiece(startingHelper: startingHelper) { piece in
            got += piece
            sizes.append(piece.count)
            usleep(200)  // the parse: slower than the read, so the helper gets ahead
        }
        for thread in threads { pthread_join(thread, nil) }
        #expect(threads.count == 1)
        #expect(got == text)
        #expect(sizes.count > 10)
        // The consumer read the first piece; the helper some of the rest (all, on a loaded machine).
        #expect(
            helperReads.value > 0 && helperReads.value <= sizes.count,
            "helper read \(helperReads.value) of \(sizes.count)"
        )
    }

    /// The consumer that stops early (its parse fails) gets its error; the helper stops reading,
    /// and a helper that starts only after the consumer is done reads nothing.
    @Test func aConsumerThatStopsStopsTheHelper() throws {
        let text = Self.text(lines: 3000, seed: 9)
        let reader = PieceReader(descriptor: try Self.descriptor(of: text), path: "file", pieceBytes: 4096)
        var threads: [pthread_t] = []
        let helperReads = Counter()
        var seen = 0
        #expect(throws: ProcError.malformed(path: "file", reason: "stop")) {
            let startingHelper = { threads.append(Self.thread { helperReads.add(reader.readAhead()) }) }
            try reader.forEachPiece(startingHelper: startingHelper) { _ throws(ProcError) in
                seen += 1
                if seen == 4 { throw ProcError.malformed(path: "file", reason: "stop") }
                usleep(200)
            }
        }
        for thread in threads { pthread_join(thread, nil) }
        #expect(helperReads.value <= 3 + 3)  // at most the pieces in flight when it stopped
        #expect(reader.readAhead() == 0)
    }

    /// A count shared with a helper thread.
    final class Counter: Sendable {
        private let count = Mutex(0)
        func add(_ n: Int) { count.withLock { $0 += n } }
        var value: Int { count.withLock { $0 } }
    }

    /// A plain pthread running `body` (joined by the test).
    static func thread(_ body: @escaping () -> Void) -> pthread_t {
        final class Box {
            let body: () -> Void
            init(_ body: @escaping () -> Void) { self.body = body }
        }
        var thread = pthread_t()
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        pthread_create(
            &thread,
            nil,
            { raw in
                let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
                box.body()
                return nil
            },
            box
        )
        return thread
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

/// A job done by whichever thread comes first (``HelpedJob``): the caller never waits for a helper
/// that has not started, and the job runs once.
@Suite struct HelpedJobTests {
    @Test func theCallerDoesTheJobNoHelperStarted() {
        let runs = ReadLinesTests.Counter()
        let job = HelpedJob { () -> Int in
            runs.add(1)
            return 42
        }
        #expect(job.result() == 42)
        job.run()  // a helper that starts late finds nothing to do
        #expect(runs.value == 1)
    }

    @Test func aCancelledJobIsNeverRun() {
        let runs = ReadLinesTests.Counter()
        let job = HelpedJob { () -> Int in
            runs.add(1)
            return 42
        }
        job.cancel()
        job.run()
        #expect(job.result() == nil)
        #expect(runs.value == 0)
    }

    @Test func theCallerWaitsForAHelperThatStarted() {
        let runs = ReadLinesTests.Counter()
        let started = ReadLinesTests.Counter()
        let job = HelpedJob { () -> Int? in
            started.add(1)
            usleep(50_000)
            runs.add(1)
            return nil
        }
        let thread = ReadLinesTests.thread { job.run() }
        while started.value == 0 { usleep(100) }
        #expect(job.result() == .some(nil))  // the helper's value, nil included
        pthread_join(thread, nil)
        #expect(runs.value == 1)
    }
}

/// What a read of smaps with its totals leaves open: nothing, whether it ends or stops early.
@Suite struct SmapsTotalsTests {
    static func openDescriptors() throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
    }

    @Test func aReadThatStopsEarlyLeavesNothingOpen() throws {
        let pid = try ReadLinesTests.sleeper()
        defer {
            kill(pid, SIGKILL)
            waitpid(pid, nil, 0)
        }
        var files = try ProcessFiles(pid: pid, client: ProcClient(uid: geteuid(), gid: getegid()))
        let before = try Self.openDescriptors()
        #expect(throws: ProcError.self) {
            try files.forEachLine(reading: .smaps, totals: true) { _, _, _ throws(ProcError) in
                throw ProcError.malformed(path: "smaps", reason: "stop")
            }
        }
        #expect(try Self.openDescriptors() == before)
        let totals = try files.forEachLine(reading: .smaps, totals: true) { _, _, _ in }
        #expect(totals?.rss ?? 0 > 0)
        #expect(try Self.openDescriptors() == before)
    }
}
