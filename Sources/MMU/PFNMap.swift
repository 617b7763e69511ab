extension Machine {
    /// Maps raw frames that are not RAM — device memory above physical memory — into a process, as a
    /// driver's mmap does with `remap_pfn_range` (VM_PFNMAP: the frames are not managed, not counted
    /// in rss, never faulted). `pfn(i)` gives page i's frame; each must be ≥ the RAM frame count and
    /// below 2^40. The mapping is shared and shows as `path`. `address` is honoured when free, else a hint.
    /// The benchmark uses it to lay out the reference walkers' 1 GiB at frames from 4 GiB up.
    public func mapPFNs(
        pid: Int,
        address: UInt64?,
        pageCount: Int,
        protection: Protection = [.read, .write],
        path: String = "/dev/mem",
        pfn: (Int) -> UInt64
    ) throws(MMUError) -> MmapResult {
        let p = try process(pid)
        guard config.addressing == .virtual else { throw .invalid("addressing", "PFN maps need an MMU") }
        guard pageCount > 0, pageCount <= 1 << 28 else { throw .invalid("pageCount", "must be 1 … 2^28") }
        let size = UInt64(pageCount) << Page.shift
        for i in 0..<pageCount {
            let f = pfn(i)
            guard f >= UInt64(memory.frameCount), f < 1 << 40 else {
                throw .invalid("pfn", "frame \(f) is RAM or beyond 2^40: only device frames can be mapped")
            }
        }
        guard let start = findFreeRange(p, size: size, hint: address) else {
            return MmapResult(address: nil, errno: "ENOMEM")
        }
        killedThisCall = []
        let vma = VMA(
            start: start,
            end: start + size,
            protection: protection,
            isShared: true,
            kind: .file,
            fileID: nil,
            offset: 0,
            path: path,
            isPFNMap: true
        )
        p.insert(vma)
        var flags: PTEFlags = [.present, .user]
        if protection.contains(.write) { flags.insert(.writable) }
        if !protection.contains(.exec) { flags.insert(.noExecute) }
        for i in 0..<pageCount {
            let va = start + (UInt64(i) << Page.shift)
            guard let (slot, index) = try ensureLeafTable(p, va) else {
                return MmapResult(address: nil, errno: "ENOMEM")
            }
            tables[slot, index] = PageTableEntry(pfn: pfn(i), flags: flags).rawValue
        }
        return MmapResult(address: start)
    }

    /// Empties the TLB (as a CR3 reload without PCID does); counters are kept.
    public func flushTLB() throws(MMUError) {
        try checkAlive()
        tlb.flushAll()
    }
}
