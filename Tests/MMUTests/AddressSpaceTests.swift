import Testing

@testable import MMU

struct AddressSpaceTests {
    /// addressBits 32: mmap_base = 0xfffff000 − 128 MiB = 0xf7fff000; three 1 GiB maps fit below it
    /// (down to 0x37fff000), a fourth does not fit anywhere: ENOMEM, while 47 bits has room.
    @Test(arguments: [(32, [true, true, true, false]), (47, [true, true, true, true])])
    func virtualSpaceRunsOut(bits: Int, expected: [Bool]) throws {
        let m = try makeMachine(MachineConfig(addressBits: bits))
        let pid = try spawn(m)
        var got: [Bool] = []
        for _ in 0..<4 {
            let r = try m.mmap(pid: pid, length: 1 << 30, protection: [.read, .write])
            got.append(r.address != nil)
            if r.address == nil { #expect(r.errno == "ENOMEM") }
        }
        #expect(got == expected)
        if bits == 32 {
            #expect(try m.mappings(pid: pid).map(\.start).contains(0x37ff_f000))
        }
    }

    @Test func mmapHonoursAFreeAddressElseTreatsItAsAHint() throws {
        let m = try makeMachine()
        let pid = try spawn(m)
        #expect(try m.mmap(pid: pid, length: page, protection: .read, address: 0x1000_0000).address == 0x1000_0000)
        let second = try m.mmap(pid: pid, length: page, protection: .read, address: 0x1000_0000).address
        #expect(second == 0x7fff_f7ff_e000, "taken: placed top-down below mmap_base instead")
    }

    @Test func spawnLaysOutTextDataHeapStack() throws {
        let m = try makeMachine()
        let r = try m.spawn(command: "cat", textBytes: 8192, dataBytes: 4096, stackBytes: 8192)
        let maps = r.mappings.map {
            "\(String($0.start, radix: 16))-\(String($0.end, radix: 16)) \($0.perms) \($0.path ?? "") \($0.kind)"
        }
        #expect(
            maps == [
                "400000-402000 r-xp /usr/bin/cat file",
                "402000-403000 rw-p /usr/bin/cat file",
                "403000-424000 rw-p [heap] heap",
                "7fffffffd000-7ffffffff000 rw-p [stack] stack",
            ]
        )
        #expect(r.mappings[1].offset == 8192)
    }

    @Test(arguments: [
        (Access.read, Mode.user, UInt64(0xffff_8880_0000_1234), Outcome.segv, UInt64?.none),
        (.read, .kernel, 0xffff_8880_0000_1234, .translated, 0x1234),
        (.write, .kernel, 0xffff_8880_0030_0010, .translated, 0x30_0010),
        (.read, .kernel, 0xffff_ffff_8100_5008, .translated, 0x5008),
        (.write, .kernel, 0xffff_ffff_8100_5008, .segv, nil),
        (.read, .user, 0xffff_ffff_8100_5008, .segv, nil),
        (.read, .user, 0x0000_8000_0000_0000, .segv, nil),
        (.read, .kernel, 0x1234_5678_9abc_def0, .segv, nil),
    ])
    func kernelHalfIsSupervisorOnly(
        access: Access,
        mode: Mode,
        address: UInt64,
        outcome: Outcome,
        physical: UInt64?
    )
        throws
    {
        let m = try makeMachine()
        let pid = try spawn(m)
        let t = try m.translate(pid: pid, address: address, access: access, mode: mode)
        #expect(t.outcome == outcome)
        if outcome == .translated { #expect(t.physicalAddress == physical) }
        if outcome == .segv { #expect(t.segv != nil) }
        #expect(m.pids == [pid], "translate reports segv, it does not kill")
    }

    @Test func directMapWalkIsThreeLevelsWithA2MiBPage() throws {
        let m = try makeMachine()
        let pid = try spawn(m)
        let t = try m.translate(pid: pid, address: 0xffff_8880_0020_0000, mode: .kernel, dryRun: true, trace: true)
        let walk = try #require(t.walk)
        #expect(walk.map(\.level) == [.pml4, .pdpt, .pd])
        #expect(walk.map(\.index) == [273, 0, 1])
        #expect(walk[2].flags == [.present, .writable, .accessed, .dirty, .hugePage, .global, .noExecute])
        #expect(t.pfn == 512 && t.pageSize == 2 * MiB)
    }

    @Test func traceShowsTheFourLevelsOfAUserPage() throws {
        let m = try makeMachine()
        let pid = try spawn(m)
        let a = try mmapAnon(m, pid, page)
        let t = try m.translate(pid: pid, address: a + 0x123, access: .write, trace: true)
        #expect(t.outcome == .minorFault)
        let walk = try #require(t.walk)
        #expect(walk.map(\.level.description) == ["pml4", "pdpt", "pd", "pt"])
        #expect(walk.map(\.index) == [255, 511, 447, 510])
        #expect(walk[3].flags == [.present, .writable, .user, .accessed, .dirty, .noExecute])
        #expect(walk[3].entry >> 12 & 0xff_ffff_ffff == t.pfn)
        #expect(t.physicalAddress == (t.pfn! << 12) | 0x123)
        #expect(t.mapping?.perms == "rw-p")
        #expect(t.indices == PageIndices(address: a + 0x123))
    }

    @Test func touchingOutsideAnyMappingKillsWithSegv() throws {
        let m = try makeMachine()
        let pid = try spawn(m)
        let t = try m.touch(pid: pid, address: 0x1000, length: page, access: .read)
        #expect(t.segv == SegvInfo(address: 0x1000, reason: "no mapping at this address (SEGV_MAPERR)"))
        #expect(t.pagesTouched == 0)
        #expect(throws: MMUError.self) { try m.processStats(pid: pid) }
    }

    @Test func writeToReadOnlyMappingIsRefused() throws {
        let m = try makeMachine()
        let pid = try spawn(m)
        let t = try m.translate(pid: pid, address: 0x40_0000, access: .write)
        #expect(t.outcome == .segv)
        #expect(t.segv?.reason == "write not allowed by mapping r-xp (SEGV_ACCERR)")
    }

    @Test func errorsAreTyped() throws {
        let m = try makeMachine()
        let e1 = #expect(throws: MMUError.self) { try m.touch(pid: 42, address: 0, length: 1, access: .read) }
        #expect(e1?.code == .unknownPID)
        let pid = try spawn(m)
        let e2 = #expect(throws: MMUError.self) { try m.mmap(pid: pid, length: 0, protection: .read) }
        #expect(e2?.code == .invalidArgument && e2?.parameter == "length")
        let e3 = #expect(throws: MMUError.self) { try Machine(config: MachineConfig(tlbEntries: 64, tlbWays: 3)) }
        #expect(e3?.parameter == "tlbWays")
    }
}
