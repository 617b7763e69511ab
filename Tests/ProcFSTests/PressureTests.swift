import Testing

@testable import ProcFS

@Suite struct PressureTests {
    @Test func capturedMemoryFile() throws {
        let pressure = try Pressure.parse(try fixture("pressure_memory"), path: "pressure_memory")
        let lines = try fixtureLines("pressure_memory")
        #expect(lines.count == 2)
        // The fixture's own numbers, read independently of the parser.
        func total(_ line: Substring) -> Int { Int(line.split(separator: "=").last!)! }
        #expect(pressure.some.totalMicroseconds == total(lines[0]))
        #expect(pressure.full?.totalMicroseconds == total(lines[1]))
    }

    /// Lines as psi.c prints them under load (two decimals, totals in microseconds).
    @Test(arguments: [
        (
            "some avg10=1.53 avg60=0.87 avg300=0.22 total=3841077\nfull avg10=0.61 avg60=0.35 avg300=0.09 total=1650392\n",
            1.53, 0.22, 3_841_077, 1_650_392 as Int?
        ),
        // The system-wide cpu file before Linux 5.13: no full line.
        ("some avg10=100.00 avg60=12.05 avg300=3.00 total=18446744073\n", 100.0, 3.0, 18_446_744_073, nil),
    ])
    func lines(text: String, avg10: Double, avg300: Double, some: Int, full: Int?) throws {
        let pressure = try Pressure.parse(Array(text.utf8), path: "test")
        #expect(pressure.some.avg10 == avg10)
        #expect(pressure.some.avg300 == avg300)
        #expect(pressure.some.totalMicroseconds == some)
        #expect(pressure.full?.totalMicroseconds == full)
        #expect(pressure.some.totalSeconds == Double(some) / 1e6)
    }

    @Test(arguments: [
        "", "full avg10=0.00 avg60=0.00 avg300=0.00 total=5\n", "some avg10=x total=1\n",
        "some avg10=0.00 avg60=0.00 avg300=0.00\n", "some total=12abc\n",
    ])
    func malformed(text: String) {
        #expect(throws: ProcError.self) { try Pressure.parse(Array(text.utf8), path: "test") }
    }

    @Test func unknownFieldsAreSkipped() throws {
        let pressure = try Pressure.parse(Array("some avg10=0.10 avg5=9.99 total=7\n".utf8), path: "test")
        #expect(pressure.some.totalMicroseconds == 7 && pressure.some.avg10 == 0.1 && pressure.full == nil)
    }

    /// The running kernel's file, when it has PSI: totals only grow.
    @Test func liveFile() throws {
        var reader = ProcReader()
        guard let first = try? reader.memoryPressure() else { return }
        let second = try reader.memoryPressure()
        #expect(second.some.totalMicroseconds >= first.some.totalMicroseconds)
        #expect(try #require(second.full).totalMicroseconds >= first.full?.totalMicroseconds ?? 0)
    }
}
