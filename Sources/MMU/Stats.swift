extension Machine {
    /// The simulated /proc/meminfo as ordered (key, bytes) pairs, so the server can apply the same
    /// `free`/`sar -r` formulas as for the real machine. MemTotal = physicalBytes; the kernel's own
    /// frames (kernel text, zero page, page tables) are used, not free and not available.
    /// MemAvailable = MemFree + page cache that reclaim could drop (unmapped, not shmem).
    public func meminfo() throws(MMUError) -> [(key: String, bytes: UInt64)] {
        try checkAlive()
        let ps = Page.size
        if config.addressing == .physical {
            let free = UInt64(physical.freeFrames) * ps
            let anon = UInt64(processes.values.reduce(0) { $0 + physical.usedFrames(pid: $1.pid) }) * ps
            return [
                ("MemTotal", config.physicalBytes), ("MemFree", free), ("MemAvailable", free), ("Buffers", 0),
                ("Cached", 0), ("SwapCached", 0), ("Active", anon), ("Inactive", 0), ("Dirty", 0), ("Shmem", 0),
                ("AnonPages", anon), ("Mapped", 0), ("Slab", 0), ("SReclaimable", 0), ("KernelStack", 0),
                ("PageTables", 0), ("Committed_AS", anon), ("SwapTotal", config.swapBytes),
                ("SwapFree", config.swapBytes), ("VmallocUsed", 0),
            ]
        }
        var mapped = 0
        var reclaimable = 0
        for (pfn, page) in cache.pages {
            let mapcount = memory.refcountOf(pfn) - 1
            if mapcount > 0 { mapped += 1 } else if !cache.files[page.fileID].isShmem { reclaimable += 1 }
        }
        let free = UInt64(memory.freeCount) * ps
        let cached = UInt64(cache.pages.count) * ps
        let anon = UInt64(memory.count(.anonymous)) * ps
        let shmem = UInt64(cache.shmemCount) * ps
        // Committed_AS, saturating: each process commits less than 2^48, but enough processes (up to
        // --max-sim-processes) could pass what a JSON integer holds.
        var committed: UInt64 = 0
        for p in processes.values {
            var mine: UInt64 = 0
            for v in p.vmas
            where (!v.isShared && v.protection.contains(.write))
                || (v.isShared && v.fileID != nil
                    && cache.files[v.fileID!].isShmem)
            {
                mine += v.size
            }
            committed = mine > UInt64(Int.max) - committed ? UInt64(Int.max) : committed + mine
        }
        let inactive = UInt64(reclaimable) * ps
        return [
            ("MemTotal", config.physicalBytes),
            ("MemFree", free),
            ("MemAvailable", free + inactive),
            ("Buffers", 0),
            ("Cached", cached),
            ("SwapCached", 0),
            ("Active", anon + cached - inactive),
            ("Inactive", inactive),
            ("Dirty", UInt64(cache.dirtyCount) * ps),
            ("Shmem", shmem),
            ("AnonPages", anon),
            ("Mapped", UInt64(mapped) * ps),
            ("Slab", 0),
            ("SReclaimable", 0),
            ("KernelStack", 0),
            ("PageTables", UInt64(memory.count(.pageTable)) * ps),
            ("Committed_AS", committed),
            ("SwapTotal", config.swapBytes),
            ("SwapFree", config.swapBytes - UInt64(swap.used) * ps),
            ("VmallocUsed", 0),
        ]
    }

    /// The simulated /proc/vmstat counters (pgpgin/pgpgout in KiB, as the kernel counts them).
    public func vmstat() throws(MMUError) -> [(key: String, value: UInt64)] {
        try checkAlive()
        return [
            ("pgpgin", pgpgin), ("pgpgout", pgpgout), ("pgfault", pgfault), ("pgmajfault", pgmajfault),
            ("pgfree", memory.freedTotal), ("pgscan_kswapd", 0), ("pgscan_direct", pgscanDirect),
            ("pgsteal_anon", pgstealAnon), ("pgsteal_file", pgstealFile), ("pswpin", pswpin),
            ("pswpout", pswpout), ("oom_kill", oomKills),
        ]
    }

    /// The process's mappings in address order (`/proc/PID/maps`); with `detail`, smaps fields
    /// computed from the page tables (pss divides each page by its mapcount).
    public func mappings(pid: Int, detail: Bool = false) throws(MMUError) -> [MappingInfo] {
        let p = try process(pid)
        return p.vmas.map { v in
            var m = mappingInfo(v)
            if detail { m.detail = self.detail(p, v) }
            return m
        }
    }

    func detail(_ p: SimProcess, _ v: VMA) -> MappingDetail {
        var d = MappingDetail()
        if config.addressing == .physical {
            d.rss = v.size
            d.pss = v.size
            d.privateDirty = v.size
            d.anonymous = v.size
            d.referenced = v.size
            return d
        }
        if v.isPFNMap { return d }
        forEachLeaf(p.pml4Slot, v.start, v.end, includeSwap: true) { _, slot, index, _ in
            if Self.isSwapEntry(self.tables[slot, index]) { d.swap += Page.size }
        }
        forEachLeaf(p.pml4Slot, v.start, v.end) { _, slot, index, level in
            let e = self.tables[slot, index]
            let base = Int(PageTableEntry(rawValue: e).pfn)
            let count = level == .pt ? 1 : 512
            for f in base..<(base + count) where f != self.zeroFrame {
                let owner = self.memory.ownerOf(f)
                let mapcount = max(1, self.memory.refcountOf(f) - (owner == .pageCache ? 1 : 0))
                let dirty = e & PTEFlags.dirty.rawValue != 0 || (self.cache.pages[f]?.isDirty ?? false)
                let ps = Page.size
                d.rss += ps
                d.pss += ps / UInt64(mapcount)
                if e & PTEFlags.accessed.rawValue != 0 { d.referenced += ps }
                if owner == .anonymous { d.anonymous += ps }
                if mapcount > 1 {
                    if dirty { d.sharedDirty += ps } else { d.sharedClean += ps }
                } else {
                    if dirty { d.privateDirty += ps } else { d.privateClean += ps }
                }
                if level != .pt && owner == .anonymous { d.anonHugePages += ps }
            }
        }
        return d
    }
}
