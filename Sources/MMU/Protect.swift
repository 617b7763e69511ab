extension Machine {
    /// `mprotect`: changes the protection of `[address, address+length)` (splitting mappings at the
    /// edges), write-protects or NX-marks the present entries as needed, and flushes the process's TLB
    /// entries (a permission change must not leave stale, more permissive entries).
    /// Returns nil, or "ENOMEM" when part of the range is not mapped (nothing is changed then).
    public func mprotect(pid: Int, address: UInt64, length: UInt64, protection: Protection) throws(MMUError) -> String?
    {
        let p = try process(pid)
        let start = try Checked.aligned(address)
        let end = try Checked.end(start, try Checked.length(length))
        var covered = start
        for v in p.vmas where v.end > covered && v.start < end {
            if v.start > covered { return "ENOMEM" }
            covered = v.end
        }
        guard covered >= end else { return "ENOMEM" }
        // Splitting at both edges adds up to two mappings (vm.max_map_count: ENOMEM).
        guard p.vmas.count + 2 <= limits.maxMappings else { return "ENOMEM" }
        try ensureBudget(2 * Self.mappingCost + Self.faultReserve)
        defer { recountMappings() }
        guard config.addressing == .virtual else {
            // No MMU: nothing can enforce it; the mapping just records it.
            p.vmas = split(p.vmas, start, end, protection)
            return nil
        }
        for edge in [start, end] where edge % Page.hugeSize != 0 {
            let w = walk(p.pml4Slot, edge)
            if w.isPresent && w.level == .pd {
                guard try splitHuge(p, w.slot, w.index) else { return nil }
            }
        }
        p.vmas = split(p.vmas, start, end, protection)
        forEachLeaf(p.pml4Slot, start, end) { _, slot, index, _ in
            var e = self.tables[slot, index]
            if !protection.contains(.write) { e &= ~PTEFlags.writable.rawValue }
            if protection.contains(.exec) {
                e &= ~PTEFlags.noExecute.rawValue
            } else {
                e |= PTEFlags.noExecute.rawValue
            }
            self.tables[slot, index] = e
        }
        flushTLB(p)
        return nil
    }

    /// The mappings with `[start, end)` cut out and given `protection`.
    func split(_ vmas: [VMA], _ start: UInt64, _ end: UInt64, _ protection: Protection) -> [VMA] {
        var out: [VMA] = []
        for v in vmas {
            guard v.start < end && start < v.end else {
                out.append(v)
                continue
            }
            if v.start < start {
                var l = v
                l.end = start
                out.append(l)
            }
            var mid = v
            mid.offset += max(v.start, start) - v.start
            mid.start = max(v.start, start)
            mid.end = min(v.end, end)
            mid.protection = protection
            out.append(mid)
            if v.end > end {
                var r = v
                r.offset += end - v.start
                r.start = end
                out.append(r)
            }
        }
        return out
    }
}
