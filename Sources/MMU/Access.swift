/// The result of one access through the MMU.
struct AccessResult {
    var outcome: Outcome
    /// Physical address when translated.
    var physical: UInt64 = 0
    var segv: String?
    var killed = false
}

extension Machine {
    /// One access by `p` to `va`, as the CPU and kernel do it: TLB lookup; on a miss the walk; on a
    /// refused walk the fault handler, then the walk again to fill the TLB. Counts TLB hits/misses,
    /// faults (process and machine), and sets A/D bits.
    func access(_ p: SimProcess, _ va: UInt64, _ access: Access, _ mode: Mode) throws(MMUError) -> AccessResult {
        switchTo(p)
        guard isCanonical(va) else { return AccessResult(outcome: .segv, segv: "non-canonical address (#GP)") }
        let vpn = TLB.vpn(va)
        let tag = tlbTag(vpn, p.pid)
        let way = tlb.find(tag: tag, vpn: vpn)
        let offset = va & (Page.size - 1)
        if way >= 0 {
            let value = tlb.slots[way].value
            if Self.permits(value, access, mode) {
                if access == .write && value & PTEFlags.dirty.rawValue == 0 {
                    // First write through a clean entry: the walker sets D in the page table.
                    let w = walk(p.pml4Slot, va)
                    tables[w.slot, w.index] = w.entry | PTEFlags.dirty.rawValue | PTEFlags.accessed.rawValue
                    markCacheDirty(w.pfn)
                    tlb.slots[way].value = value | PTEFlags.dirty.rawValue
                }
                tlb.hits += 1
                tlb.touch(way)
                return AccessResult(outcome: .tlbHit, physical: (value & PageTableEntry.frameMask) | offset)
            }
        }
        tlb.misses += 1
        var w = walk(p.pml4Slot, va)
        var outcome = Outcome.translated
        if !Self.permits(w.effective, access, mode) {
            if va >> 47 != 0 {
                let why =
                    w.isPresent
                    ? (mode == .user
                        ? "kernel address from user mode (supervisor-only page)"
                        : "\(access.rawValue) not allowed on kernel page")
                    : "unmapped kernel address"
                return AccessResult(outcome: .segv, segv: why)
            }
            let r = try handleFault(p, va, access, mode)
            switch r {
            case .none: break
            case .minor: outcome = .minorFault
            case .major: outcome = .majorFault
            case .cow: outcome = .cowFault
            case .segv(let why): return AccessResult(outcome: .segv, segv: why)
            case .killed: return AccessResult(outcome: .segv, killed: true)
            }
            countFault(p, outcome)
            w = walk(p.pml4Slot, va)
            guard Self.permits(w.effective, access, mode) else {
                return AccessResult(outcome: .segv, segv: "\(access.rawValue) refused after fault")
            }
        }
        var e = w.entry | PTEFlags.accessed.rawValue
        if access == .write && e & PTEFlags.dirty.rawValue == 0 {
            e |= PTEFlags.dirty.rawValue
            markCacheDirty(w.pfn)
        }
        tables[w.slot, w.index] = e
        let value = (w.pfn << Page.shift) | (w.effective & ~PageTableEntry.frameMask) | (e & PTEFlags.dirty.rawValue)
        tlb.insert(tag: tag, vpn: vpn, value: value)
        return AccessResult(outcome: outcome, physical: (w.pfn << Page.shift) | offset)
    }

    func markCacheDirty(_ pfn: UInt64) {
        let f = Int(pfn)
        if f < memory.frameCount && memory.ownerOf(f) == .pageCache { cache.markDirty(pfn: f) }
    }

    func countFault(_ p: SimProcess, _ outcome: Outcome) {
        switch outcome {
        case .majorFault:
            p.majflt += 1
            pgmajfault += 1
            pgfault += 1
        case .minorFault, .cowFault:
            p.minflt += 1
            minorFaults += 1
            pgfault += 1
            if outcome == .cowFault {
                p.cowFaults += 1
                cowFaults += 1
            }
        default: break
        }
    }

    /// Counts one access into a touch result; returns false when the process died (stop).
    /// Where `n` bytes at `va` are in physical memory for a user access by `p`
    /// (faults handled), or nil once `t` records why the access stopped (segv, OOM).
    func physicalAddress(
        _ p: SimProcess,
        _ va: UInt64,
        _ n: Int,
        _ kind: Access,
        into t: inout TouchResult
    )
        throws(MMUError) -> UInt64?
    {
        if config.addressing == .physical {
            guard let address = physicalAccess(va, n) else {
                t.segv = SegvInfo(address: va, reason: "beyond physical memory (bus error)")
                return nil
            }
            return address
        }
        let r = try access(p, va, kind, .user)
        return record(r, va, p, into: &t) ? r.physical : nil
    }

    func record(_ r: AccessResult, _ va: UInt64, _ p: SimProcess, into t: inout TouchResult) -> Bool {
        switch r.outcome {
        case .minorFault: t.minorFaults += 1
        case .majorFault: t.majorFaults += 1
        case .cowFault:
            t.minorFaults += 1
            t.cowFaults += 1
        default: break
        }
        if r.killed || !p.isAlive { return false }
        if let why = r.segv {
            t.segv = SegvInfo(address: va, reason: why)
            exitProcess(p)  // SIGSEGV's default action
            return false
        }
        t.pagesTouched += 1
        return true
    }

    /// `sim.touch`: accesses `address`, `address + stride`, … below `address + length`, each through
    /// the TLB and page tables like a program's loads or stores. A refused access kills the process
    /// (SIGSEGV) and stops; so does an OOM kill of the process.
    ///
    /// At most `limits.maxAccesses` accesses (`resourceLimit` "accesses" before any); `shouldStop` is
    /// asked every `limits.stopCheckInterval` accesses (true: `cancelled`). A simMemory limit met on
    /// the way stops the call with `completed` = the accesses done, which stay done.
    public func touch(
        pid: Int,
        address: UInt64,
        length: UInt64,
        access: Access,
        stride: UInt64 = Page.size,
        shouldStop: (() -> Bool)? = nil
    ) throws(MMUError) -> TouchResult {
        let p = try process(pid)
        guard length > 0 else { throw .invalid("length", "must be positive") }
        _ = try Checked.end(address, length)
        let count = try Checked.accesses(length: length, stride: stride, limit: limits.maxAccesses)
        killedThisCall = []
        var t = TouchResult()
        let interval = max(1, limits.stopCheckInterval)
        for i in 0..<count {
            if i % interval == interval - 1, let shouldStop, shouldStop() { throw .cancelled(completed: i) }
            // i × stride < length ≤ 2^64 − address: no overflow.
            let va = address + UInt64(i) * stride
            if config.addressing == .physical {
                // No MMU, no faults: any address inside physical memory works, whoever owns it.
                guard physicalAccess(va, 1) != nil else {
                    t.segv = SegvInfo(address: va, reason: "beyond physical memory (bus error)")
                    break
                }
                t.pagesTouched += 1
                continue
            }
            let r: AccessResult
            do throws(MMUError) {
                r = try self.access(p, va, access, .user)
            } catch {
                throw error.completing(i)
            }
            if !record(r, va, p, into: &t) { break }
        }
        t.oomKilled = killedThisCall
        return t
    }

    /// `sim.read`: up to 4 KiB from the process's memory (faulting pages in as reads do).
    public func read(pid: Int, address: UInt64, length: Int) throws(MMUError) -> ReadResult {
        let p = try process(pid)
        guard length >= 0, length <= 4096 else { throw .invalid("length", "must be 0 … 4096") }
        let end = try Checked.end(address, UInt64(length))
        killedThisCall = []
        var t = TouchResult()
        var out: [UInt8] = []
        var pos = address
        while pos < end {
            let n = Int(min(end - pos, Page.size - (pos & (Page.size - 1))))
            guard let pa = try physicalAddress(p, pos, n, .read, into: &t) else { break }
            let page = memory.contents[Int(pa >> Page.shift)]
            let inPage = Int(pa & (Page.size - 1))
            if let page { out += page[inPage..<(inPage + n)] } else { out += [UInt8](repeating: 0, count: n) }
            pos += UInt64(n)
        }
        t.oomKilled = killedThisCall
        return ReadResult(bytes: t.segv == nil && t.oomKilled.isEmpty ? out : [], faults: t)
    }

    /// `sim.write`: up to 4 KiB into the process's memory (write faults, CoW, dirtying shared file pages,
    /// so a write through a shared file mapping shows in the file).
    public func write(pid: Int, address: UInt64, bytes: [UInt8]) throws(MMUError) -> TouchResult {
        let p = try process(pid)
        guard bytes.count <= 4096 else { throw .invalid("data", "at most 4096 bytes") }
        _ = try Checked.end(address, UInt64(bytes.count), "data")
        try ensureBudget(2 * Self.pageCost)
        killedThisCall = []
        var t = TouchResult()
        var pos = address
        var i = 0
        while i < bytes.count {
            let n = min(bytes.count - i, Int(Page.size - (pos & (Page.size - 1))))
            guard let pa = try physicalAddress(p, pos, n, .write, into: &t) else { break }
            let f = Int(pa >> Page.shift)
            let inPage = Int(pa & (Page.size - 1))
            var page = memory.bytes(f)
            page.replaceSubrange(inPage..<(inPage + n), with: bytes[i..<(i + n)])
            memory.contents[f] = page
            i += n
            pos += UInt64(n)
        }
        t.oomKilled = killedThisCall
        return t
    }
}
