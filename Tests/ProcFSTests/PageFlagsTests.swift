import Testing

@testable import ProcFS

/// kpageflags decoding as page-types does it, frame runs, tallies, and soft-dirty counting.
@Suite struct PageFlagsTests {
    /// Rows printed by the real `page-types -p PID` (linux-source-6.1, tools/vm) on this host:
    /// the flags word, then its symbolic and long-symbolic columns.
    @Test(arguments: [
        (0x0000_0000_0000_0800, "___________M_________________________________", "mmap"),
        (0x0000_0000_0200_0828, "___U_l_____M_____________i___________________", "uptodate,lru,mmap,idle_page"),
        (
            0x0000_0000_0000_086c, "__RU_lA____M_________________________________",
            "referenced,uptodate,lru,active,mmap"
        ),
        (
            0x0000_0000_0000_5868, "___U_lA____Ma_b______________________________",
            "uptodate,lru,active,mmap,anonymous,swapbacked"
        ),
    ])
    func namesAreThoseOfPageTypes(_ row: (UInt64, String, String)) {
        let flags = KernelPageFlags(rawValue: row.0)
        #expect(PageFlagName.symbolic(row.0) == row.1)
        #expect(flags.names.joined(separator: ",") == row.2)
        #expect(KernelPageFlags(names: flags.names) == flags)
    }

    @Test func unknownNamesAreRefused() {
        #expect(KernelPageFlags(names: ["mmap", "frobnicated"]) == nil)
        #expect(KernelPageFlags(names: []) == KernelPageFlags())
    }

    /// page-types' well_known_flags: the hackers' bits 32–47 hidden; compound head/tail hidden
    /// unless the page is a hugetlb page.
    @Test func defaultMaskingIsPageTypes() {
        let thpTail: KernelPageFlags = [.compoundTail, .thp, .anonymous, .mmap]
        #expect(thpTail.wellKnown == [.thp, .anonymous, .mmap])
        let hugetlbHead: KernelPageFlags = [.compoundHead, .huge]
        #expect(hugetlbHead.wellKnown == hugetlbHead)
        let hacker = KernelPageFlags(rawValue: KernelPageFlags.mmap.rawValue | 1 << 33 | 1 << 47)
        #expect(hacker.wellKnown == .mmap)
        #expect(PageFlagName.wellKnown.map(\.bit) == Array(0...26))
        #expect(PageFlagName.wellKnown.last?.name == "pgtable")
        #expect(PageFlagName.table.count == 45, "page-types' symbolic column has 45 letters")
    }

    @Test func runsJoinNeighboursAndSkipDuplicates() {
        // 12 is 2 frames past 9 (within maxGap: 10 and 11 are read with them); 50 is not.
        let frames: [UInt64] = [7, 7, 7, 8, 9, 12, 50, 51, 300, 5000]
        let runs = frames.withUnsafeBufferPointer { FrameRuns.plan($0) }
        #expect(runs.map(\.first) == [7, 50, 300, 5000])
        #expect(runs.map(\.count) == [6, 2, 1, 1])
        #expect(runs.map(\.endIndex) == [6, 8, 9, 10])
        let long = (0..<UInt64(10)).map { $0 }
        let capped = long.withUnsafeBufferPointer { FrameRuns.plan($0, maxRun: 4) }
        #expect(capped.map(\.count) == [4, 4, 2])
        let none = [UInt64]().withUnsafeBufferPointer { FrameRuns.plan($0) }
        #expect(none.isEmpty)
    }

    @Test func tallyCountsSetsAndShared() {
        var tally = PageFlagsTally(keepsSets: true)
        let anon: KernelPageFlags = [.uptodate, .lru, .mmap, .anonymous, .swapbacked]
        for _ in 0..<3 { tally.add(flags: anon.rawValue, mapCount: 1) }
        tally.add(flags: KernelPageFlags([.mmap, .zeroPage]).rawValue, mapCount: 40)
        tally.add(flags: KernelPageFlags([.mmap, .compoundTail, .thp]).rawValue, mapCount: 1)
        #expect(tally.present == 5)
        #expect(tally.shared == 1)
        #expect(tally.perFlag[11] == 5, "mmap")
        #expect(tally.perFlag[16] == 0, "compound_tail is hidden without huge")
        #expect(tally.perFlag[22] == 1, "thp")
        let sets = tally.sortedSets
        #expect(sets.first?.flags == anon && sets.first?.pages == 3)
        #expect(sets.map(\.pages) == [3, 1, 1])
        #expect(sets[1].flags.rawValue < sets[2].flags.rawValue, "ties in flag order")
    }

    @Test func writtenPagesAreSoftDirtyAndThere() {
        let dirty = PagemapEntry.softDirty.rawValue
        let entries: [UInt64] = [
            dirty | PagemapEntry.present.rawValue | 1234,
            dirty | PagemapEntry.swapped.rawValue,
            dirty,  // never faulted in: nothing written
            PagemapEntry.present.rawValue | 99,
        ]
        #expect(entries.withUnsafeBufferPointer { WorkingSetFigures.writtenPages($0) } == 2)
    }

    @Test func figuresSplitByKind() {
        var figures = WorkingSetFigures(perMapping: true)
        var detail = SmapsDetail()
        detail.rss = 8192
        detail.pss = 4096
        let lib = Mapping(
            start: 0x1000,
            end: 0x3000,
            perms: "r-xp",
            offset: 0,
            device: "08:01",
            inode: 7,
            path: "/usr/lib/libc.so.6",
            detail: detail
        )
        let heap = Mapping(
            start: 0x5000,
            end: 0x9000,
            perms: "rw-p",
            offset: 0,
            device: "00:00",
            inode: 0,
            path: "[heap]",
            detail: detail
        )
        figures.add(lib, touched: 4096)
        figures.add(heap, touched: 8192)
        #expect(figures.touched == 12288 && figures.file == 4096 && figures.anon == 8192)
        #expect(figures.rss == 16384 && figures.pss == 8192 && figures.mappingCount == 2)
        #expect(figures.mappings?.map(\.kind) == [.file, .heap])
    }
}
