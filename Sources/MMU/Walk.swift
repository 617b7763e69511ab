/// Where a walk ended: the leaf entry (or the empty slot where it would be) and what it allows.
struct WalkResult {
    /// The entry found at `level` (0 when the walk stopped at an empty entry).
    var entry: UInt64 = 0
    /// Table slot and index of that entry; slot -1 when there is none.
    var slot = -1
    var index = 0
    var level = PageLevel.pml4
    /// Present leaf.
    var isPresent: Bool { entry & PTEFlags.present.rawValue != 0 }
    /// Effective permissions across levels: RW and US ANDed, NX ORed (as the walker combines them).
    var effective: UInt64 = 0
    /// Frame of the 4 KiB page containing the address (huge pages resolved).
    var pfn: UInt64 = 0
    var pageSize: UInt64 = Page.size
}

extension Machine {
    /// Walks the 4-level table of `rootSlot` for `va` (`walk_page_range` / the hardware walker) without
    /// changing anything. With `steps`, records every level.
    func walk(_ rootSlot: Int, _ va: UInt64, steps: UnsafeMutablePointer<[WalkStep]>? = nil) -> WalkResult {
        var r = WalkResult()
        var slot = rootSlot
        var acc: UInt64 = PTEFlags.writable.rawValue | PTEFlags.user.rawValue
        var nx: UInt64 = 0
        var level = PageLevel.pml4
        while true {
            let i = PageIndices(address: va).index(at: level)
            let e = tables[slot, i]
            steps?.pointee.append(
                WalkStep(
                    level: level,
                    index: i,
                    tableFrame: UInt64(tables.frameBySlot[slot]),
                    entry: e,
                    flags: PageTableEntry(rawValue: e).flags
                )
            )
            r.entry = e
            r.slot = slot
            r.index = i
            r.level = level
            guard e & PTEFlags.present.rawValue != 0 else { return r }
            acc &= e
            nx |= e & PTEFlags.noExecute.rawValue
            let isLeaf = level == .pt || (level != .pml4 && e & PTEFlags.hugePage.rawValue != 0)
            if isLeaf {
                let base = PageTableEntry(rawValue: e).pfn
                let pagesPerEntry: UInt64 = level == .pt ? 1 : (level == .pd ? 512 : 512 * 512)
                r.pfn = (base & ~(pagesPerEntry - 1)) + ((va >> Page.shift) & (pagesPerEntry - 1))
                r.pageSize = pagesPerEntry << Page.shift
                r.effective =
                    (e & ~(PTEFlags.writable.rawValue | PTEFlags.user.rawValue | PTEFlags.noExecute.rawValue))
                    | (acc & (PTEFlags.writable.rawValue | PTEFlags.user.rawValue)) | nx
                return r
            }
            slot = tables.slot(ofFrame: Int(PageTableEntry(rawValue: e).pfn))
            level = PageLevel(rawValue: level.rawValue - 1)!
        }
    }

    /// Whether effective flags allow the access (CR0.WP on: kernel writes need RW too; no SMAP/SMEP).
    @inline(__always)
    static func permits(_ flags: UInt64, _ access: Access, _ mode: Mode) -> Bool {
        if flags & PTEFlags.present.rawValue == 0 { return false }
        if mode == .user && flags & PTEFlags.user.rawValue == 0 { return false }
        switch access {
        case .read: return true
        case .write: return flags & PTEFlags.writable.rawValue != 0
        case .exec: return flags & PTEFlags.noExecute.rawValue == 0
        }
    }

    /// The PT slot (or PD slot, for a huge leaf) of user address `va`, creating missing tables down to
    /// `target` (PT by default; PD to place a 2 MiB page). Returns the slot and index of the entry at
    /// `target` (or of the huge leaf met on the way). nil when the process was OOM-killed meanwhile.
    func ensureLeafTable(
        _ p: SimProcess,
        _ va: UInt64,
        target: PageLevel = .pt
    ) throws(MMUError) -> (slot: Int, index: Int)? {
        var slot = p.pml4Slot
        var level = PageLevel.pml4
        while level != target {
            let i = PageIndices(address: va).index(at: level)
            let e = tables[slot, i]
            if e & PTEFlags.present.rawValue != 0 {
                if level != .pml4 && e & PTEFlags.hugePage.rawValue != 0 { return (slot, i) }
                slot = tables.slot(ofFrame: Int(PageTableEntry(rawValue: e).pfn))
            } else {
                guard let f = try allocateFrame(.pageTable, for: p) else { return nil }
                let s = tables.create(frame: f)
                p.tableFrames += 1
                tables.link(slot, i, to: s, flags: Self.userTableFlags)
                slot = s
            }
            level = PageLevel(rawValue: level.rawValue - 1)!
        }
        return (slot, PageIndices(address: va).index(at: target))
    }

    /// Splits a 2 MiB leaf (PD entry with PS) into a PT of 512 4 KiB entries with the same flags and
    /// frames (`__split_huge_pmd`); refcounts are per frame, so they stay. false if `p` was OOM-killed.
    func splitHuge(_ p: SimProcess, _ slot: Int, _ index: Int) throws(MMUError) -> Bool {
        let e = tables[slot, index]
        guard let f = try allocateFrame(.pageTable, for: p) else { return false }
        let pt = tables.create(frame: f)
        p.tableFrames += 1
        let base = PageTableEntry(rawValue: e).pfn
        let flags = e & ~PageTableEntry.frameMask & ~PTEFlags.hugePage.rawValue
        for i in 0..<512 { tables[pt, i] = ((base + UInt64(i)) << Page.shift) | flags }
        tables.link(slot, index, to: pt, flags: Self.userTableFlags)
        flushTLB(p)
        return true
    }

    /// Calls `body(va, slot, index, level)` for every present leaf entry of `[start, end)` in the user
    /// half, skipping absent subtrees (so a sparse 100 TiB mapping costs only what is mapped).
    /// With `includeSwap`, non-present PT entries holding a swap slot are visited too.
    func forEachLeaf(
        _ rootSlot: Int,
        _ start: UInt64,
        _ end: UInt64,
        includeSwap: Bool = false,
        _ body: (UInt64, Int, Int, PageLevel) -> Void
    ) {
        func visit(_ slot: Int, _ level: PageLevel, _ base: UInt64) {
            let span: UInt64 = 1 << level.shift
            let first = start > base ? Int((start - base) >> level.shift) : 0
            for i in first..<512 {
                let va = base + UInt64(i) * span
                if va >= end { return }
                let e = tables[slot, i]
                if e & PTEFlags.present.rawValue == 0 {
                    if includeSwap && level == .pt && Self.isSwapEntry(e) { body(va, slot, i, level) }
                    continue
                }
                if level == .pt || (level != .pml4 && e & PTEFlags.hugePage.rawValue != 0) {
                    body(va, slot, i, level)
                } else {
                    visit(
                        tables.slot(ofFrame: Int(PageTableEntry(rawValue: e).pfn)),
                        PageLevel(rawValue: level.rawValue - 1)!,
                        va
                    )
                }
            }
        }
        visit(rootSlot, .pml4, 0)
    }
}
