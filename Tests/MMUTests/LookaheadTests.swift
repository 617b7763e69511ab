import Testing

@testable import MMU

/// The batch loop's prefetch: each stream names the address it will give `lookahead` calls later, and
/// the entry prefetched for an address is the one its walk reads, inside the tables for any address.
struct LookaheadTests {
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
}
