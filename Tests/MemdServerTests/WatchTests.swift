import Foundation
import JSONRPC
import MemdProtocol
import Testing

/// `meminfo.pressure`: /proc/pressure/memory as the kernel prints it.
@Suite(.serialized) struct PressureInMeminfoTests {
    /// The `some`/`full` lines of /proc/pressure/memory, read by the test itself.
    static func kernelPressure() -> [String: [String: Double]]? {
        guard let text = try? readProc("/proc/pressure/memory"), !text.isEmpty else { return nil }
        var lines: [String: [String: Double]] = [:]
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ")
            var fields: [String: Double] = [:]
            for word in words.dropFirst() {
                let pair = word.split(separator: "=")
                fields[String(pair[0])] = Double(pair[1])
            }
            lines[String(words[0])] = fields
        }
        return lines
    }

    @Test func pressureIsTheKernels() throws {
        let memd = try MemdHarness()
        defer { memd.stop() }
        let client = try memd.client()
        let before = Self.kernelPressure()
        let info = try call(client, "meminfo")
        let after = Self.kernelPressure()
        let pressure = try #require(info["pressure"])
        guard let before, let after else {
            #expect(pressure == .null, "no PSI on this host, so pressure must be null")
            return
        }
        for kind in ["some", "full"] {
            let line = try #require(pressure[kind]?.objectValue, "\(kind)")
            let total = Format.int(line["totalUs"])
            #expect(Double(total) >= before[kind]!["total"]! && Double(total) <= after[kind]!["total"]!)
            for avg in ["avg10", "avg60", "avg300"] {
                let value = Format.double(line[avg])
                let (a, b) = (before[kind]![avg]!, after[kind]![avg]!)
                #expect(value >= min(a, b) && value <= max(a, b), "\(kind).\(avg) \(value) not in \(a)…\(b)")
            }
        }
    }
}
