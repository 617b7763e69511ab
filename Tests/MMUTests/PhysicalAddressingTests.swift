import Testing

@testable import MMU

struct PhysicalAddressingTests {
    /// 16 MiB = 4096 frames; the kernel takes [0, 256). The program (64 + 16 + 132 + 132 KiB = 86 frames)
    /// loads at its linked address 0x400000 (frame 1024), leaving free runs [256, 1024) and [1110, 4096).
    /// Fourteen 1 MiB blocks fill [256, 1024) with three and [1110, 3926) with eleven; freeing every other
    /// one leaves seven 1 MiB holes and a 170-frame tail: 1962 frames free, none 2 MiB contiguous.
    @Test func fragmentationFailsWhileEnoughIsFree() throws {
        let m = try makeMachine(MachineConfig(physicalBytes: 16 * MiB, addressing: .physical))
        let s = try m.spawn()
        #expect(s.loadAddress == 0x40_0000 && s.problem == nil)
        let pid = try #require(s.pid)
        var blocks: [UInt64] = []
        for _ in 0..<14 {
            blocks.append(try #require(try m.mmap(pid: pid, length: MiB, protection: [.read, .write]).address))
        }
        #expect(blocks[0] == 256 * page && blocks[3] == 1110 * page)
        for i in stride(from: 0, to: 14, by: 2) {
            #expect(try m.munmap(pid: pid, address: blocks[i], length: MiB) == 256)
        }
        let r = try m.mmap(pid: pid, length: 2 * MiB, protection: [.read, .write])
        #expect(r == MmapResult(address: nil, errno: "ENOMEM", largestFreeRun: MiB, freeBytes: 1962 * page))
        #expect(try meminfo(m, "MemFree") == 1962 * page)
        #expect(try m.mmap(pid: pid, length: MiB, protection: [.read, .write]).address == blocks[0], "first fit")
    }

    @Test func aSecondProgramCannotRunAtItsLinkedAddress() throws {
        let m = try makeMachine(MachineConfig(physicalBytes: 16 * MiB, addressing: .physical))
        let first = try m.spawn(command: "app")
        let second = try m.spawn(command: "app")
        #expect(first.loadAddress == 0x40_0000)
        #expect(second.linkedAddress == 0x40_0000)
        #expect(second.loadAddress == 0x10_0000)
        #expect(second.problem?.contains("pid \(first.pid!)") == true)
    }

    @Test func processesReachEachOthersMemoryUnhindered() throws {
        let m = try makeMachine(MachineConfig(physicalBytes: 16 * MiB, addressing: .physical))
        let victim = try #require(try m.spawn(command: "victim").pid)
        let intruder = try #require(try m.spawn(command: "intruder").pid)
        let secret = Array("secret".utf8)
        _ = try m.write(pid: victim, address: 0x40_1000, bytes: secret)
        #expect(try m.read(pid: intruder, address: 0x40_1000, length: 6).bytes == secret)
        let w = try m.write(pid: intruder, address: 0x40_1000, bytes: Array("owned!".utf8))
        #expect(w.segv == nil)
        #expect(try m.read(pid: victim, address: 0x40_1000, length: 6).bytes == Array("owned!".utf8))
        let t = try m.translate(pid: intruder, address: 0x40_1000)
        #expect(t.outcome == .translated && t.physicalAddress == 0x40_1000 && t.physicalOwner == victim)
    }

    @Test func forkNeedsAnMMU() throws {
        let m = try makeMachine(MachineConfig(addressing: .physical))
        let pid = try spawn(m)
        #expect(throws: MMUError.self) { try m.fork(pid: pid) }
    }
}

extension PhysicalAddressingTests {
    /// sim.list's summary in physical addressing counts the contiguous allocator's frames (the kernel's
    /// 1 MiB and the program's image are used), as meminfo does.
    @Test func summaryCountsPhysicalFrames() throws {
        let m = try makeMachine(MachineConfig(physicalBytes: 16 * MiB, addressing: .physical))
        _ = try spawn(m)
        let s = m.summary()
        #expect(s.freeBytes == (try meminfo(m, "MemFree")))
        #expect(s.usedBytes == MiB + 86 * page)
    }
}
