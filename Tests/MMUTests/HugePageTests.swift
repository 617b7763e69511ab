import Testing

@testable import MMU

struct HugePageTests {
    /// hugePages on: writing a 2 MiB-aligned 4 MiB mapping takes two faults and two 2 MiB pages,
    /// mapped by PD entries (no PTs: only a PDPT and a PD are new).
    @Test func alignedAnonymousWritesGetTwoMiBPages() throws {
        let m = try makeMachine(MachineConfig(hugePages: true))
        let pid = try spawn(m)
        let a = try mmapAnon(m, pid, 4 * MiB, at: 0x4000_0000)
        let free0 = try meminfo(m, "MemFree")
        let t = try m.touch(pid: pid, address: a, length: 4 * MiB, access: .write)
        #expect((t.minorFaults, t.pagesTouched) == (2, 1024))
        #expect(free0 - (try meminfo(m, "MemFree")) == (1024 + 2) * page)
        #expect(try m.processStats(pid: pid).rss == 4 * MiB)
        let tr = try m.translate(pid: pid, address: a + 0x1234, dryRun: true, trace: true)
        #expect(tr.walk?.map(\.level) == [.pml4, .pdpt, .pd])
        #expect(tr.walk?.last?.flags.contains(.hugePage) == true)
        #expect(tr.pageSize == 2 * MiB)
        #expect(tr.pfn.map { $0 % 512 } == 1, "4 KiB frame 1 of an aligned 2 MiB block")
        let d = try #require(try m.mappings(pid: pid, detail: true).first { $0.start == a }?.detail)
        #expect(d.anonHugePages == 4 * MiB)
    }

    @Test func unalignedOrSmallMappingsStayOnFourKiB() throws {
        let m = try makeMachine(MachineConfig(hugePages: true))
        let pid = try spawn(m)
        let a = try mmapAnon(m, pid, 2 * MiB, at: 0x4000_1000)
        let t = try m.touch(pid: pid, address: a, length: 2 * MiB, access: .write)
        #expect(t.minorFaults == 512)
    }

    /// After fork the 2 MiB pages are shared CoW; the child's write splits its PD entry into a PT and
    /// copies one 4 KiB page. The parent's munmap of one page splits its own and frees that frame.
    @Test func copyOnWriteAndPartialUnmapSplitTheHugePage() throws {
        let m = try makeMachine(MachineConfig(hugePages: true))
        let parent = try spawn(m)
        let a = try mmapAnon(m, parent, 4 * MiB, at: 0x4000_0000)
        _ = try m.touch(pid: parent, address: a, length: 4 * MiB, access: .write)
        let child = try m.fork(pid: parent)
        #expect(try m.processStats(pid: child).rss == 4 * MiB)
        let free0 = try meminfo(m, "MemFree")
        let w = try m.touch(pid: child, address: a, length: page, access: .write)
        #expect((w.minorFaults, w.cowFaults) == (1, 1))
        #expect(free0 - (try meminfo(m, "MemFree")) == 2 * page, "one PT, one copied page")
        #expect(try m.translate(pid: child, address: a + page, dryRun: true, trace: true).walk?.count == 4)
        #expect(try m.translate(pid: parent, address: a, dryRun: true, trace: true).walk?.count == 3)

        #expect(try m.munmap(pid: parent, address: a, length: page) == 1)
        #expect(try m.processStats(pid: parent).rss == 4 * MiB - page)
        #expect(
            try m.translate(pid: parent, address: a + page, dryRun: true).pfn
                == (try m.translate(pid: child, address: a + page, dryRun: true).pfn)
        )
    }
}
