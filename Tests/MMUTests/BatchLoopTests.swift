import Testing

@testable import MMU

/// The batch loop's helpers: each stream names the address it will give `lookahead` calls later, and
/// the entry prefetched for an address is the one its walk reads, inside the tables for any address;
/// each stream takes a run of addresses on one page in one call. Its walk keeps the upper levels of the
/// last 1 GiB region. With all of these, the batch answers as single translations.
struct BatchLoopTests {
    /// `upcoming()` before each `next()` is the address that `next()` returns `lookahead` calls later.
    func expectUpcomingIsLater<S: AddressStream>(_ stream: S, _ count: Int) {
        var copy = stream
        let addresses = (0..<(count + lookahead)).map { _ in copy.next() }
        var s = stream
        for i in 0..<count {
            #expect(s.upcoming() == addresses[i + lookahead], "access \(i)")
            #expect(s.next() == addresses[i])
        }
    }

    @Test func randomStreamKnowsItsUpcomingAddress() {
        expectUpcomingIsLater(RandomStream(XorshiftStream(start: 0x7f00_0000_0000, length: 1 << 30, seed: 7)), 100)
        expectUpcomingIsLater(RandomStream(XorshiftStream(start: 0x1000, length: 12_345 * 4096, seed: 0)), 100)
    }

    @Test func strideStreamKnowsItsUpcomingAddressBeforeItWraps() {
        expectUpcomingIsLater(StrideStream(start: 0x40_0000, length: 1 << 20, step: 64), 1000)
    }

    @Test func bufferStreamKnowsItsUpcomingAddressAndNeverReadsPastItsEnd() {
        let list: [UInt64] = (0..<100).map { 0x7f00_0000_0000 &+ UInt64($0) &* 0x9E37_79B9 }
        list.withUnsafeBufferPointer { buf in
            guard let base = buf.baseAddress else { return }
            let stream = BufferStream(cursor: base, end: base + buf.count)
            expectUpcomingIsLater(stream, list.count - lookahead)
            var s = stream
            for _ in 0..<list.count {
                let hint = s.upcoming()
                #expect(s.cursor + lookahead < s.end || hint == 0)
                _ = s.next()
            }
        }
    }

    /// `take(onPage:)` takes exactly the addresses before the first one off the page (at most `limit`),
    /// adds `frame | offset` for each, and leaves the stream at the first one it did not take.
    func expectTakeMatchesOneByOne<S: AddressStream>(_ stream: S, count: Int) {
        let frame: UInt64 = 0x1234_5000
        var copy = stream
        let addresses = (0..<count).map { _ in copy.next() }
        var s = stream
        var i = 0
        while i < count {
            let page = addresses[i] & ~0xfff
            let limit = (i * 7) % 13
            var run = 0
            var expected: UInt64 = 99
            while run < limit && i + run < count && addresses[i + run] & ~0xfff == page {
                expected &+= frame | (addresses[i + run] & 0xfff)
                run += 1
            }
            var total: UInt64 = 99
            #expect(s.take(onPage: page, frame: frame, limit: min(limit, count - i), into: &total) == run)
            #expect(total == expected, "at \(i)")
            i += run
            if i < count { #expect(s.next() == addresses[i], "at \(i)") }
            i += 1
        }
    }

    @Test func streamsTakeTheirRunOnOnePage() {
        expectTakeMatchesOneByOne(StrideStream(start: 0x40_0fc0, length: 1 << 20, step: 448), count: 3000)
        expectTakeMatchesOneByOne(RandomStream(XorshiftStream(start: 0x7000, length: 3 * 4096, seed: 5)), count: 3000)
        var g = SeededGenerator(seed: 4)
        var list: [UInt64] = []
        while list.count < 3000 {
            let page = 0x7f00_0000_0000 &+ (g.next() % 4) << 12
            list += (0..<Int(g.next() % 11)).map { _ in page | g.next() % 4096 }
        }
        list.withUnsafeBufferPointer { buf in
            guard let base = buf.baseAddress else { return }
            expectTakeMatchesOneByOne(BufferStream(cursor: base, end: base + buf.count), count: buf.count)
        }
    }

    /// Mapped 4 KiB pages: the hint is the walk's own PT entry. Anything else (huge pages, missing
    /// tables, the kernel half, non-canonical addresses): an entry inside the tables.
    @Test func prefetchedEntryIsTheWalksLeafAndAlwaysInsideTheTables() throws {
        let m = try makeMachine(MachineConfig(physicalBytes: 64 * MiB, hugePages: true))
        let pid = try spawn(m)
        let small = try mmapAnon(m, pid, 64 * page, at: 0x4000_1000)
        let huge = try mmapAnon(m, pid, 4 * MiB, at: 0x8000_0000)
        _ = try m.touch(pid: pid, address: small, length: 64 * page, access: .write)
        _ = try m.touch(pid: pid, address: huge, length: 4 * MiB, access: .write)
        let root = try m.process(pid).pml4Slot
        let children = m.tables.children
        for va in stride(from: small, to: small + 64 * page, by: Int(page)) {
            let w = m.walk(root, va &+ 0x123)
            #expect(w.level == .pt && w.isPresent)
            #expect(PageTableStore.leafHint(va &+ 0x123, root: root, children: children) == w.slot * 512 + w.index)
        }
        var x: UInt64 = 88_172_645_463_325_252
        let edges: [UInt64] = [
            0, huge, huge + 3 * MiB, 0x7fff_ffff_f000, 0x8000_0000_0000, .max, 0xffff_8000_0000_0000,
        ]
        for i in 0..<10_000 {
            x ^= x << 13
            x ^= x >> 7
            x ^= x << 17
            let va = i < edges.count ? edges[i] : (i % 2 == 0 ? x : huge &+ x % (4 * MiB))
            let hint = PageTableStore.leafHint(va, root: root, children: children)
            #expect(hint >= 0 && hint < m.tables.slotCount * 512, "\(va)")
        }
    }

    /// Several 1 GiB regions with 4 KiB and 2 MiB pages, tables missing at every level, untouched pages
    /// (demand faults on the way), the kernel half and non-canonical addresses, in a random order:
    /// the batch's outcomes, checksum and TLB counts are those of the same accesses made one by one.
    @Test func batchOverManyRegionsAnswersAsSingleTranslations() throws {
        var g = SeededGenerator(seed: 22)
        let pages: [(UInt64, UInt64)] = [
            (0x4000_0000, 4 * MiB), (0x4080_0000, 64 * page), (0x8000_1000, 64 * page),
            (0x7f00_0000_0000, 32 * page), (0x7f00_4000_0000, 8 * page),
        ]
        let elsewhere: [UInt64] = [
            0xc000_0000, 0x4100_0000, 0x7f00_8000_0000, 0xffff_8000_0000_0000, 0x8000_0000_0000, 0, .max,
        ]
        // Runs on page 0 first (nothing mapped there; no page was translated before them).
        let addresses: [UInt64] =
            [0, 8, 16, 24, 32, 4095]
            + (0..<20_000).map { _ in
                if g.next() % 10 == 0 { return elsewhere[Int(g.next() % UInt64(elsewhere.count))] &+ g.next() % MiB }
                let (start, length) = pages[Int(g.next() % UInt64(pages.count))]
                return start + g.next() % (length + 16 * page)
            }
        var summaries: [TranslationSummary] = []
        for batch in [true, false] {
            let m = try makeMachine(MachineConfig(physicalBytes: 64 * MiB, tlbEntries: 16, hugePages: true))
            let pid = try spawn(m)
            for (i, (start, length)) in pages.enumerated() {
                _ = try mmapAnon(m, pid, length, at: start)
                _ = try m.touch(pid: pid, address: start, length: length / 2, access: i % 2 == 0 ? .write : .read)
            }
            if batch {
                summaries.append(try m.translateBatch(pid: pid, pattern: .addresses(addresses)))
            } else {
                var s = TranslationSummary()
                let (hits, misses) = (m.tlb.hits, m.tlb.misses)
                for va in addresses {
                    let t = try m.translate(pid: pid, address: va)
                    s.outcomes[t.outcome, default: 0] += 1
                    s.physicalAddressSum &+= t.physicalAddress ?? 0
                }
                (s.tlbHits, s.tlbMisses) = (m.tlb.hits - hits, m.tlb.misses - misses)
                summaries.append(s)
            }
        }
        for o in Outcome.allCases {
            #expect((summaries[0].outcomes[o] ?? 0) == (summaries[1].outcomes[o] ?? 0), "\(o)")
        }
        #expect(summaries[0].physicalAddressSum == summaries[1].physicalAddressSum)
        #expect(summaries[0].tlbHits == summaries[1].tlbHits)
        #expect(summaries[0].tlbMisses == summaries[1].tlbMisses)
        #expect((summaries[0].outcomes[.translated] ?? 0) > 5000 && (summaries[0].outcomes[.segv] ?? 0) > 1000)
    }
}
