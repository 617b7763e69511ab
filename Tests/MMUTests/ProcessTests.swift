import Testing

@testable import MMU

struct ProcessTests {
    /// 10 written pages at mmap_base − 40 KiB: 10 frames plus PML4, PDPT, PD and one PT come back.
    @Test func exitFreesPagesAndPageTables() throws {
        let m = try makeMachine()
        let pid = try spawn(m)
        let a = try mmapAnon(m, pid, 10 * page)
        _ = try m.touch(pid: pid, address: a, length: 10 * page, access: .write)
        #expect(try m.exit(pid: pid) == 14)
        #expect(try meminfo(m, "MemFree") == UInt64(16_384 - bootFrames) * page)
        #expect(m.summary().processes == 0)
    }

    /// Text is the program file in the page cache: the first run reads it from disk (major faults),
    /// a second run of the same program finds it cached (minor), and exit leaves it cached.
    @Test func secondRunOfAProgramFindsItsTextCached() throws {
        let m = try makeMachine()
        let first = try m.spawn(command: "ls", textBytes: 8 * page)
        let t1 = try m.touch(pid: first.pid!, address: first.mappings[0].start, length: 8 * page, access: .exec)
        #expect((t1.majorFaults, t1.minorFaults) == (8, 0))
        #expect(try m.exit(pid: first.pid!) == 4, "PML4, PDPT, PD, PT; the 8 text pages stay in the page cache")
        #expect(try meminfo(m, "Cached") == 8 * page)
        let second = try m.spawn(command: "ls", textBytes: 8 * page)
        let t2 = try m.touch(pid: second.pid!, address: second.mappings[0].start, length: 8 * page, access: .exec)
        #expect((t2.majorFaults, t2.minorFaults) == (0, 8))
    }

    @Test func committedAddressSpaceCountsPrivateWritableMappings() throws {
        let m = try makeMachine()
        let pid = try spawn(m)
        #expect(try meminfo(m, "Committed_AS") == (16 + 132 + 132) * 1024, "data + heap + stack; text is read-only")
        _ = try m.mmap(pid: pid, length: 1 << 30, protection: [.read, .write])
        _ = try m.mmap(pid: pid, length: MiB, protection: [.read, .write], shared: true, file: ("/f", MiB))
        _ = try m.mmap(pid: pid, length: MiB, protection: .read)
        #expect(try meminfo(m, "Committed_AS") == (16 + 132 + 132) * 1024 + (1 << 30))
    }

    @Test func exitWithPCIDDropsOnlyThatAddressSpacesEntries() throws {
        let m = try makeMachine(MachineConfig(pcid: true))
        let a = try spawn(m, "a")
        let b = try spawn(m, "b")
        let pa = try mmapAnon(m, a, page)
        let pb = try mmapAnon(m, b, page)
        _ = try m.touch(pid: a, address: pa, length: page, access: .write)
        _ = try m.touch(pid: b, address: pb, length: page, access: .write)
        _ = try m.exit(pid: a)
        #expect(try m.translate(pid: b, address: pb).outcome == .tlbHit)
        let c = try spawn(m, "c")
        let pc = try mmapAnon(m, c, page)
        #expect(pc == pa, "same layout, same virtual address as the dead process")
        #expect(try m.translate(pid: c, address: pc).outcome == .minorFault, "no stale entry of pid a")
    }

    @Test func summaryIsOneLineOfCounters() throws {
        let m = try makeMachine()
        let pid = try spawn(m)
        let a = try mmapAnon(m, pid, 4 * page)
        _ = try m.touch(pid: pid, address: a, length: 4 * page, access: .read)
        _ = try m.touch(pid: pid, address: a, length: 4 * page, access: .write)
        let s = m.summary()
        #expect(
            s
                == MachineSummary(
                    processes: 1,
                    usedBytes: UInt64(bootFrames + 1 + 3 + 4) * page,
                    freeBytes: UInt64(16_384 - bootFrames - 1 - 3 - 4) * page,
                    minorFaults: 8,
                    majorFaults: 0,
                    cowFaults: 4,
                    oomKills: 0,
                    isPanicked: false
                )
        )
    }
}
