import Testing

@testable import MMU

struct TLBTests {
    /// A trace of page numbers relative to a mapping at 0x10000000 (VPN 0x10000, ≡ 0 mod every set count).
    /// 4 entries: 1 way (4 sets, direct-mapped), 2 ways (2 sets), 4 ways (1 set, fully associative LRU).
    @Test(arguments: [
        // p0 p1 p0 p4 p0 p1 p5 p1: direct-mapped: p4 evicts p0, p5 evicts p1.
        (4, 1, [0, 1, 0, 4, 0, 1, 5, 1], 2, 6),
        (4, 2, [0, 1, 0, 4, 0, 1, 5, 1], 4, 4),
        (4, 4, [0, 1, 0, 4, 0, 1, 5, 1], 4, 4),
        // p0 p1 p2 p3 p0 p4 p1: one set of 4: LRU evicts p1 for p4 (FIFO would evict p0), so p1 misses.
        (4, 4, [0, 1, 2, 3, 0, 4, 1], 1, 6),
        // 2 sets of 2: p4 evicts p2 (LRU of set 0 after p0's hit); p1 still in set 1.
        (4, 2, [0, 1, 2, 3, 0, 4, 1], 2, 5),
        // direct-mapped: p4 evicts p0 (just hit), p1 untouched in set 1.
        (4, 1, [0, 1, 2, 3, 0, 4, 1], 2, 5),
        // 2 sets of 2: p0 p2 p4 p0 in set 0 — LRU evicts p0 for p4, then p0 evicts p2.
        (4, 2, [0, 2, 4, 0, 2], 0, 5),
        (4, 4, [0, 2, 4, 0, 2], 2, 3),
    ])
    func knownTraceGivesKnownHitsAndMisses(entries: Int, ways: Int, trace: [Int], hits: Int, misses: Int) throws {
        let m = try makeMachine(MachineConfig(tlbEntries: entries, tlbWays: ways))
        let pid = try spawn(m)
        let base = try mmapAnon(m, pid, 8 * page, at: 0x1000_0000)
        #expect(base == 0x1000_0000)
        _ = try m.touch(pid: pid, address: base, length: 8 * page, access: .write)
        try m.flushTLB()
        let s = try m.translateBatch(pid: pid, pattern: .addresses(trace.map { base + UInt64($0) * page }))
        #expect((s.tlbHits, s.tlbMisses) == (UInt64(hits), UInt64(misses)))
        #expect(s.outcomes[.tlbHit] == hits && s.outcomes[.translated] == misses)
    }

    @Test(arguments: [
        (false, [Outcome.translated, .translated, .translated]), (true, [.translated, .translated, .tlbHit]),
    ])
    func addressSpaceSwitchFlushesUnlessPCID(pcid: Bool, expected: [Outcome]) throws {
        let m = try makeMachine(MachineConfig(pcid: pcid))
        let a = try spawn(m, "a")
        let b = try spawn(m, "b")
        let pa = try mmapAnon(m, a, page)
        let pb = try mmapAnon(m, b, page)
        _ = try m.touch(pid: a, address: pa, length: page, access: .write)
        _ = try m.touch(pid: b, address: pb, length: page, access: .write)
        try m.flushTLB()
        let got = [
            try m.translate(pid: a, address: pa).outcome,
            try m.translate(pid: b, address: pb).outcome,
            try m.translate(pid: a, address: pa).outcome,
        ]
        #expect(got == expected)
    }

    @Test func handledFaultFillsTheTLBAndCountsAsMiss() throws {
        let m = try makeMachine()
        let pid = try spawn(m)
        let a = try mmapAnon(m, pid, page)
        let h0 = m.tlbHits
        let m0 = m.tlbMisses
        #expect(try m.translate(pid: pid, address: a, access: .write).outcome == .minorFault)
        #expect(try m.translate(pid: pid, address: a + 8, access: .write).outcome == .tlbHit)
        #expect((m.tlbHits - h0, m.tlbMisses - m0) == (1, 1))
    }

    @Test func munmapInvalidatesTheEntry() throws {
        let m = try makeMachine()
        let pid = try spawn(m)
        let a = try mmapAnon(m, pid, 2 * page)
        _ = try m.touch(pid: pid, address: a, length: 2 * page, access: .write)
        #expect(try m.translate(pid: pid, address: a).outcome == .tlbHit)
        #expect(try m.munmap(pid: pid, address: a, length: page) == 1)
        let t = try m.translate(pid: pid, address: a)
        #expect(t.outcome == .segv)
        #expect(t.segv?.reason.contains("SEGV_MAPERR") == true)
        #expect(try m.translate(pid: pid, address: a + page).outcome == .tlbHit, "the other page stays")
    }

    @Test func copyOnWriteBreakReplacesTheCachedReadOnlyEntry() throws {
        let m = try makeMachine()
        let pid = try spawn(m)
        let a = try mmapAnon(m, pid, page)
        _ = try m.touch(pid: pid, address: a, length: page, access: .read)
        let zero = try m.translate(pid: pid, address: a)
        #expect(zero.outcome == .tlbHit)
        let w = try m.translate(pid: pid, address: a, access: .write)
        #expect(w.outcome == .cowFault)
        #expect(w.pfn != zero.pfn)
        #expect(try m.translate(pid: pid, address: a).pfn == w.pfn)
    }
}
