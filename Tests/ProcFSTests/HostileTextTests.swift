import Testing

@testable import ProcFS

/// The kernel is outside memd too: text no kernel writes is refused (`.malformed`) or read as
/// missing, never trapped on. Each case is an input libFuzzer found (or one its finding led to),
/// kept in Fuzz/Corpus as `crash-*` and replayed there through the fuzz targets as well.
@Suite struct HostileTextTests {
    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    func stat(_ text: String) throws(ProcError) -> ProcessStat {
        try bytes(text).withUnsafeBufferPointer { buffer throws(ProcError) in try ProcessStat.parse(buffer) }
    }

    /// A number that does not fit in Int is no number (it used to wrap, then trap as a negative size).
    @Test func decimalsBeyondIntAreNotNumbers() {
        for (text, value) in [
            ("9223372036854775807", Int.max), ("999999999999999999", 999_999_999_999_999_999),
            ("9223372036854775808", nil), ("99999999999999999999999", nil),
        ] {
            let parsed = bytes(text).withUnsafeBufferPointer { buffer in
                var scanner = ByteScanner(buffer)
                return scanner.unsignedDecimal()
            }
            #expect(parsed == value, "\(text)")
        }
        let hex = bytes("1ffffffffffffffff").withUnsafeBufferPointer { buffer in
            var scanner = ByteScanner(buffer)
            return scanner.hex()
        }
        #expect(hex == nil, "17 hex digits do not fit in 64 bits")
    }

    @Test func statPidsBeyondPidT() throws {
        let fields = (2...22).map(String.init).joined(separator: " ")
        #expect(throws: ProcError.self) { try stat("99999999999 (x) R \(fields)") }
        #expect(throws: ProcError.self) { try stat("1 (x) R 99999999999 \(fields.dropFirst(2))") }
        #expect(try stat("2147483647 (x) R 1 \(fields.dropFirst(2))").pid == Int32.max)
    }

    @Test func mapsRangeEndingBelowItsStartIsRefused() {
        #expect(throws: ProcError.self) {
            try bytes("2000-1000 r--p 00000000 00:00 0\n").withUnsafeBufferPointer { buffer throws(ProcError) in
                try MapsParser.parseMaps(buffer)
            }
        }
    }

    /// `smaps: true` keeps every line: a kB figure beyond an exbibyte is left out there too.
    @Test func smapsFieldsBeyondAnExbibyteAreLeftOut() throws {
        let text = "1000-2000 r--p 00000000 00:00 0\nRss: 99999999999999999 kB\nSize: \(1 << 50) kB\nTHPeligible: 1\n"
        let mappings = try bytes(text).withUnsafeBufferPointer { buffer throws(ProcError) in
            try MapsParser.parseSmaps(buffer, fields: true)
        }
        #expect(
            mappings.first?.smaps?.fields == [
                .init(key: "Size", value: 1 << 60, isBytes: true), .init(key: "THPeligible", value: 1, isBytes: false),
            ]
        )
    }

    @Test func kibibyteFiguresBeyondAnExbibyteAreRefused() throws {
        #expect(throws: ProcError.self) {
            try Meminfo.parse(bytes("MemTotal: 2468408444444444444 kB\n"))
        }
        let largest = try Meminfo.parse(bytes("MemTotal: \(1 << 50) kB\nMemFree: \(1 << 50) kB\n"))
        #expect(largest["MemTotal"] == 1 << 60)
        _ = FreeFigures(largest)
        _ = SarMemory(largest)
        let status = bytes("Uid:\t99999999999\t1\nVmRSS:\t99999999999999999 kB\n").withUnsafeBufferPointer {
            ProcessStatus.parse($0)
        }
        #expect(status.rss == 0 && status.realUID == 0 && status.effectiveUID == 1)
        let rollup = bytes("Rss: 99999999999999999 kB\nPss: 4 kB\n").withUnsafeBufferPointer {
            ProcessMemory.parse($0)
        }
        #expect(rollup.rss == 0 && rollup.pss == 4096)
    }

    /// vmstat's counters are unsigned longs that wrap: sums and differences are taken modulo 2^64.
    @Test func pagingCountersWrapInsteadOfTrapping() throws {
        let huge = try bytes("pgsteal_anon 9223372036854775807\npgsteal_file 1\npgpgin -5\n").withUnsafeBufferPointer {
            buffer throws(ProcError) in try Vmstat.parse(buffer)
        }
        let counters = PagingCounters(huge)
        #expect(counters.pgsteal == Int.min)
        let rates = PagingRates(from: PagingCounters(Vmstat(entries: [])), to: counters, seconds: 1)
        #expect(rates.pgpginPerSec == -5)
    }

    /// A cgroup count below zero is not what the kernel prints (unsigned): read as missing.
    @Test func negativeCgroupCountsAreMissing() {
        let files = ["memory.current": "-9223372036854775807\n", "memory.stat": "inactive_file 10\n"]
        let memory = CgroupMemory(path: CgroupPath(components: []), version: .v2, stat: true) { files[$0] }
        #expect(memory.current == nil && memory.workingSet == nil)
        let fine = ["memory.current": "4096\n", "memory.stat": "inactive_file 1024\n"]
        let read = CgroupMemory(path: CgroupPath(components: []), version: .v2, stat: true) { fine[$0] }
        #expect(read.current == 4096 && read.workingSet == 3072)
    }
}
