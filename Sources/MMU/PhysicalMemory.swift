/// Who holds a physical frame (the kernel's `struct page` flags, reduced to what the simulator shows).
public enum FrameOwner: UInt8, Sendable, CaseIterable {
    case free, anonymous, pageCache, pageTable, kernel, zero
}

/// Physical memory as 4 KiB frames: a reference count and an owner per frame, and a free list.
///
/// Frames are metadata, not memory: the arrays only grow to the highest frame ever handed out
/// (frames above `highWater` are free and untouched), so a 64 GiB machine costs nothing until used.
/// Allocation is deterministic: the most recently freed frame first (like the per-CPU free lists),
/// then the lowest never-used frame. Byte contents are kept only for frames something wrote.
struct PhysicalMemory {
    let frameCount: Int
    private(set) var refcount: [UInt32] = []
    private(set) var owner: [FrameOwner] = []
    private var freeList: [UInt32] = []
    /// Frames `[highWater, frameCount)` have never been used.
    private(set) var highWater = 0
    private(set) var ownerCounts = [Int](repeating: 0, count: FrameOwner.allCases.count)
    /// Bytes of frames that were written (sim.write, file contents); absent = zero-filled.
    var contents: [Int: [UInt8]] = [:]
    /// Frames returned to the free list (vmstat pgfree).
    private(set) var freedTotal: UInt64 = 0

    init(frameCount: Int) {
        self.frameCount = frameCount
        ownerCounts[Int(FrameOwner.free.rawValue)] = frameCount
    }

    var freeCount: Int { ownerCounts[Int(FrameOwner.free.rawValue)] }
    func count(_ o: FrameOwner) -> Int { ownerCounts[Int(o.rawValue)] }

    func ownerOf(_ pfn: Int) -> FrameOwner { pfn < highWater ? owner[pfn] : .free }
    func refcountOf(_ pfn: Int) -> Int { pfn < highWater ? Int(refcount[pfn]) : 0 }

    /// Takes a free frame (refcount 1), or nil when none is free (the caller reclaims or OOM-kills).
    mutating func allocate(_ newOwner: FrameOwner) -> Int? {
        let pfn: Int
        if let f = freeList.popLast() {
            pfn = Int(f)
        } else if highWater < frameCount {
            pfn = highWater
            highWater += 1
            refcount.append(0)
            owner.append(.free)
        } else {
            return nil
        }
        refcount[pfn] = 1
        setOwner(pfn, newOwner)
        return pfn
    }

    /// 512 contiguous frames aligned to 2 MiB for a transparent huge page, each with refcount 1, taken
    /// from never-used memory (there is no compaction); nil when none is left.
    mutating func allocateHuge(_ newOwner: FrameOwner) -> Int? {
        let start = (highWater + 511) & ~511
        guard start + 512 <= frameCount else { return nil }
        while highWater < start {
            refcount.append(0)
            owner.append(.free)
            freeList.append(UInt32(highWater))
            highWater += 1
        }
        for f in start..<(start + 512) {
            refcount.append(1)
            owner.append(.free)
            setOwner(f, newOwner)
        }
        highWater = start + 512
        return start
    }

    mutating func retain(_ pfn: Int) { refcount[pfn] += 1 }

    /// Drops one reference; frees the frame (contents discarded) when it was the last. Returns whether freed.
    @discardableResult
    mutating func release(_ pfn: Int) -> Bool {
        precondition(refcount[pfn] > 0, "release of free frame \(pfn)")
        refcount[pfn] -= 1
        guard refcount[pfn] == 0 else { return false }
        setOwner(pfn, .free)
        contents[pfn] = nil
        freeList.append(UInt32(pfn))
        freedTotal += 1
        return true
    }

    mutating func setOwner(_ pfn: Int, _ newOwner: FrameOwner) {
        ownerCounts[Int(owner[pfn].rawValue)] -= 1
        owner[pfn] = newOwner
        ownerCounts[Int(newOwner.rawValue)] += 1
    }

    func bytes(_ pfn: Int) -> [UInt8] { contents[pfn] ?? [UInt8](repeating: 0, count: Int(Page.size)) }
}
