extension Machine {
    /// fork (`dup_mmap` + `copy_page_range`): the child gets copies of the VMAs and page tables, not of
    /// the pages. Private writable pages become read-only + CoW in both; every mapped frame's
    /// reference count goes up. The parent's TLB entries are flushed (they may be writable).
    func forkProcess(_ parent: SimProcess) throws(MMUError) -> Int {
        if config.addressing == .physical { return try forkPhysical(parent) }
        try ensureBudget(Self.processCost + parent.vmas.count * Self.mappingCost + Self.faultReserve)
        let child = SimProcess(pid: nextPID, command: parent.command)
        guard let root = try allocateFrame(.pageTable, for: parent) else {
            throw .unknownPID(parent.pid)  // the parent was OOM-killed finding the child's PML4
        }
        nextPID += 1
        child.pml4Frame = root
        child.pml4Slot = tables.create(frame: root)
        child.tableFrames = 1
        for i in 256..<512 { tables.copyEntry(from: (kernelPML4Slot, i), to: (child.pml4Slot, i)) }
        processes[child.pid] = child
        child.vmas = parent.vmas
        child.coveredFloor = parent.coveredFloor

        for v in parent.vmas where parent.isAlive && child.isAlive {
            var leaves: [(UInt64, Int, Int, PageLevel)] = []
            forEachLeaf(parent.pml4Slot, v.start, v.end, includeSwap: true) { leaves.append(($0, $1, $2, $3)) }
            for (va, slot, index, level) in leaves {
                guard parent.isAlive, child.isAlive else { break }
                let leaf: (slot: Int, index: Int)?
                do throws(MMUError) {
                    // The child's tables may need up to three new tables per leaf (and reclaim).
                    try ensureBudget(Self.faultReserve)
                    leaf = try ensureLeafTable(child, va, target: level)
                } catch {
                    // Over the budget (or a panic): no half-made child stays behind.
                    if child.isAlive { exitProcess(child) }
                    throw error
                }
                guard let (cslot, cindex) = leaf, parent.isAlive else { break }
                var e = tables[slot, index]
                if Self.isSwapEntry(e) {
                    // A swapped page: both tables refer to the slot (finding a frame may have swapped it).
                    tables[cslot, cindex] = e
                    swap.retain(Int(PageTableEntry(rawValue: e).pfn))
                    child.swapPages += 1
                    continue
                }
                if e & PTEFlags.present.rawValue == 0 { continue }
                let f = Int(PageTableEntry(rawValue: e).pfn)
                if !v.isShared && !v.isPFNMap && e & PTEFlags.writable.rawValue != 0 {
                    e = (e & ~PTEFlags.writable.rawValue) | PTEFlags.cow.rawValue
                    tables[slot, index] = e
                }
                tables[cslot, cindex] = e
                if v.isPFNMap || f == zeroFrame { continue }
                if level != .pt {
                    for g in f..<(f + 512) { memory.retain(g) }
                    child.rssAnon += 512
                    continue
                }
                memory.retain(f)
                switch memory.ownerOf(f) {
                case .anonymous: child.rssAnon += 1
                case .pageCache:
                    if let page = cache.pages[f], cache.files[page.fileID].isShmem {
                        child.rssShmem += 1
                    } else {
                        child.rssFile += 1
                    }
                default: break
                }
            }
        }
        if !parent.isAlive && child.isAlive {
            exitProcess(child)
            throw .unknownPID(parent.pid)
        }
        flushTLB(parent)
        return child.pid
    }
}
