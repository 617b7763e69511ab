import Testing

@testable import MMU

struct OOMTests {
    /// 8 MiB = 2048 frames, 263 at boot. Process 1 writes 4 MiB (1024 pages); process 2 writes 4 MiB
    /// too and runs out with fewer pages than process 1: the OOM killer takes process 1 (largest rss),
    /// and process 2 finishes.
    @Test func killsTheLargestRSS() throws {
        let m = try makeMachine(MachineConfig(physicalBytes: 8 * MiB))
        let big = try spawn(m, "big")
        let small = try spawn(m, "small")
        let a = try mmapAnon(m, big, 4 * MiB)
        #expect(try m.touch(pid: big, address: a, length: 4 * MiB, access: .write).oomKilled.isEmpty)
        let b = try mmapAnon(m, small, 4 * MiB)
        let t = try m.touch(pid: small, address: b, length: 4 * MiB, access: .write)
        #expect(t.oomKilled == [big])
        #expect(t.pagesTouched == 1024 && t.minorFaults == 1024)
        #expect(try vmstat(m, "oom_kill") == 1)
        #expect(m.summary().oomKills == 1)
        #expect(throws: MMUError.self) { try m.processStats(pid: big) }
        #expect(try m.processStats(pid: small).rss == 4 * MiB)
    }

    @Test func killsTheFaultingProcessWhenItIsTheLargest() throws {
        let m = try makeMachine(MachineConfig(physicalBytes: 8 * MiB))
        let pid = try spawn(m)
        let a = try mmapAnon(m, pid, 16 * MiB)
        let t = try m.touch(pid: pid, address: a, length: 16 * MiB, access: .write)
        #expect(t.oomKilled == [pid])
        #expect(t.pagesTouched < 2048)
        #expect(m.pids.isEmpty)
        // Everything it had is free again: only the boot frames are used.
        #expect(try meminfo(m, "MemFree") == UInt64(2048 - bootFrames) * page)
    }

    @Test func panicOnOomPanicsAndEveryLaterCallErrors() throws {
        let m = try makeMachine(MachineConfig(physicalBytes: 8 * MiB, panicOnOom: true))
        let pid = try spawn(m)
        let a = try mmapAnon(m, pid, 16 * MiB)
        let e = #expect(throws: MMUError.self) { try m.touch(pid: pid, address: a, length: 16 * MiB, access: .write) }
        #expect(e?.code == .machinePanicked)
        #expect(e?.message.contains("panic_on_oom") == true)
        #expect(m.isPanicked)
        #expect(throws: MMUError.self) { try m.meminfo() }
        #expect(throws: MMUError.self) { try m.spawn() }
        #expect(throws: MMUError.self) { try m.translate(pid: pid, address: a) }
        let again = #expect(throws: MMUError.self) { try m.processStats(pid: pid) }
        #expect(again?.code == .machinePanicked)
    }
}
