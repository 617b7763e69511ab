import Foundation
import JSONRPC
import MemdProtocol
import Testing

/// `meminfo` lines that came in together share one read of /proc (``SharedReads``); a line that came
/// after an answer gets a read of its own. Counted by the kernel: memd's read system calls
/// (`syscr` of /proc/PID/io: socket reads and the preads of /proc/meminfo and /proc/pressure/memory).
@Suite(.serialized) struct SharedReadsTests {
    /// memd's read system calls so far.
    func reads(_ memd: MemdHarness) throws -> Int {
        let io = try readProc("/proc/\(memd.process.processIdentifier)/io")
        let row = io.split(separator: "\n").first { $0.hasPrefix("syscr:") } ?? ""
        return Int(row.split(separator: " ").last ?? "") ?? -1
    }

    @Test func pipelinedCallsShareOneRead() throws {
        let memd = try MemdHarness()
        let client = try memd.client()
        _ = try call(client, "meminfo")
        let count = 1000
        var lines: [UInt8] = []
        for id in 1...count { lines += Array("{\"jsonrpc\":\"2.0\",\"id\":\(id),\"method\":\"meminfo\"}\n".utf8) }
        let before = try reads(memd)
        try client.send(lines)
        var answers: [JSON] = []
        for _ in 1...count { answers.append(try JSONParser.parse(try client.readLine())) }
        let used = try reads(memd) - before
        // Read one by one, the thousand take 2,000 preads and more. Together, each socket read of
        // the 44 KB (a few: the client writes while memd reads, and memd stops reading while its
        // answers wait for the client) is followed by one snapshot; add memd's once-a-second statm.
        #expect(used < count / 4, "\(used) read calls for \(count) pipelined meminfo calls")
        #expect(Set(answers.compactMap { $0["id"]?.intValue }) == Set(1...count))
        #expect(answers.allSatisfy { $0["result"]?["total"] != nil })
    }

    @Test func aCallAfterAnAnswerReadsAfresh() throws {
        let memd = try MemdHarness()
        let client = try memd.client()
        _ = try call(client, "meminfo")
        let count = 20
        let before = try reads(memd)
        for _ in 1...count { _ = try call(client, "meminfo") }
        let used = try reads(memd) - before
        // Each call: its socket read and its own reads of /proc/meminfo and /proc/pressure/memory.
        #expect(used >= 3 * count, "\(used) read calls for \(count) calls one after another")
    }
}
