import Testing

@testable import ProcFS

@Suite struct MeminfoTests {
    @Test func everyKeyInOrderWithBytes() throws {
        let bytes = try fixture("meminfo")
        let meminfo = try Meminfo.parse(bytes)
        let lines = try fixtureLines("meminfo")
        #expect(meminfo.entries.count == lines.count)
        for (entry, line) in zip(meminfo.entries, lines) {
            let fields = line.split(separator: " ")
            #expect(entry.key + ":" == fields[0])
            let number = Int(fields[1])!
            #expect(entry.value == (fields.count > 2 ? number * 1024 : number))
        }
    }

    @Test func unknownKeysPassThrough() throws {
        let meminfo = try Meminfo.parse(Array("MemTotal: 100 kB\nFutureThing:  7 kB\nHugePages_Free:  3\n".utf8))
        #expect(meminfo["FutureThing"] == 7168)
        #expect(meminfo["HugePages_Free"] == 3)
        #expect(meminfo.entries[2].isBytes == false)
    }

    func info(_ pairs: [(String, Int)]) -> Meminfo {
        Meminfo(entries: pairs.map { Meminfo.Entry(key: $0.0, value: $0.1 * 1024, isBytes: true) })
    }

    @Test func freeFormulasOfProcps4() {
        let m = info([
            ("MemTotal", 1000), ("MemFree", 100), ("MemAvailable", 600), ("Buffers", 10), ("Cached", 200),
            ("SReclaimable", 30), ("Shmem", 5), ("SwapTotal", 50), ("SwapFree", 20),
        ])
        let free = FreeFigures(m)
        #expect(free.used == 400 * 1024 && free.cache == 230 * 1024 && free.buffCache == 240 * 1024)
        #expect(free.swapUsed == 30 * 1024 && free.available == 600 * 1024)
        // No MemAvailable (kernel < 3.14), or an impossible one: MemFree stands in.
        #expect(FreeFigures(info([("MemTotal", 1000), ("MemFree", 100)])).available == 100 * 1024)
        #expect(FreeFigures(info([("MemTotal", 1000), ("MemFree", 100), ("MemAvailable", 2000)])).used == 900 * 1024)
    }

    @Test func sarFormulasOfSysstat12_7_9() {
        let m = info([
            ("MemTotal", 1000), ("MemFree", 100), ("MemAvailable", 600), ("Buffers", 10), ("Cached", 200),
            ("SReclaimable", 30), ("Committed_AS", 1650), ("SwapTotal", 100),
        ])
        let sar = SarMemory(m)
        #expect(sar.memUsed == 400 * 1024 && sar.memUsedPercent == 40)
        #expect(sar.cached == 200 * 1024)  // no SReclaimable, unlike free
        #expect(sar.commitPercent == 150)  // over 100 is allowed
    }

    @Test func pgstealNeverDoubleCounts() throws {
        let modern = try Vmstat.parse(
            Array("pgsteal_kswapd 5\npgsteal_direct 6\npgsteal_anon 4\npgsteal_file 7\n".utf8)
        )
        #expect(PagingCounters(modern).pgsteal == 11)
        let old = try Vmstat.parse(Array("pgsteal_kswapd 5\npgsteal_direct 6\npgsteal_khugepaged 1\n".utf8))
        #expect(PagingCounters(old).pgsteal == 12)
        let captured = try Vmstat.parse(try fixture("vmstat"))
        #expect(captured.entries.count == (try fixtureLines("vmstat")).count)
    }

    @Test func ratesAndVmeff() {
        var a = PagingCounters(Vmstat(entries: []))
        var b = a
        a.pgscanKswapd = 100
        b.pgscanKswapd = 300
        b.pgscanDirect = 100
        b.pgsteal = 375
        b.pgfault = 1000
        let rates = PagingRates(from: a, to: b, seconds: 2)
        #expect(rates.faultPerSec == 500 && rates.pgscankPerSec == 100 && rates.pgstealPerSec == 187.5)
        #expect(rates.vmeffPercent == 125)
        #expect(PagingRates(from: a, to: a, seconds: 1).vmeffPercent == 0)
    }
}

extension Meminfo {
    static func parse(_ bytes: [UInt8]) throws -> Meminfo {
        try bytes.withUnsafeBufferPointer { buffer throws(ProcError) in try Meminfo.parse(buffer) }
    }
}

extension Vmstat {
    static func parse(_ bytes: [UInt8]) throws -> Vmstat {
        try bytes.withUnsafeBufferPointer { buffer throws(ProcError) in try Vmstat.parse(buffer) }
    }
}
