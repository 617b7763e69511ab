import Testing

@testable import MMU

struct SwapTests {
    /// 8 MiB RAM (2048 frames; 263 boot + 1 PML4 → 1784 free), 8 MiB swap. Writing 12 MiB at
    /// 0x7ffff73ff000 needs 3072 pages + 7 PTs + PD + PDPT = 3081 frames: 1297 short, so reclaim swaps
    /// out 41 batches of 32 = 1312 pages (oldest addresses first) and 15 frames stay free. No OOM.
    @Test func anonymousPagesGoToSwapInsteadOfOOM() throws {
        let m = try makeMachine(MachineConfig(physicalBytes: 8 * MiB, swapBytes: 8 * MiB))
        let pid = try spawn(m)
        let a = try mmapAnon(m, pid, 12 * MiB)
        #expect(a == 0x7fff_f73f_f000)
        let t = try m.touch(pid: pid, address: a, length: 12 * MiB, access: .write)
        #expect(t.oomKilled.isEmpty && t.minorFaults == 3072)
        #expect(try vmstat(m, "pswpout") == 1312)
        #expect(try vmstat(m, "pgsteal_anon") == 1312)
        #expect(try vmstat(m, "oom_kill") == 0)
        #expect(try meminfo(m, "SwapFree") == 8 * MiB - 1312 * page)
        #expect(try meminfo(m, "MemFree") == 15 * page)
        let s = try m.processStats(pid: pid)
        #expect((s.rss, s.swap) == ((3072 - 1312) * page, 1312 * page))
        #expect(try m.mappings(pid: pid, detail: true).first { $0.start == a }?.detail?.swap == 1312 * page)

        let dry = try m.translate(pid: pid, address: a, dryRun: true, trace: true)
        #expect(dry.outcome == .swapped && !dry.isPresent && dry.pfn == nil)
        #expect(dry.walk?.last?.flags.contains(.swapped) == true)
        let back = try m.touch(pid: pid, address: a, length: page, access: .read)
        #expect((back.majorFaults, back.minorFaults) == (1, 0))
        #expect(try vmstat(m, "pswpin") == 1)
        #expect(try meminfo(m, "SwapFree") == 8 * MiB - 1311 * page)

        _ = try m.exit(pid: pid)
        #expect(try meminfo(m, "SwapFree") == 8 * MiB)
    }

    @Test func swappedContentsComeBack() throws {
        let m = try makeMachine(MachineConfig(physicalBytes: 8 * MiB, swapBytes: 8 * MiB))
        let pid = try spawn(m)
        let a = try mmapAnon(m, pid, 12 * MiB)
        _ = try m.write(pid: pid, address: a + 10, bytes: Array("kept".utf8))
        _ = try m.touch(pid: pid, address: a, length: 12 * MiB, access: .write)
        #expect(try m.translate(pid: pid, address: a, dryRun: true).outcome == .swapped)
        #expect(try m.read(pid: pid, address: a + 10, length: 4).bytes == Array("kept".utf8))
    }

    @Test func forkSharesSwapSlots() throws {
        let m = try makeMachine(MachineConfig(physicalBytes: 8 * MiB, swapBytes: 8 * MiB))
        let pid = try spawn(m)
        let a = try mmapAnon(m, pid, 12 * MiB)
        _ = try m.touch(pid: pid, address: a, length: 12 * MiB, access: .write)
        let used = 8 * MiB - (try meminfo(m, "SwapFree"))
        let child = try m.fork(pid: pid)
        #expect(8 * MiB - (try meminfo(m, "SwapFree")) == used, "slots are shared, not copied")
        #expect(try m.processStats(pid: child).swap == used)
        _ = try m.exit(pid: pid)
        #expect(8 * MiB - (try meminfo(m, "SwapFree")) == used, "the child still refers to them")
        _ = try m.exit(pid: child)
        #expect(try meminfo(m, "SwapFree") == 8 * MiB)
    }
}
