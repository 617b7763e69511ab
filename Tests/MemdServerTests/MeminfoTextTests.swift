import Foundation
import JSONRPC
import Testing

@testable import MemdServer

/// `meminfo`'s text is encoded again exactly when the kernel's text changed: files written here
/// stand for /proc/meminfo and /proc/pressure/memory.
@Suite struct MeminfoTextTests {
    let directory: URL = {
        let url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent(
            "meminfo-text-\(UUID().uuidString.prefix(8))"
        )
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    func meminfo(free kB: Int) -> String {
        "MemTotal:       16000000 kB\nMemFree:        \(kB) kB\nMemAvailable:   9000000 kB\n"
            + "Buffers:          100000 kB\nCached:          2000000 kB\nSwapTotal:             0 kB\n"
            + "SwapFree:              0 kB\n"
    }

    let pressure = """
        some avg10=0.00 avg60=0.00 avg300=0.00 total=100
        full avg10=0.00 avg60=0.00 avg300=0.00 total=50

        """

    func write(_ text: String, _ name: String) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func free(_ json: JSON) throws -> Int? {
        guard case .raw(let bytes) = json else { return nil }
        return try JSONParser.parse(bytes)["free"]?.intValue
    }

    @Test func encodesAgainOnlyWhatChanged() throws {
        let meminfoPath = try write(meminfo(free: 1000), "meminfo")
        let pressurePath = try write(pressure, "pressure")
        var text = MeminfoText(meminfoPath: meminfoPath, pressurePath: pressurePath)
        let first = try text.read()
        #expect(try free(first) == 1000 * 1024)
        #expect(try text.read() == first)

        _ = try write(meminfo(free: 2000), "meminfo")
        let second = try text.read()
        #expect(try free(second) == 2000 * 1024)

        _ = try write(pressure.replacingOccurrences(of: "total=50", with: "total=51"), "pressure")
        let third = try text.read()
        #expect(third != second)
        guard case .raw(let bytes) = third else { return }
        #expect(try JSONParser.parse(bytes)["pressure"]?["full"]?["totalUs"] == 51)

        try FileManager.default.removeItem(atPath: pressurePath)  // a kernel without PSI
        let fourth = try text.read()
        guard case .raw(let none) = fourth else { return }
        #expect(try JSONParser.parse(none)["pressure"] == .null)
        try? FileManager.default.removeItem(at: directory)
    }
}
