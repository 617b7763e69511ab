import Testing

@testable import MMU

struct DemandPagingTests {
    /// The seed's experiment: mmap 100 MiB, then write every page.
    /// 0x7ffff1bff000 (mmap_base 0x7ffff7fff000 − 100 MiB) is the last slot of its PT, so the 25,600 pages
    /// need 1 + ceil(25,599 / 512) = 51 PTs, one PD and one PDPT (both new: nothing was mapped there).
    @Test func writing100MiBTakes25600MinorFaultsAndFramesPlusTables() throws {
        let m = try makeMachine(MachineConfig(physicalBytes: 256 * MiB))
        let pid = try spawn(m)
        let free0 = try meminfo(m, "MemFree")
        let a = try mmapAnon(m, pid, 100 * MiB)
        #expect(a == 0x7fff_f1bf_f000)
        #expect(try meminfo(m, "MemFree") == free0, "mmap only reserves virtual space")
        #expect(try m.processStats(pid: pid).vsz == (64 + 16 + 132 + 132) * 1024 + 100 * MiB)

        let t = try m.touch(pid: pid, address: a, length: 100 * MiB, access: .write)
        #expect(t.pagesTouched == 25_600)
        #expect(t.minorFaults == 25_600)
        #expect(t.majorFaults == 0)
        #expect(t.cowFaults == 0)
        #expect(free0 - (try meminfo(m, "MemFree")) == (25_600 + 51 + 1 + 1) * page)
        #expect(try meminfo(m, "PageTables") == UInt64(6 + 1 + 53) * page)
        #expect(try meminfo(m, "AnonPages") == 100 * MiB)
        let s = try m.processStats(pid: pid)
        #expect(s.rss == 100 * MiB)
        #expect(s.minflt == 25_600)
        #expect(try vmstat(m, "pgfault") == 25_600)

        let again = try m.touch(pid: pid, address: a, length: 100 * MiB, access: .write)
        #expect(again.minorFaults == 0, "already mapped: no faults")
    }

    @Test func firstWriteAllocatesAtOnce() throws {
        let m = try makeMachine()
        let pid = try spawn(m)
        let a = try mmapAnon(m, pid, page)
        let t = try m.touch(pid: pid, address: a, length: page, access: .write)
        #expect((t.minorFaults, t.cowFaults) == (1, 0))
        #expect(try m.processStats(pid: pid).rss == page)
    }

    @Test func readMapsTheZeroPageThenWriteIsCopyOnWrite() throws {
        let m = try makeMachine()
        let pid = try spawn(m)
        let a = try mmapAnon(m, pid, 4 * page)
        let r = try m.touch(pid: pid, address: a, length: 4 * page, access: .read)
        #expect((r.minorFaults, r.cowFaults) == (4, 0))
        #expect(try m.processStats(pid: pid).rss == 0, "the zero page is not counted in rss")
        let zero = try #require(try m.translate(pid: pid, address: a, dryRun: true).pfn)
        #expect(try m.frame(Int(zero)).owner == .zero)
        #expect(try m.translate(pid: pid, address: a + 3 * page, dryRun: true).pfn == zero)

        let w = try m.touch(pid: pid, address: a, length: 4 * page, access: .write)
        #expect((w.minorFaults, w.cowFaults) == (4, 4))
        let s = try m.processStats(pid: pid)
        #expect((s.rss, s.minflt, s.cowFaults) == (4 * page, 8, 4))
        let own = try #require(try m.translate(pid: pid, address: a, dryRun: true).pfn)
        #expect(own != zero)
        #expect(try m.frame(Int(own)) == FrameInfo(pfn: Int(own), owner: .anonymous, refcount: 1))
    }

    @Test func mmapBeyondPhysicalMemorySucceeds() throws {
        let m = try makeMachine()  // 64 MiB
        let pid = try spawn(m)
        let r = try m.mmap(pid: pid, length: 1 << 40, protection: [.read, .write])
        #expect(r.address != nil && r.errno == nil)
        #expect(try m.processStats(pid: pid).vsz == (64 + 16 + 132 + 132) * 1024 + (1 << 40))
    }

    @Test func bootAccountsKernelFramesAsUsed() throws {
        let m = try makeMachine()
        #expect(try meminfo(m, "MemTotal") == 64 * MiB)
        #expect(try meminfo(m, "MemFree") == UInt64(16_384 - bootFrames) * page)
        #expect(try meminfo(m, "PageTables") == 6 * page)
        _ = try spawn(m)
        #expect(try meminfo(m, "MemFree") == UInt64(16_384 - bootFrames - 1) * page, "the PML4")
    }
}
