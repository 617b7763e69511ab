import Testing

@testable import MMU

struct ForkTests {
    /// 10 written pages at mmap_base − 40 KiB (PT slots 0x1f5…0x1fe of one PT). Fork copies the tables
    /// (the child's PML4 + PDPT + PD + PT = 4 frames), not the pages.
    @Test func forkSharesPagesAndChildWritesCopyThem() throws {
        let m = try makeMachine()
        let parent = try spawn(m)
        let a = try mmapAnon(m, parent, 10 * page)
        #expect(a == 0x7fff_f7ff_5000)
        _ = try m.touch(pid: parent, address: a, length: 10 * page, access: .write)
        let before = try (0..<10).map { i in
            try #require(try m.translate(pid: parent, address: a + UInt64(i) * page, dryRun: true).pfn)
        }
        let free0 = try meminfo(m, "MemFree")

        let child = try m.fork(pid: parent)
        #expect(child == parent + 1)
        #expect(free0 - (try meminfo(m, "MemFree")) == 4 * page)
        for f in before { #expect(try m.frame(Int(f)).refcount == 2) }
        #expect(try m.processStats(pid: child).rss == 10 * page)
        let shared = try m.translate(pid: child, address: a, dryRun: true, trace: true)
        #expect(shared.pfn == before[0])
        #expect(shared.walk?.last?.flags.contains(.cow) == true)
        #expect(shared.walk?.last?.flags.contains(.writable) == false)

        let t = try m.touch(pid: child, address: a, length: 10 * page, access: .write)
        #expect((t.minorFaults, t.cowFaults, t.majorFaults) == (10, 10, 0))
        #expect(free0 - (try meminfo(m, "MemFree")) == 14 * page)
        for (i, f) in before.enumerated() {
            #expect(try m.frame(Int(f)).refcount == 1)
            #expect(try m.translate(pid: parent, address: a + UInt64(i) * page, dryRun: true).pfn == f)
            #expect(try m.translate(pid: child, address: a + UInt64(i) * page, dryRun: true).pfn != f)
        }
        #expect(try m.processStats(pid: child).cowFaults == 10)
        #expect(try m.processStats(pid: parent).cowFaults == 0)
    }

    @Test func lastReferenceOnlyReenablesWrite() throws {
        let m = try makeMachine()
        let parent = try spawn(m)
        let a = try mmapAnon(m, parent, 10 * page)
        _ = try m.touch(pid: parent, address: a, length: 10 * page, access: .write)
        let child = try m.fork(pid: parent)
        _ = try m.touch(pid: child, address: a, length: 10 * page, access: .write)
        let free0 = try meminfo(m, "MemFree")
        let pfn = try m.translate(pid: parent, address: a, dryRun: true).pfn

        let t = try m.touch(pid: parent, address: a, length: 10 * page, access: .write)
        #expect((t.minorFaults, t.cowFaults) == (10, 10))
        #expect(try meminfo(m, "MemFree") == free0, "refcount 1: no copy")
        let after = try m.translate(pid: parent, address: a, dryRun: true, trace: true)
        #expect(after.pfn == pfn)
        #expect(after.walk?.last?.flags.contains(.writable) == true)
        #expect(after.walk?.last?.flags.contains(.cow) == false)
    }

    @Test func exitOfTheChildDropsReferences() throws {
        let m = try makeMachine()
        let parent = try spawn(m)
        let a = try mmapAnon(m, parent, 10 * page)
        _ = try m.touch(pid: parent, address: a, length: 10 * page, access: .write)
        let child = try m.fork(pid: parent)
        // Only the child's 4 table frames become free: the 10 pages are still the parent's.
        #expect(try m.exit(pid: child) == 4)
        let f = try #require(try m.translate(pid: parent, address: a, dryRun: true).pfn)
        #expect(try m.frame(Int(f)).refcount == 1)
        #expect(throws: MMUError.self) { try m.processStats(pid: child) }
    }
}
