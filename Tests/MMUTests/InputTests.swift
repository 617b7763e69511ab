import Testing

@testable import MMU

/// Hostile numbers through the MMU API: each is an error naming the param or a simulated result
/// (limits.md §1), never a trap.
struct InputTests {
    /// Issue 8's first crash: a physical machine, munmap of a range beyond physical memory.
    @Test func physicalMunmapBeyondPhysicalMemory() throws {
        let m = try makeMachine(MachineConfig(addressing: .physical))
        let pid = try spawn(m)
        #expect(throws: MMUError.self) { try m.munmap(pid: pid, address: 0x800_0000, length: 4096) }
        #expect(throws: MMUError.self) { try m.munmap(pid: pid, address: 0x3ff_f000, length: 8192) }
        #expect(try m.munmap(pid: pid, address: 0x300_0000, length: 4096) == 0, "nothing mapped there: 0 freed")
        #expect(try m.touch(pid: pid, address: 0x40_0000, length: 4096, access: .read).pagesTouched == 1)
    }

    /// Issue 8's second crash: a file offset near 2^64 (offset + length must stay ≤ 2^63).
    @Test func fileOffsetNearTheTop() throws {
        let m = try makeMachine()
        let pid = try spawn(m)
        let error = #expect(throws: MMUError.self) {
            try m.mmap(pid: pid, length: 8192, protection: [.read], file: ("f", 4096), offset: 0xffff_ffff_ffff_f000)
        }
        #expect(error?.parameter == "offset")
        // The largest allowed: offset + length = 2^63; a fault beyond the file's end is SIGBUS, not a trap.
        let a = try #require(
            try m.mmap(
                pid: pid,
                length: 8192,
                protection: [.read],
                file: ("f", 4096),
                offset: (1 << 63) - 8192
            ).address
        )
        let t = try m.touch(pid: pid, address: a + 4096, length: 4096, access: .read)
        #expect(t.segv != nil)
        let pid2 = try spawn(m)
        let b = try #require(
            try m.mmap(
                pid: pid2,
                length: 8192,
                protection: [.read],
                file: ("f", 4096),
                offset: (1 << 63) - 8192
            ).address
        )
        #expect(try m.munmap(pid: pid2, address: b, length: 4096) == 0)
        #expect(
            try m.mappings(pid: pid2, detail: false).contains { $0.start == b + 4096 && $0.offset == (1 << 63) - 4096 }
        )
    }

    @Test func lengthsThatWrap() throws {
        let m = try makeMachine()
        let pid = try spawn(m)
        for length: UInt64 in [0, UInt64.max, UInt64.max - 4094] {
            let e = #expect(throws: MMUError.self) { try m.mmap(pid: pid, length: length, protection: [.read]) }
            #expect(e?.parameter == "length")
        }
        // Beyond the address space: ENOMEM, as Linux.
        #expect(try m.mmap(pid: pid, length: 1 << 48, protection: [.read]).errno == "ENOMEM")
        #expect(throws: MMUError.self) {
            try m.touch(pid: pid, address: UInt64.max - 4095, length: 8192, access: .read)
        }
        #expect(throws: MMUError.self) { try m.munmap(pid: pid, address: UInt64.max - 4095, length: 8192) }
        #expect(throws: MMUError.self) { try m.read(pid: pid, address: UInt64.max, length: 2) }
        #expect(throws: MMUError.self) { try m.write(pid: pid, address: UInt64.max, bytes: [1, 2]) }
        #expect(throws: MMUError.self) { try m.spawn(dataBytes: UInt64.max) }
        #expect(throws: MMUError.self) { try m.fileContents(name: "/usr/bin/prog", offset: UInt64.max, length: 2) }
        #expect(throws: MMUError.self) { try m.writeFile(name: "g", offset: UInt64.max, bytes: [1, 2]) }
        #expect(throws: MMUError.self) {
            try m.mprotect(pid: pid, address: UInt64.max - 4095, length: 8192, protection: [.read])
        }
    }
}

extension InputTests {
    /// vm.max_map_count: 65,530 mappings per process, the next mmap is ENOMEM (a result).
    @Test func mappingLimit() throws {
        let m = try makeMachine()
        let pid = try spawn(m)
        let clock = ContinuousClock()
        let start = clock.now
        for i in 4..<65_530 {
            let r = try m.mmap(pid: pid, length: 12288, protection: i % 2 == 0 ? [.read] : [.read, .write])
            #expect(r.address != nil)
        }
        print("65,526 mmaps: \(clock.now - start)")
        #expect(try m.mmap(pid: pid, length: 4096, protection: [.read]).errno == "ENOMEM")
        #expect(try m.mappings(pid: pid, detail: false).count == 65_530)
    }
}
