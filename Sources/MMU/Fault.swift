/// What the page-fault handler did.
enum FaultResult: Equatable {
    /// Nothing to do (the entry already allowed it: a spurious fault).
    case none
    case minor
    case major
    /// Minor fault that broke copy-on-write.
    case cow
    case segv(String)
    /// The faulting process was OOM-killed while the handler looked for a frame.
    case killed
}

extension Machine {
    /// The page-fault handler (`handle_mm_fault`): finds the VMA, checks its permission, then maps a
    /// page: the zero page or a new frame for anonymous memory, a page-cache page for files (read from
    /// disk when not cached: major), or a copy for a write to a copy-on-write page.
    func handleFault(_ p: SimProcess, _ va: UInt64, _ access: Access, _ mode: Mode) throws(MMUError) -> FaultResult {
        if va >> 47 != 0 {
            return .segv(
                mode == .user ? "kernel address from user mode (supervisor-only page)" : "unmapped kernel address"
            )
        }
        guard let vi = p.vmaIndex(containing: va) else { return .segv("no mapping at this address (SEGV_MAPERR)") }
        let vma = p.vmas[vi]
        guard vma.protection.allows(access) else {
            return .segv("\(access.rawValue) not allowed by mapping \(vma.perms) (SEGV_ACCERR)")
        }
        if vma.isPFNMap { return .segv("no page in raw PFN mapping (SIGBUS)") }
        // Before anything changes: the host memory this fault may need at most (limits.md §2).
        try ensureBudget(Self.faultReserve)
        if let r = try hugeFault(p, va, access, vma) { return r }
        guard var (slot, index) = try ensureLeafTable(p, va) else { return .killed }
        var e = tables[slot, index]
        if e & PTEFlags.hugePage.rawValue != 0 {
            // A write to a shared (CoW) 2 MiB page: split it, then copy only the 4 KiB page written.
            guard try splitHuge(p, slot, index), let leaf = try ensureLeafTable(p, va) else { return .killed }
            (slot, index) = leaf
            e = tables[slot, index]
        }
        let page = Page.roundDown(va)
        let nx: PTEFlags = vma.protection.contains(.exec) ? [] : .noExecute

        if Self.isSwapEntry(e) { return try swapIn(p, vma, slot, index, access) }
        if e & PTEFlags.present.rawValue != 0 {
            // Present but not allowed: a write to a read-only entry (write-protect fault, `do_wp_page`).
            guard access == .write, e & PTEFlags.writable.rawValue == 0 else {
                tables[slot, index] = e | PTEFlags.accessed.rawValue
                return .none
            }
            let old = Int(PageTableEntry(rawValue: e).pfn)
            let keep = PTEFlags(rawValue: e & (PTEFlags.user.rawValue | PTEFlags.noExecute.rawValue))
            let rw: PTEFlags = [.present, .writable, .accessed, .dirty]
            if vma.isShared {
                tables[slot, index] = e | rw.rawValue
                cache.markDirty(pfn: old)
                invalidateTLB(p, page)
                return .minor
            }
            if old != zeroFrame && memory.ownerOf(old) == .anonymous && memory.refcountOf(old) == 1 {
                // Last user of a CoW page: reuse it, just make it writable again (`wp_page_reuse`).
                tables[slot, index] = (e & ~PTEFlags.cow.rawValue) | rw.rawValue
                invalidateTLB(p, page)
                return e & PTEFlags.cow.rawValue != 0 ? .cow : .minor
            }
            // Copy (`wp_page_copy`): zero page → fresh zeroed frame; shared/page-cache page → copy.
            guard let new = try allocateFrame(.anonymous, for: p) else { return .killed }
            if old != zeroFrame, let bytes = memory.contents[old] { memory.contents[new] = bytes }
            tables[slot, index] = PageTableEntry(pfn: UInt64(new), flags: keep.union(rw)).rawValue
            if old == zeroFrame {
                p.rssAnon += 1
            } else {
                if memory.ownerOf(old) == .pageCache {
                    p.rssFile -= 1
                    p.rssAnon += 1
                }
                memory.release(old)
            }
            invalidateTLB(p, page)
            return .cow
        }

        guard let fileID = vma.fileID else {
            // Private anonymous: read → the shared zero page; write → a new zeroed frame (`do_anonymous_page`).
            if access != .write {
                tables[slot, index] =
                    PageTableEntry(
                        pfn: UInt64(zeroFrame),
                        flags: PTEFlags([.present, .user, .accessed]).union(nx)
                    ).rawValue
                return .minor
            }
            guard let f = try allocateFrame(.anonymous, for: p) else { return .killed }
            tables[slot, index] =
                PageTableEntry(
                    pfn: UInt64(f),
                    flags: PTEFlags([.present, .writable, .user, .accessed, .dirty]).union(nx)
                ).rawValue
            p.rssAnon += 1
            return .minor
        }

        // File-backed or shmem (`do_read_fault` / `do_shared_fault` / `do_cow_fault`).
        let fileIndex = vma.filePage(va)
        let isShmem = cache.files[fileID].isShmem
        if !isShmem && fileIndex >= cache.files[fileID].pageCount {
            return .segv("beyond the end of the file (SIGBUS)")
        }
        var result = FaultResult.minor
        let cached: Int
        if let f = cache.files[fileID].cached[fileIndex] {
            cached = f
        } else {
            guard let f = try allocateFrame(.pageCache, for: p) else { return .killed }
            cache.add(pfn: f, fileID: fileID, index: fileIndex)
            if !isShmem {
                if let bytes = cache.files[fileID].disk[fileIndex] { memory.contents[f] = bytes }
                pgpgin += Page.size >> 10
                result = .major
            }
            cached = f
        }
        if vma.isShared {
            var flags: PTEFlags = [.present, .user, .accessed]
            if vma.protection.contains(.write) { flags.insert(.writable) }
            if access == .write {
                flags.insert(.dirty)
                cache.markDirty(pfn: cached)
            }
            tables[slot, index] = PageTableEntry(pfn: UInt64(cached), flags: flags.union(nx)).rawValue
            memory.retain(cached)
            if isShmem { p.rssShmem += 1 } else { p.rssFile += 1 }
            return result
        }
        if access == .write {
            // Private write: the page cache page is read, then copied into an anonymous frame.
            memory.retain(cached)  // hold it while a frame is found (reclaim must not take it)
            guard let f = try allocateFrame(.anonymous, for: p) else {
                memory.release(cached)
                return .killed
            }
            if let bytes = memory.contents[cached] { memory.contents[f] = bytes }
            memory.release(cached)
            tables[slot, index] =
                PageTableEntry(
                    pfn: UInt64(f),
                    flags: PTEFlags([.present, .writable, .user, .accessed, .dirty]).union(nx)
                ).rawValue
            p.rssAnon += 1
            return result
        }
        var flags: PTEFlags = [.present, .user, .accessed]
        if vma.protection.contains(.write) { flags.insert(.cow) }
        tables[slot, index] = PageTableEntry(pfn: UInt64(cached), flags: flags.union(nx)).rawValue
        memory.retain(cached)
        p.rssFile += 1
        return result
    }

    /// Transparent huge page (`do_huge_pmd_anonymous_page`): with `hugePages` on, a write fault in private
    /// anonymous memory whose 2 MiB-aligned block lies inside the mapping, with nothing mapped there yet,
    /// maps one 2 MiB page (PS in the PD entry). nil = not applicable (take the 4 KiB path).
    func hugeFault(_ p: SimProcess, _ va: UInt64, _ access: Access, _ vma: VMA) throws(MMUError) -> FaultResult? {
        guard config.hugePages, access == .write, vma.fileID == nil, !vma.isShared else { return nil }
        let block = va & ~(Page.hugeSize - 1)
        guard block >= vma.start, block + Page.hugeSize <= vma.end else { return nil }
        guard let (slot, index) = try ensureLeafTable(p, va, target: .pd) else { return .killed }
        guard tables[slot, index] == 0, let base = memory.allocateHuge(.anonymous) else { return nil }
        var flags: PTEFlags = [.present, .writable, .user, .accessed, .dirty, .hugePage]
        if !vma.protection.contains(.exec) { flags.insert(.noExecute) }
        tables[slot, index] = PageTableEntry(pfn: UInt64(base), flags: flags).rawValue
        p.rssAnon += 512
        return .minor
    }

    /// A frame for `owner`, reclaiming page cache and then OOM-killing when none is free
    /// (`__alloc_pages_slowpath`). nil when `p` itself was killed. Throws when the machine panics.
    func allocateFrame(_ owner: FrameOwner, for p: SimProcess?) throws(MMUError) -> Int? {
        while true {
            if let p, !p.isAlive { return nil }
            if let f = memory.allocate(owner) { return f }
            if reclaim(target: 32) > 0 { continue }
            try outOfMemory()
        }
    }
}
