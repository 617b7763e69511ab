extension Machine {
    /// TLB tag of a page: VPN, plus the address-space id above it with PCID.
    @inline(__always) func tlbTag(_ vpn: UInt64, _ pid: Int) -> UInt64 {
        config.pcid ? vpn | (UInt64(pid) << TLB.asidShift) : vpn
    }

    /// `invlpg` for one page of `p` (only needed when its entries can be in the TLB).
    func invalidateTLB(_ p: SimProcess, _ va: UInt64) {
        guard config.pcid || currentPID == p.pid else { return }
        let vpn = TLB.vpn(va)
        tlb.invalidate(tag: tlbTag(vpn, p.pid), vpn: vpn)
    }

    /// Drops all of `p`'s TLB entries (fork, exit, large munmap).
    func flushTLB(_ p: SimProcess) {
        if config.pcid { tlb.flush(asid: UInt64(p.pid)) } else if currentPID == p.pid { tlb.flushAll() }
    }

    /// Loads `p`'s address space (CR3 write): flushes the TLB unless PCID tags its entries.
    @inline(__always) func switchTo(_ p: SimProcess) {
        if currentPID != p.pid {
            if !config.pcid { tlb.flushAll() }
            currentPID = p.pid
        }
    }

    /// Clears every present entry in `[start, end)` (`zap_page_range`), dropping frame references and
    /// rss; returns the frames that became free. Page tables stay (freed at exit).
    func zap(_ p: SimProcess, _ vma: VMA, _ start: UInt64, _ end: UInt64) -> Int {
        var freed = 0
        var entries: [(UInt64, Int, Int, PageLevel)] = []
        forEachLeaf(p.pml4Slot, start, end, includeSwap: true) { entries.append(($0, $1, $2, $3)) }
        for (_, slot, index, level) in entries {
            let e = tables[slot, index]
            tables[slot, index] = 0
            if Self.isSwapEntry(e) {
                swap.release(Int(PageTableEntry(rawValue: e).pfn))
                p.swapPages -= 1
                continue
            }
            if vma.isPFNMap { continue }
            let base = Int(PageTableEntry(rawValue: e).pfn)
            let count = level == .pt ? 1 : 512
            for f in base..<(base + count) {
                if f == zeroFrame { continue }
                switch memory.ownerOf(f) {
                case .anonymous: p.rssAnon -= 1
                case .pageCache:
                    if let page = cache.pages[f], cache.files[page.fileID].isShmem {
                        p.rssShmem -= 1
                    } else {
                        p.rssFile -= 1
                    }
                    if e & PTEFlags.dirty.rawValue != 0 { cache.markDirty(pfn: f) }
                default: break
                }
                if memory.release(f) { freed += 1 }
            }
        }
        if entries.count > 64 {
            flushTLB(p)
        } else {
            for (va, _, _, _) in entries { invalidateTLB(p, va) }
        }
        return freed
    }

    /// munmap: unmaps and removes (or trims/splits) the VMAs overlapping `[start, end)`; a 2 MiB page
    /// only partly inside is split first.
    func unmapRange(_ p: SimProcess, start: UInt64, end: UInt64) throws(MMUError) -> Int {
        for edge in [start, end] where edge % Page.hugeSize != 0 {
            let w = walk(p.pml4Slot, edge)
            if w.isPresent && w.level == .pd {
                guard try splitHuge(p, w.slot, w.index) else { return 0 }
            }
        }
        var freed = 0
        var kept: [VMA] = []
        p.coveredFloor = nil
        for v in p.vmas {
            guard v.start < end && start < v.end else {
                kept.append(v)
                continue
            }
            freed += zap(p, v, max(v.start, start), min(v.end, end))
            if v.start < start {
                var left = v
                left.end = start
                kept.append(left)
            }
            if v.end > end {
                var right = v
                right.offset += end - v.start
                right.start = end
                kept.append(right)
            }
        }
        p.vmas = kept.sorted { $0.start < $1.start }
        return freed
    }

    /// Process exit (`exit_mmap`): unmaps everything, frees the user page tables and the PML4.
    @discardableResult
    func exitProcess(_ p: SimProcess) -> Int {
        if config.addressing == .physical { return exitPhysical(p) }
        var freed = 0
        for v in p.vmas { freed += zap(p, v, v.start, v.end) }
        p.vmas = []
        func freeTables(_ slot: Int, _ level: PageLevel, upTo limit: Int) {
            for i in 0..<limit {
                let e = tables[slot, i]
                guard e & PTEFlags.present.rawValue != 0, e & PTEFlags.hugePage.rawValue == 0 || level == .pml4 else {
                    continue
                }
                let f = Int(PageTableEntry(rawValue: e).pfn)
                let child = tables.slot(ofFrame: f)
                if level != .pd { freeTables(child, PageLevel(rawValue: level.rawValue - 1)!, upTo: 512) }
                tables.destroy(slot: child)
                if memory.release(f) { freed += 1 }
            }
        }
        freeTables(p.pml4Slot, .pml4, upTo: 256)
        tables.destroy(slot: p.pml4Slot)
        if memory.release(p.pml4Frame) { freed += 1 }
        p.tableFrames = 0
        flushTLB(p)
        if currentPID == p.pid { currentPID = nil }
        p.isAlive = false
        processes[p.pid] = nil
        return freed
    }
}
