extension Machine {
    /// `simulateTranslation` for one address of a simulated process.
    ///
    /// Without `dryRun` this is an access: TLB, walk, and the fault handled as the kernel would (the
    /// outcome says which; a handled fault fills the TLB and counts as a miss). A refused access is
    /// reported as `segv` and does not kill the process. With `dryRun` nothing changes (no TLB, no
    /// counters, no fault handling): `translated`, `notPresent`, `cowFault` (a write would copy) or `segv`.
    /// With `trace`, `walk` lists every level as the tables stand afterwards.
    public func translate(
        pid: Int,
        address: UInt64,
        access: Access = .read,
        mode: Mode = .user,
        dryRun: Bool = false,
        trace: Bool = false
    ) throws(MMUError) -> Translation {
        let p = try process(pid)
        killedThisCall = []
        var t = Translation(
            address: address,
            vpn: address >> Page.shift,
            indices: PageIndices(address: address),
            mapping: nil,
            isPresent: false,
            pfn: nil,
            physicalAddress: nil,
            outcome: .translated
        )
        if let i = p.vmaIndex(containing: address) { t.mapping = mappingInfo(p.vmas[i]) }
        if config.addressing == .physical {
            return translatePhysical(p, t)
        }
        if !dryRun {
            let r = try self.access(p, address, access, mode)
            t.outcome = r.outcome
            if let why = r.segv { t.segv = SegvInfo(address: address, reason: why) }
            t.oomKilled = killedThisCall
            if r.killed || !p.isAlive { return t }
        }
        guard isCanonical(address) else {
            t.outcome = .segv
            t.segv = SegvInfo(address: address, reason: "non-canonical address (#GP)")
            return t
        }
        var steps: [WalkStep] = []
        let w = withUnsafeMutablePointer(to: &steps) { walk(p.pml4Slot, address, steps: trace ? $0 : nil) }
        if trace { t.walk = steps }
        if w.isPresent {
            t.isPresent = true
            t.pfn = w.pfn
            t.physicalAddress = (w.pfn << Page.shift) | (address & (Page.size - 1))
            t.pageSize = w.pageSize
        }
        if dryRun {
            t.outcome = dryRunOutcome(p, address, w, access, mode, &t)
        }
        return t
    }

    /// What an access would do, without doing it.
    func dryRunOutcome(
        _ p: SimProcess,
        _ va: UInt64,
        _ w: WalkResult,
        _ access: Access,
        _ mode: Mode,
        _ t: inout Translation
    ) -> Outcome {
        if Self.permits(w.effective, access, mode) { return .translated }
        func segv(_ why: String) -> Outcome {
            t.segv = SegvInfo(address: va, reason: why)
            return .segv
        }
        if va >> 47 != 0 {
            return segv(
                w.isPresent ? "kernel address from user mode (supervisor-only page)" : "unmapped kernel address"
            )
        }
        guard let i = p.vmaIndex(containing: va) else { return segv("no mapping at this address (SEGV_MAPERR)") }
        guard p.vmas[i].protection.allows(access) else {
            return segv("\(access.rawValue) not allowed by mapping \(p.vmas[i].perms) (SEGV_ACCERR)")
        }
        if w.isPresent { return access == .write && !p.vmas[i].isShared ? .cowFault : .translated }
        return w.entry != 0 ? .swapped : .notPresent
    }
}
