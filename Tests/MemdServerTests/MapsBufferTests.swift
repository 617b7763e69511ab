import Foundation
import JSONRPC
import Logging
import MemdProtocol
import TestSupport
import Testing

@testable import MemdServer

#if canImport(Glibc)
import Glibc
#endif

/// `maps` is written straight into the buffer that is sent (``ResultBuffer``): the writer writes into
/// windows of its memory (64 KiB at least), the response's head goes in front of it. Checked over a real
/// socket against the kernel's /proc/PID/maps, for ids short and longer than the head's room, and
/// with -32003 `responseBytes` where the answer passes `--max-response-bytes`.
struct MapsBufferTests {
    /// A python3 child holding 3,000 one-page mappings (~600 KB of answer: ten windows), alternating
    /// protections so that the kernel cannot merge them; killed when done.
    final class ManyMappings {
        let process = Process()
        let output = Pipe()
        let input = Pipe()
        let count: Int
        init(count: Int = 3000) throws {
            self.count = count
            let script = """
                import mmap, sys, time
                keep = [mmap.mmap(-1, 4096, prot=mmap.PROT_READ | (mmap.PROT_WRITE if i % 2 else 0))
                        for i in range(\(count))]
                print("ready", flush=True)
                sys.stdin.read()
                """
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = ["-c", script]
            process.standardInput = input
            process.standardOutput = output
            try process.run()
            _ = output.fileHandleForReading.availableData  // "ready"
        }
        var pid: Int32 { process.processIdentifier }
        /// Ends the child: its stdin closed and SIGKILL, then a bounded wait (never a hang).
        func stop() {
            try? input.fileHandleForWriting.close()
            kill(process.processIdentifier, SIGKILL)
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning, Date() < deadline { usleep(10_000) }
            if !process.isRunning { process.waitUntilExit() }  // frees the Process (see MemdHarness's deinit)
        }
        deinit { stop() }
    }

    func exchange(_ client: MemdClient, _ line: String) throws -> [UInt8] {
        try client.send(Array((line + "\n").utf8))
        return try client.readLine()
    }

    /// (start, end) of every mapping in /proc/PID/maps, as the kernel shows them now.
    func kernelRanges(_ pid: Int32) throws -> [(UInt64, UInt64)] {
        try readProc("/proc/\(pid)/maps").split(separator: "\n").map { line in
            let range = line.split(separator: " ")[0].split(separator: "-")
            return (UInt64(range[0], radix: 16) ?? 0, UInt64(range[1], radix: 16) ?? 0)
        }
    }

    func ranges(_ result: JSON?) -> [(UInt64, UInt64)] {
        (result?["mappings"]?.arrayValue ?? []).map { m in
            let hex = { (s: JSON?) in UInt64((s?.stringValue ?? "").dropFirst(2), radix: 16) ?? 0 }
            return (hex(m["start"]), hex(m["end"]))
        }
    }

    /// A window is always memory to write into, even for a writer that comes after the text was
    /// taken (or before it was started): an empty one would trap where the writer takes its address.
    @Test func aWindowIsNeverEmpty() {
        let result = ResultBuffer()
        #expect(result.window(committing: 0, atLeast: 100).count >= 100)
        result.start(capacity: 16)
        _ = result.take()
        #expect(result.window(committing: 0, atLeast: 100).count >= 100)
    }

    /// A uid's share of one thread: the read-ahead and smaps_rollup jobs a large maps offers to a
    /// second thread wait behind the call itself, which reads every piece and the totals alone
    /// (nothing waits for a job that has not started) — and answers what the kernel shows.
    @Test(arguments: [false, true])
    func aShareOfOneThreadReadsAlone(detail: Bool) throws {
        let many = try ManyMappings()
        defer { many.stop() }
        let memd = try MemdHarness(["--threads", "1", "--max-threads-per-uid", "1"])
        defer { _ = memd.stop() }
        let client = try memd.client()
        let line = try exchange(
            client,
            #"{"jsonrpc":"2.0","id":1,"method":"maps","params":{"pid":\#(many.pid),"detail":\#(detail)}}"#
        )
        let reply = try JSONParser.parse(line)
        let kernel = try kernelRanges(many.pid)
        let got = ranges(reply["result"])
        #expect(got.count == kernel.count && kernel.count > many.count)
        #expect(zip(got, kernel).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 })
        if detail { #expect(reply["result"]?["totals"]?["rss"]?.intValue ?? 0 > 0) }
        // The thread is free again: a second call is answered too.
        let again = try JSONParser.parse(try exchange(client, #"{"jsonrpc":"2.0","id":2,"method":"meminfo"}"#))
        #expect(again["result"] != nil)
    }

    @Test(arguments: [false, true])
    func largeAnswerIsTheKernelsMapsWhateverTheIDsLength(detail: Bool) throws {
        let many = try ManyMappings()
        defer { many.stop() }
        let memd = try MemdHarness()
        defer { _ = memd.stop() }
        let client = try memd.client()
        let pid = many.pid
        let longID = String(repeating: "i", count: 300)  // longer than the head's room
        var replies: [JSON] = []
        for id in ["1", "\"\(longID)\""] {
            let line = try exchange(
                client,
                #"{"jsonrpc":"2.0","id":\#(id),"method":"maps","params":{"pid":\#(pid),"detail":\#(detail)}}"#
            )
            replies.append(try JSONParser.parse(line))
        }
        let kernel = try kernelRanges(pid)
        #expect(kernel.count > many.count)
        #expect(replies[0]["id"] == 1 && replies[1]["id"] == .string(longID))
        for reply in replies {
            let got = ranges(reply["result"])
            #expect(got.count == kernel.count)
            #expect(zip(got, kernel).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 })
            #expect(reply["result"]?["totals"]?["count"]?.intValue == kernel.count)
        }
        if !detail {  // detail's figures (rss, referenced) may move between the two calls
            let same = replies[0]["result"] == replies[1]["result"]
            #expect(same)
        }
    }

    /// memd's minor faults so far and its resident anonymous bytes (/proc/PID/stat field 10, status RssAnon).
    func faultsAndAnon(_ pid: Int32) throws -> (faults: Int, anon: Int) {
        let stat = try readProc("/proc/\(pid)/stat")
        let fields = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
        let anon = try readProc("/proc/\(pid)/status").split(separator: "\n").first { $0.hasPrefix("RssAnon:") }
        let kB = anon.flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true)[1]) }
        return (Int(fields[7]) ?? 0, (kB ?? 0) * 1024)
    }

    /// A large answer is written into the memory the last one left (``ReplyMemory``): its pages are
    /// not faulted in again (a fresh buffer faults in one page per 4 KiB of answer); and that memory
    /// goes back to the system within two seconds of the last answer.
    @Test func largeAnswersReuseTheirMemoryAndGiveItBack() throws {
        let many = try ManyMappings(count: 12_000)
        defer { many.stop() }
        let memd = try MemdHarness()
        defer { _ = memd.stop() }
        let client = try memd.client()
        let request = #"{"jsonrpc":"2.0","id":1,"method":"maps","params":{"pid":\#(many.pid)}}"#
        let idle = try faultsAndAnon(memd.process.processIdentifier).anon
        var faults: [Int] = []
        var bytes = 0
        for _ in 0..<3 {
            let before = try faultsAndAnon(memd.process.processIdentifier).faults
            bytes = try exchange(client, request).count
            faults.append(try faultsAndAnon(memd.process.processIdentifier).faults - before)
        }
        let pages = bytes / 4096
        #expect(bytes > 1 << 20)
        // Faults and RssAnon count glibc's pages in a plain build; a sanitizer's allocator and shadow
        // memory fault in and keep their own (TSan: 1,299 faults for the second answer of 506 pages).
        guard Sanitizer.checksResidentMemory("faults per call \(faults), answer \(pages) pages") else { return }
        #expect(faults[1] < pages / 4 && faults[2] < pages / 4, "faults per call \(faults), answer \(pages) pages")
        usleep(2_500_000)
        let after = try faultsAndAnon(memd.process.processIdentifier).anon
        #expect(after < idle + bytes / 2, "RssAnon \(idle) before, \(after) 2.5 s after, answer \(bytes)")
    }

    @Test func answerOverTheLimitIsRefusedWithItsID() throws {
        let many = try ManyMappings()
        defer { many.stop() }
        let memd = try MemdHarness(["--max-response-bytes", "200000"])
        defer { _ = memd.stop() }
        let client = try memd.client()
        let pid = many.pid
        for id in ["7", "\"\(String(repeating: "j", count: 300))\""] {
            let reply = try JSONParser.parse(
                try exchange(client, #"{"jsonrpc":"2.0","id":\#(id),"method":"maps","params":{"pid":\#(pid)}}"#)
            )
            #expect(reply["error"]?["code"] == -32003)
            #expect(reply["error"]?["data"]?["resource"] == "responseBytes")
            #expect((reply["error"]?["data"]?["requested"]?.intValue ?? 0) > 200_000)
            #expect(reply["id"] == (id == "7" ? JSON.int(7) : JSON.string(String(repeating: "j", count: 300))))
        }
        // A process with few mappings still answers on the same connection.
        let small = try JSONParser.parse(
            try exchange(
                client,
                #"{"jsonrpc":"2.0","id":8,"method":"maps","params":{"pid":\#(memd.process.processIdentifier)}}"#
            )
        )
        #expect(small["result"]?["mappings"]?.arrayValue?.isEmpty == false)
    }
}

/// The held text is sent in the memory it was written in: the head goes in front of it, nothing is
/// copied (a second reference to the buffer made the head's write copy all of it, page faults and all:
/// 14% of memd's CPU for a `maps` of 60,000 mappings).
@Suite struct HeldTextTests {
    @Test func responseIsTheHeldBufferWithItsHead() async throws {
        let pool = FairPool(threads: 1, maxPerUID: 1)
        let dispatcher = Dispatcher(
            methods: MethodTable(),
            logger: Logger(label: "held-text"),
            pool: pool,
            unsent: UnsentBytes(maxResponseBytes: 1 << 26),
            maxResponseBytes: 1 << 26,
            health: nil
        )
        let result = ResultBuffer()
        result.start(capacity: 64 * 1024)
        let text = [UInt8](repeating: UInt8(ascii: "7"), count: 1 << 20)  // a JSON number, grown past the start
        var window = result.window(committing: 0, atLeast: 64 * 1024)
        for offset in stride(from: 0, to: text.count, by: 64 * 1024) {
            text[offset..<offset + 64 * 1024].withUnsafeBytes { window.copyMemory(from: $0) }
            window = result.window(committing: 64 * 1024, atLeast: offset + 64 * 1024 < text.count ? 64 * 1024 : 0)
        }
        let held = try #require(result.take())
        let textAt = held.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        let line = dispatcher.response(id: .int(7), .null, held: consume held)
        var head = JSONWriter()
        Response.writeHead(id: .int(7), into: &head)
        let lineAt = line.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        #expect(lineAt + UInt(head.bytes.count) == textAt)
        #expect(Array(line.readableBytesView.prefix(head.bytes.count)) == head.bytes)
        #expect(line.readableBytes == head.bytes.count + text.count + Response.resultTail.utf8CodeUnitCount)
        try await pool.shutdown()
    }
}
