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
            var s = RandomStream(XorshiftStream(start: start, length: length, seed: seed))
            try slices(&s, total)
        case .addresses(let list):
            let total = try count(list.count)
            try list.withUnsafeBufferPointer { (buf) throws(MMUError) in
                guard let base = buf.baseAddress else { return }
                var s = BufferStream(cursor: base, end: base + buf.count)
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
            // Fast section until an access needs the general path; 4-way sets (the default) get a loop
            // whose scan over a set is unrolled.
            let before = remaining
            let fast =
                tlb.ways == 4 && tlb.setMask >= 0
                ? translateClean(&stream, &remaining, &sum, FourWaysMasked.self, root, asid, required, forbidden)
                : translateClean(&stream, &remaining, &sum, ConfiguredGeometry.self, root, asid, required, forbidden)
            let hits = UInt64(before &- remaining &- (fast.pending == nil ? 0 : 1)) &- fast.misses
            tlb.hits &+= hits
            tlb.misses &+= fast.misses
            hitCount &+= Int(hits)
            translated &+= Int(fast.misses)
            summary.tlbHits &+= hits
            summary.tlbMisses &+= fast.misses
            guard let pending = fast.pending else { break }
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

/// Where a VPN's set starts in a TLB, as a type: `translateClean` is specialised for each, so with
/// `SixteenByFour` (the default geometry) the set index is a mask and the scan over a set unrolls into four
/// compares.
protocol TLBGeometry {
    static func ways(_ tlb: TLB) -> Int
    static func firstWay(_ vpn: UInt64, _ tlb: TLB) -> Int
}

/// 4 ways and a power-of-two number of sets.
enum FourWaysMasked: TLBGeometry {
    @inline(__always) static func ways(_ tlb: TLB) -> Int { 4 }
    @inline(__always) static func firstWay(_ vpn: UInt64, _ tlb: TLB) -> Int {
        (Int(truncatingIfNeeded: vpn) & tlb.setMask) &<< 2
    }
}

/// Any geometry the machine was configured with.
enum ConfiguredGeometry: TLBGeometry {
    @inline(__always) static func ways(_ tlb: TLB) -> Int { tlb.ways }
    @inline(__always) static func firstWay(_ vpn: UInt64, _ tlb: TLB) -> Int { tlb.firstWay(vpn: vpn) }
}

extension Machine {
    /// The fast section of a batch: translates from `stream` while accesses are TLB hits or clean walks
    /// (present, permitted, no dirty bit to set), at most `remaining` of them; returns the first address
    /// that needs the general path (its access already taken from `remaining`), if any, and the number of
    /// clean walks (each a TLB miss and a fill). Hits are the rest.
    ///
    /// Pointers into the TLB and the page tables are held for the whole section: only the general path
    /// grows those buffers. As few values as possible live across the loop, so that they stay in
    /// registers and the loop stays short. On a random stream every access misses in the host's caches
    /// at the last level of the walk; each TLB miss therefore prefetches the last-level entry of the
    /// access `lookahead` places later, so that the walks' memory latencies overlap instead of adding up.
    @inline(__always)
    func translateClean<S: AddressStream, G: TLBGeometry>(
        _ stream: inout S,
        _ remaining: inout Int,
        _ sum: inout UInt64,
        _: G.Type,
        _ root: Int,
        _ asid: UInt64,
        _ required: UInt64,
        _ forbidden: UInt64
    ) -> (pending: UInt64?, misses: UInt64) {
        let tlb = self.tlb
        let slots = tlb.slots
        let ways = G.ways(tlb)
        let entries = tables.entries
        let children = tables.children
        // Locals, not the caller's memory, so that they can live in registers.
        var clock = tlb.clock
        var addresses = stream
        var left = remaining
        var total = sum
        defer {
            tlb.clock = clock
            stream = addresses
            remaining = left
            sum = total
        }
        var misses: UInt64 = 0
        // The page the previous access hit or filled: its way's stamp is already the newest, so a repeat
        // hit needs no canonical check, no set scan and no new stamp (LRU order is unchanged; counts are
        // the same); the stream takes a run of them in one call. Compared as the page's whole virtual
        // address (canonical, so another address of that page is canonical and has the same tag); 1, not
        // a page's address, matches nothing before the first.
        var lastPage: UInt64 = 1
        var lastFrame: UInt64 = 0
        // The 1 GiB region (address bits 30…47, with the bits above) whose PML4 and PDPT entries were
        // walked last: its PD's slot, and those two entries ANDed (for RW, US) and ORed (for NX). The
        // CPU's paging-structure caches keep the same; here no entry above a leaf changes during a
        // fast section (only the general path changes tables). No address shifted by 30 is `.max`.
        var region = UInt64.max
        var regionPD = 0
        var regionPerm: UInt64 = 0
        var regionNX: UInt64 = 0
        access: while left > 0 {
            left &-= addresses.take(onPage: lastPage, frame: lastFrame, limit: left, into: &total)
            guard left > 0 else { break }
            let va = addresses.next()
            left &-= 1
            // Canonical: bits 47…63 all equal.
            guard (va &+ (1 << 47)) >> 48 == 0 else { return (va, misses) }
            let vpn = (va & 0xffff_ffff_ffff) >> 12
            let tag = vpn | asid
            let set = slots + G.firstWay(vpn, tlb)
            // One pass: the way holding the tag, else the victim (the first smallest stamp: an empty way
            // has stamp 0, so this is the first empty way, else the least recently used).
            var victim = 0
            var oldest = UInt64.max
            for w in 0..<ways {
                let way = set[w]
                if way.tag == tag {
                    guard way.value & required == required && way.value & forbidden == 0 else {
                        return (va, misses)
                    }
                    clock &+= 1
                    set[w].stamp = clock
                    lastPage = va & ~0xfff
                    lastFrame = way.value & PageTableEntry.frameMask
                    total &+= lastFrame | (va & 0xfff)
                    continue access
                }
                if way.stamp < oldest {
                    oldest = way.stamp
                    victim = w
                }
            }
            // TLB miss. While this walk waits for its last entry, that of a later access is on its way.
            let ahead = addresses.upcoming()
            let aheadPD =
                ahead >> 30 == region ? regionPD : PageTableStore.pdHint(ahead, root: root, children: children)
            prefetch(entries + PageTableStore.leafHint(ahead, pd: aheadPD, children: children))
            // The walk: PML4 and PDPT once per 1 GiB region, then PD → PT (PS stops at PD).
            if va >> 30 != region {
                let top = root &* 512 &+ Int(truncatingIfNeeded: (va >> 39) & 511)
                let pml4e = entries[top]
                guard pml4e & 1 != 0 else { return (va, misses) }
                let at = Int(truncatingIfNeeded: children[top]) &* 512 &+ Int(truncatingIfNeeded: (va >> 30) & 511)
                let pdpte = entries[at]
                // A 1 GiB page (the simulator makes none) takes the general path.
                guard pdpte & 1 != 0 && pdpte & PTEFlags.hugePage.rawValue == 0 else { return (va, misses) }
                region = va >> 30
                regionPD = Int(truncatingIfNeeded: children[at])
                regionPerm = pml4e & pdpte
                regionNX = pml4e | pdpte
            }
            var at = regionPD &* 512 &+ Int(truncatingIfNeeded: (va >> 21) & 511)
            var e = entries[at]
            guard e & 1 != 0 else { return (va, misses) }
            var perm = regionPerm & e
            var nx = regionNX | e
            var pagesMask: UInt64 = 0
            if e & PTEFlags.hugePage.rawValue != 0 {
                pagesMask = 511
            } else {
                at = Int(truncatingIfNeeded: children[at]) &* 512 &+ Int(truncatingIfNeeded: (va >> 12) & 511)
                e = entries[at]
                perm &= e
                nx |= e
            }
            let eff =
                (e & ~(PTEFlags.writable.rawValue | PTEFlags.user.rawValue | PTEFlags.noExecute.rawValue))
                | (perm & (PTEFlags.writable.rawValue | PTEFlags.user.rawValue))
                | (nx & PTEFlags.noExecute.rawValue)
            guard eff & required == required && eff & forbidden == 0 else { return (va, misses) }
            if e & PTEFlags.accessed.rawValue == 0 { entries[at] = e | PTEFlags.accessed.rawValue }
            let frame =
                (e & PageTableEntry.frameMask & ~(pagesMask << 12)) | ((vpn & pagesMask) << 12)
            clock &+= 1
            set[victim] = TLB.Way(tag: tag, value: frame | (eff & ~PageTableEntry.frameMask), stamp: clock)
            lastPage = va & ~0xfff
            lastFrame = frame
            misses &+= 1
            total &+= frame | (va & 0xfff)
        }
        return (nil, misses)
    }
}
