import Foundation
import JSONRPC
import MemdProtocol
import Testing

/// Ids over the wire (limits.md §5, v3): a numeric id comes back as the same digits, and
/// `$/cancelRequest` / `watch.stop` with those digits reach the call.
@Suite struct ExactIDProtocolTests {
    static let ids = ["18446744073709551615", "-9223372036854775809", "1.50", "1e400"]

    func send(_ client: MemdClient, _ text: String) throws { try client.send(Array((text + "\n").utf8)) }

    func readText(_ client: MemdClient) throws -> String { String(decoding: try client.readLine(), as: UTF8.self) }

    @Test func idsComeBackDigitForDigit() throws {
        let memd = try MemdHarness()
        defer { memd.stop() }
        let client = try memd.client()
        for id in Self.ids {
            try send(client, #"{"jsonrpc":"2.0","method":"meminfo","id":"# + id + "}")
            #expect(try readText(client).hasPrefix(#"{"jsonrpc":"2.0","id":"# + id + #","result":"#))
        }
        // In a batch too, and in an error.
        try send(client, #"[{"jsonrpc":"2.0","method":"nope","id":18446744073709551615}]"#)
        #expect(try readText(client).hasPrefix(#"[{"jsonrpc":"2.0","id":18446744073709551615,"error":"#))
    }

    @Test(arguments: ids) func cancelWithTheSameDigitsCancels(_ id: String) throws {
        let memd = try MemdHarness()
        defer { memd.stop() }
        let client = try memd.client()
        try send(client, #"{"jsonrpc":"2.0","method":"pageStats","params":{"intervalMs":10000},"id":"# + id + "}")
        usleep(100_000)
        let start = Date()
        try send(client, #"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":"# + id + "}}")
        let line = try readText(client)
        #expect(line.hasPrefix(#"{"jsonrpc":"2.0","id":"# + id + #","error":{"code":-32006"#), "\(line)")
        #expect(Date().timeIntervalSince(start) < 2)
    }

    @Test func watchStopWithTheSameDigitsStopsIt() throws {
        let memd = try MemdHarness()
        defer { memd.stop() }
        let client = try memd.client()
        let id = "18446744073709551616"
        try send(client, #"{"jsonrpc":"2.0","method":"watch","params":{"intervalMs":100},"id":"# + id + "}")
        let sample = try readText(client)
        #expect(sample.contains(#""requestId":"# + id), "\(sample)")
        try send(client, #"{"jsonrpc":"2.0","method":"watch.stop","params":{"id":"# + id + #"},"id":"s"}"#)
        var summary: String?
        var stopReply: String?
        for _ in 0..<50 where summary == nil || stopReply == nil {
            let line = try readText(client)
            if line.hasPrefix(#"{"jsonrpc":"2.0","id":"# + id + ",") { summary = line }
            if line.hasPrefix(#"{"jsonrpc":"2.0","id":"s","#) { stopReply = line }
        }
        #expect(summary?.contains(#""result":"#) == true && summary?.contains(#""stop""#) == true, "\(summary ?? "")")
        #expect(stopReply?.contains(#""stopped":true"#) == true, "\(stopReply ?? "")")
    }
}
