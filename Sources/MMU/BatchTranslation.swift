extension Machine {
    /// Translates `pattern`'s addresses for `pid` and returns only a summary — the hot path for up to
    /// 10,000,000 accesses (`simulateTranslation` with `pattern` or `summaryOnly`).
    ///
    /// Each access behaves exactly like `translate` (same TLB, same fault handling, segv does not kill);
    /// TLB hits and clean walks run in a tight loop over flat buffers, anything else (fault, permission,
    /// dirty-bit update, non-canonical) drops to the general path for that one access.
    public func translateBatch(
        pid: Int,
        pattern: AddressPattern,
        access: Access = .read,
        mode: Mode = .user,
        dryRun: Bool = false,
        shouldStop: (() -> Bool)? = nil
    ) throws(MMUError) -> TranslationSummary {
        let p = try process(pid)
        killedThisCall = []
        var summary = TranslationSummary()
        var counts = [Int](repeating: 0, count: Outcome.allCases.count)
        func count(_ n: Int) throws(MMUError) -> Int {
            guard n >= 0 else { throw .invalid("count", "must not be negative") }
            return try Checked.accesses(count: UInt64(n), limit: limits.maxAccesses)
        }
        /// Runs `total` accesses in slices of `stopCheckInterval`, asking `shouldStop` between slices.
        func slices<S: AddressStream>(_ stream: inout S, _ total: Int) throws(MMUError) {
            let interval = max(1, limits.stopCheckInterval)
            var done = 0
            while done < total && p.isAlive {
                if done > 0, let shouldStop, shouldStop() { throw .cancelled(completed: done) }
                let n = min(interval, total - done)
                try run(p, &stream, n, access, mode, dryRun, &summary, &counts)
                done += n
            }
        }
        switch pattern {
        case .sequential(let start, let length, let n):
            let total = try count(n)
            guard length > 0 else { throw .invalid("length", "must be positive") }
            _ = try Checked.end(start, length)
            var s = StrideStream(start: start, length: length, step: Page.size)
            try slices(&s, total)
        case .stride(let start, let length, let stride, let n):
            let total = try count(n)
            guard length > 0 else { throw .invalid("length", "must be positive") }
            guard stride > 0 else { throw .invalid("stride", "must be positive") }
            _ = try Checked.end(start, length)
            var s = StrideStream(start: start, length: length, step: stride)
            try slices(&s, total)
        case .random(let start, let length, let seed, let n):
            let total = try count(n)
            guard length > 0 else { throw .invalid("length", "must be positive") }
            _ = try Checked.end(start, length)
            var s = XorshiftStream(start: start, length: length, seed: seed)
            try slices(&s, total)
        case .addresses(let list):
            let total = try count(list.count)
            try list.withUnsafeBufferPointer { (buf) throws(MMUError) in
                guard let base = buf.baseAddress else { return }
                var s = BufferStream(base: base)
                try slices(&s, total)
            }
        }
        for o in Outcome.allCases { summary.outcomes[o] = counts[Self.outcomeIndex(o)] }
        summary.count = counts.reduce(0, +)
        summary.oomKilled = killedThisCall
        return summary
    }

    static func outcomeIndex(_ o: Outcome) -> Int { Outcome.allCases.firstIndex(of: o)! }

    func run<S: AddressStream>(
        _ p: SimProcess,
        _ stream: inout S,
        _ count: Int,
        _ access: Access,
        _ mode: Mode,
        _ dryRun: Bool,
        _ summary: inout TranslationSummary,
        _ counts: inout [Int]
    ) throws(MMUError) {
        if dryRun {
            for _ in 0..<count {
                let va = stream.next()
                var t = Translation(
                    address: va,
                    vpn: 0,
                    indices: PageIndices(address: 0),
                    mapping: nil,
                    isPresent: false,
                    pfn: nil,
                    physicalAddress: nil,
                    outcome: .segv
                )
                let o: Outcome
                if config.addressing == .physical {
                    o = physicalAccess(va, 1) == nil ? .segv : .translated
                } else if !isCanonical(va) {
                    o = .segv
                } else {
                    let w = walk(p.pml4Slot, va)
                    o = dryRunOutcome(p, va, w, access, mode, &t)
                    if o == .translated { summary.physicalAddressSum &+= (w.pfn << Page.shift) | (va & 0xfff) }
                }
                counts[Self.outcomeIndex(o)] += 1
            }
            return
        }
        if config.addressing == .physical {
            for _ in 0..<count {
                let va = stream.next()
                if physicalAccess(va, 1) != nil {
                    counts[Self.outcomeIndex(.translated)] += 1
                    summary.physicalAddressSum &+= va
                } else {
                    counts[Self.outcomeIndex(.segv)] += 1
                }
            }
            return
        }
        switchTo(p)
        let required =
            PTEFlags.present.rawValue | (mode == .user ? PTEFlags.user.rawValue : 0)
            | (access == .write ? PTEFlags.writable.rawValue | PTEFlags.dirty.rawValue : 0)
        let forbidden = access == .exec ? PTEFlags.noExecute.rawValue : 0
        let asid: UInt64 = config.pcid ? UInt64(p.pid) << TLB.asidShift : 0
        let root = p.pml4Slot
        var remaining = count
        var sum = summary.physicalAddressSum
        var translated = 0
        var hitCount = 0
        while remaining > 0 {
            // Fast section: pointers stay valid until the slow path may grow a buffer.
            let tags = tlb.tags
            let values = tlb.values
            let stamps = tlb.stamps
            let ways = tlb.ways
            let setMask = tlb.setMask
            let sets = UInt64(tlb.sets)
            let entries = tables.entries
            let children = tables.children
            var clock = tlb.clock
            var hits: UInt64 = 0
            var misses: UInt64 = 0
            var pending: UInt64 = 0
            var hasPending = false
            // The tag the previous access hit or filled: its way's stamp is already the newest, so a repeat
            // hit needs no set scan and no new stamp (LRU order is unchanged; counts are the same).
            var lastTag = TLB.invalidTag
            var lastValueOK = false
            var lastFrame: UInt64 = 0
            access: while remaining > 0 {
                let va = stream.next()
                remaining &-= 1
                let top = va >> 47
                if top != 0 && top != 0x1ffff {
                    pending = va
                    hasPending = true
                    break
                }
                let vpn = (va & 0xffff_ffff_ffff) >> 12
                let tag = vpn | asid
                if tag == lastTag && lastValueOK {
                    hits &+= 1
                    sum &+= lastFrame | (va & 0xfff)
                    continue
                }
                let base = (setMask >= 0 ? Int(truncatingIfNeeded: vpn) & setMask : Int(vpn % sets)) &* ways
                var w = base
                let end = base &+ ways
                while w < end {
                    if tags[w] == tag {
                        let v = values[w]
                        if v & required != required || v & forbidden != 0 {
                            pending = va
                            hasPending = true
                            break access
                        }
                        clock &+= 1
                        stamps[w] = clock
                        hits &+= 1
                        lastTag = tag
                        lastValueOK = true
                        lastFrame = v & 0x000f_ffff_ffff_f000
                        sum &+= lastFrame | (va & 0xfff)
                        continue access
                    }
                    w &+= 1
                }
                // TLB miss: the 4-level walk, unrolled (PML4 → PDPT → PD → PT; PS stops at PDPT or PD).
                var at = root &* 512 &+ Int(truncatingIfNeeded: (va >> 39) & 511)
                var e = entries[at]
                if e & 1 == 0 {
                    pending = va
                    hasPending = true
                    break access
                }
                var perm = e
                var nx = e
                var pagesMask: UInt64 = 0
                at = Int(truncatingIfNeeded: children[at]) &* 512 &+ Int(truncatingIfNeeded: (va >> 30) & 511)
                e = entries[at]
                if e & 1 == 0 {
                    pending = va
                    hasPending = true
                    break access
                }
                perm &= e
                nx |= e
                if e & PTEFlags.hugePage.rawValue != 0 {
                    pagesMask = (1 << 18) - 1
                } else {
                    at = Int(truncatingIfNeeded: children[at]) &* 512 &+ Int(truncatingIfNeeded: (va >> 21) & 511)
                    e = entries[at]
                    if e & 1 == 0 {
                        pending = va
                        hasPending = true
                        break access
                    }
                    perm &= e
                    nx |= e
                    if e & PTEFlags.hugePage.rawValue != 0 {
                        pagesMask = 511
                    } else {
                        at = Int(truncatingIfNeeded: children[at]) &* 512 &+ Int(truncatingIfNeeded: (va >> 12) & 511)
                        e = entries[at]
                        perm &= e
                        nx |= e
                    }
                }
                let eff =
                    (e & ~(PTEFlags.writable.rawValue | PTEFlags.user.rawValue | PTEFlags.noExecute.rawValue))
                    | (perm & (PTEFlags.writable.rawValue | PTEFlags.user.rawValue))
                    | (nx & PTEFlags.noExecute.rawValue)
                if eff & required != required || eff & forbidden != 0 {
                    pending = va
                    hasPending = true
                    break
                }
                if e & PTEFlags.accessed.rawValue == 0 { entries[at] = e | PTEFlags.accessed.rawValue }
                let pfn = ((e & 0x000f_ffff_ffff_f000) >> 12 & ~pagesMask) | (vpn & pagesMask)
                let value = (pfn << 12) | (eff & ~0x000f_ffff_ffff_f000)
                // Fill: first empty way, else the least recently used.
                var victim = base
                w = base
                while w < end {
                    if tags[w] == TLB.invalidTag {
                        victim = w
                        break
                    }
                    if stamps[w] < stamps[victim] { victim = w }
                    w &+= 1
                }
                clock &+= 1
                tags[victim] = tag
                values[victim] = value
                stamps[victim] = clock
                lastTag = tag
                lastValueOK = true
                lastFrame = pfn << 12
                misses &+= 1
                translated &+= 1
                sum &+= (pfn << 12) | (va & 0xfff)
            }
            tlb.clock = clock
            tlb.hits &+= hits
            tlb.misses &+= misses
            hitCount &+= Int(hits)
            summary.tlbHits &+= hits
            summary.tlbMisses &+= misses
            guard hasPending else { break }
            // General path for this one access.
            let hitsBefore = tlb.hits
            let missesBefore = tlb.misses
            let r: AccessResult
            do throws(MMUError) {
                r = try self.access(p, pending, access, mode)
            } catch {
                // Everything before this access is done and counted (the simMemory limit's `completed`).
                counts[Self.outcomeIndex(.translated)] += translated
                counts[Self.outcomeIndex(.tlbHit)] += hitCount
                summary.physicalAddressSum = sum
                throw error.completing(counts.reduce(0, +))
            }
            summary.tlbHits &+= tlb.hits &- hitsBefore
            summary.tlbMisses &+= tlb.misses &- missesBefore
            if r.killed || !p.isAlive { break }
            counts[Self.outcomeIndex(r.outcome)] += 1
            if r.outcome != .segv { sum &+= r.physical }
        }
        counts[Self.outcomeIndex(.translated)] += translated
        counts[Self.outcomeIndex(.tlbHit)] += hitCount
        summary.physicalAddressSum = sum
    }
}
