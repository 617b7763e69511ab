import Testing

@testable import MMU

struct PageCacheTests {
    @Test func firstReaderTakesMajorFaultsLaterReadersMinor() throws {
        let m = try makeMachine()
        let p1 = try spawn(m, "reader1")
        let p2 = try spawn(m, "reader2")
        let file = (name: "/data/f", sizeBytes: UInt64(40_960))
        let a1 = try #require(try m.mmap(pid: p1, length: 40_960, protection: .read, file: file).address)
        let t1 = try m.touch(pid: p1, address: a1, length: 40_960, access: .read)
        #expect((t1.majorFaults, t1.minorFaults) == (10, 0))
        #expect(try vmstat(m, "pgpgin") == 40, "KiB, as the kernel counts")
        #expect(try vmstat(m, "pgmajfault") == 10)
        #expect(try meminfo(m, "Cached") == 10 * page)
        #expect(try meminfo(m, "Mapped") == 10 * page)

        let a2 = try #require(try m.mmap(pid: p2, length: 40_960, protection: .read, file: file).address)
        let t2 = try m.touch(pid: p2, address: a2, length: 40_960, access: .read)
        #expect((t2.majorFaults, t2.minorFaults) == (0, 10))
        #expect(try vmstat(m, "pgpgin") == 40)
        #expect(try m.processStats(pid: p2).majflt == 0)
        #expect(try m.processStats(pid: p1).majflt == 10)
        let f = try #require(try m.translate(pid: p1, address: a1, dryRun: true).pfn)
        #expect(try m.frame(Int(f)) == FrameInfo(pfn: Int(f), owner: .pageCache, refcount: 3))
        let d = try #require(try m.mappings(pid: p2, detail: true).first { $0.path == "/data/f" }?.detail)
        #expect((d.rss, d.pss, d.sharedClean, d.privateClean, d.anonymous) == (40_960, 20_480, 40_960, 0, 0))
    }

    @Test func readingPastTheEndOfTheFileIsABusError() throws {
        let m = try makeMachine()
        let pid = try spawn(m)
        let a = try #require(try m.mmap(pid: pid, length: 2 * page, protection: .read, file: ("/f", 100)).address)
        let t = try m.touch(pid: pid, address: a, length: 2 * page, access: .read)
        #expect(t.majorFaults == 1)
        #expect(t.segv?.address == a + page)
        #expect(t.segv?.reason.contains("SIGBUS") == true)
    }

    /// The seed's filemap experiment: "hello" in a file, mapped shared, written as "HELLO".
    @Test func sharedFileMappingWritesThroughToTheFile() throws {
        let m = try makeMachine()
        try m.writeFile(name: "/tmp/testfile", offset: 0, bytes: Array("hello".utf8))
        let pid = try spawn(m, "filemap")
        let a = try #require(
            try m.mmap(pid: pid, length: 5, protection: [.read, .write], shared: true, file: ("/tmp/testfile", 5))
                .address
        )
        let r = try m.read(pid: pid, address: a, length: 5)
        #expect(r.bytes == Array("hello".utf8))
        #expect(r.faults.majorFaults == 1)
        let w = try m.write(pid: pid, address: a, bytes: Array("HELLO".utf8))
        #expect(w.minorFaults == 0 && w.segv == nil, "shared writable: no CoW")
        #expect(try m.fileContents(name: "/tmp/testfile", offset: 0, length: 5) == Array("HELLO".utf8))
        #expect(try meminfo(m, "Dirty") == page)
        #expect(try m.sync() == 1)
        #expect(try vmstat(m, "pgpgout") == 4)
        #expect(try meminfo(m, "Dirty") == 0)
    }

    @Test func privateFileMappingWriteIsCopyOnWriteAndLeavesTheFile() throws {
        let m = try makeMachine()
        try m.writeFile(name: "/tmp/p", offset: 0, bytes: Array("hello".utf8))
        let pid = try spawn(m)
        let a = try #require(try m.mmap(pid: pid, length: 5, protection: [.read, .write], file: ("/tmp/p", 5)).address)
        #expect(try m.read(pid: pid, address: a, length: 5).faults.majorFaults == 1)
        let w = try m.write(pid: pid, address: a, bytes: Array("HELLO".utf8))
        #expect((w.minorFaults, w.cowFaults) == (1, 1))
        #expect(try m.read(pid: pid, address: a, length: 5).bytes == Array("HELLO".utf8))
        #expect(try m.fileContents(name: "/tmp/p", offset: 0, length: 5) == Array("hello".utf8))
    }

    /// 8 MiB machine: 100 dirty file pages left in the cache after munmap; filling memory with
    /// anonymous pages reclaims one batch (32 pages) of them, each written back first.
    @Test func reclaimWritesBackDirtyPageCache() throws {
        let m = try makeMachine(MachineConfig(physicalBytes: 8 * MiB))
        let pid = try spawn(m)
        let size = 100 * page
        let f = try #require(
            try m.mmap(pid: pid, length: size, protection: [.read, .write], shared: true, file: ("/log", size)).address
        )
        let w = try m.touch(pid: pid, address: f, length: size, access: .write)
        #expect(w.majorFaults == 100)
        #expect(try m.munmap(pid: pid, address: f, length: size) == 0, "the cache still holds them")
        #expect(try meminfo(m, "Dirty") == size)
        #expect(try meminfo(m, "MemAvailable") == (try meminfo(m, "MemFree")) + size)

        let free = try meminfo(m, "MemFree") / page
        let a = try mmapAnon(m, pid, (free + 10) * page)
        let t = try m.touch(pid: pid, address: a, length: (free + 10) * page, access: .write)
        #expect(t.oomKilled.isEmpty)
        #expect(t.minorFaults == Int(free + 10))
        #expect(try vmstat(m, "pgpgout") == 32 * 4)
        #expect(try vmstat(m, "pgsteal_file") == 32)
        #expect(try meminfo(m, "Dirty") == 68 * page)
        #expect(try vmstat(m, "oom_kill") == 0)
    }
}
