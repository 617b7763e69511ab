import Foundation
import JSONRPC
import MemdProtocol
import TestSupport
import Testing

/// `meminfo` lines that came in together share one read of /proc (``SharedReads``); a line that came
/// after an answer gets a read of its own. Counted by the kernel: the bytes memd read (`rchar` of
/// /proc/PID/io), less the requests' own, in snapshots of /proc/meminfo and /proc/pressure/memory.
@Suite(.serialized) struct SharedReadsTests {
    /// The bytes memd has read so far.
    func bytesRead(_ memd: MemdHarness) throws -> Int {
        let io = try readProc("/proc/\(memd.process.processIdentifier)/io")
        let row = io.split(separator: "\n").first { $0.hasPrefix("rchar:") } ?? ""
        return Int(row.split(separator: " ").last ?? "") ?? -1
    }

    /// The bytes of one snapshot: /proc/meminfo and /proc/pressure/memory as the kernel prints them.
    func snapshotBytes() throws -> Int {
        try readProc("/proc/meminfo").utf8.count + ((try? readProc("/proc/pressure/memory"))?.utf8.count ?? 0)
    }

    func request(_ id: Int) -> [UInt8] { Array("{\"jsonrpc\":\"2.0\",\"id\":\(id),\"method\":\"meminfo\"}\n".utf8) }

    @Test func pipelinedCallsShareOneRead() throws {
        let memd = try MemdHarness()
        let client = try memd.client()
        _ = try call(client, "meminfo")
        let count = 1000
        let lines = (1...count).flatMap(request)
        let before = try bytesRead(memd)
        try client.send(lines)
        var answers: [JSON] = []
        for _ in 1...count { answers.append(try JSONParser.parse(try client.readLine())) }
        let snapshots = Double(try bytesRead(memd) - before - lines.count) / Double(try snapshotBytes())
        // Read one by one, the thousand take a thousand snapshots. Together, each socket read of the
        // 44 KB (a few: the client writes while memd reads) is followed by one; the rest of what memd
        // reads (its turns' bell, its once-a-second statm) is a few bytes. Under a sanitizer memd and
        // this client are slower in turn and read smaller pieces, up to that many times as many; fewer
        // snapshots than calls still shows them shared (TSan: ~170 socket reads for 1,000).
        let bound = min(Double(count), Double(count) / 10 * Sanitizer.slowdown)
        #expect(snapshots < bound, "\(snapshots) snapshots for \(count) pipelined meminfo calls")
        #expect(Set(answers.compactMap { $0["id"]?.intValue }) == Set(1...count))
        #expect(answers.allSatisfy { $0["result"]?["total"] != nil })
    }

    @Test func aCallAfterAnAnswerReadsAfresh() throws {
        let memd = try MemdHarness()
        let client = try memd.client()
        _ = try call(client, "meminfo")
        let count = 20
        let before = try bytesRead(memd)
        for id in 1...count {
            try client.send(request(id))
            _ = try client.readLine()
        }
        let snapshots = Double(try bytesRead(memd) - before - count * request(0).count) / Double(try snapshotBytes())
        #expect(snapshots >= Double(count) * 0.95, "\(snapshots) snapshots for \(count) calls one after another")
    }
}
