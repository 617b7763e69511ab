/// Swap space (`swapBytes`): 4 KiB slots with reference counts (a swapped page shared after fork is
/// one slot referenced from both page tables), their contents, and a free list. Like frames, slot
/// metadata only grows to the highest slot used.
struct SwapSpace {
    let slotCount: Int
    private var refcount: [UInt32] = []
    private var freeList: [UInt32] = []
    private(set) var highWater = 0
    private(set) var used = 0
    var contents: [Int: [UInt8]] = [:]

    init(slotCount: Int) { self.slotCount = slotCount }

    var hasFree: Bool { used < slotCount }

    mutating func allocate() -> Int? {
        let slot: Int
        if let s = freeList.popLast() {
            slot = Int(s)
        } else if highWater < slotCount {
            slot = highWater
            highWater += 1
            refcount.append(0)
        } else {
            return nil
        }
        refcount[slot] = 1
        used += 1
        return slot
    }

    mutating func retain(_ slot: Int) { refcount[slot] += 1 }

    /// Drops a reference; returns the count left.
    @discardableResult
    mutating func release(_ slot: Int) -> Int {
        refcount[slot] -= 1
        if refcount[slot] == 0 {
            contents[slot] = nil
            freeList.append(UInt32(slot))
            used -= 1
        }
        return Int(refcount[slot])
    }
}

extension Machine {
    /// A non-present entry holding a swap slot (`swp_entry_t`): the slot in the frame field, soft bit 10.
    @inline(__always) static func swapEntry(_ slot: Int) -> UInt64 {
        (UInt64(slot) << Page.shift) | PTEFlags.swapped.rawValue
    }

    @inline(__always) static func isSwapEntry(_ e: UInt64) -> Bool {
        e & PTEFlags.present.rawValue == 0 && e & PTEFlags.swapped.rawValue != 0
    }

    /// Anonymous reclaim (`shrink_anon_list` + `swap_writepage`): moves up to `target` private anonymous
    /// 4 KiB pages mapped once to swap, scanning processes by pid and address from where the last scan
    /// stopped (a clock hand). Returns the frames freed.
    func swapOut(target: Int) -> Int {
        guard swap.hasFree else { return 0 }
        var freed = 0
        let order = pids
        guard !order.isEmpty else { return 0 }
        let first = order.firstIndex { $0 >= swapHand.pid } ?? 0
        for step in 0...order.count {
            let pid = order[(first + step) % order.count]
            guard let p = processes[pid], p.isAlive else { continue }
            let from = step == 0 && pid == swapHand.pid ? swapHand.address : 0
            var victims: [(UInt64, Int, Int)] = []
            for v in p.vmas where !v.isPFNMap && v.end > from {
                forEachLeaf(p.pml4Slot, max(v.start, from), v.end) { va, slot, index, level in
                    guard level == .pt, victims.count < target - freed else { return }
                    let f = Int(PageTableEntry(rawValue: self.tables[slot, index]).pfn)
                    if f != self.zeroFrame && self.memory.ownerOf(f) == .anonymous && self.memory.refcountOf(f) == 1 {
                        victims.append((va, slot, index))
                    }
                }
                if victims.count >= target - freed { break }
            }
            for (va, slot, index) in victims {
                guard let s = swap.allocate() else { break }
                let f = Int(PageTableEntry(rawValue: tables[slot, index]).pfn)
                if let bytes = memory.contents[f] { swap.contents[s] = bytes }
                tables[slot, index] = Self.swapEntry(s)
                memory.release(f)
                p.rssAnon -= 1
                p.swapPages += 1
                invalidateTLB(p, va)
                pswpout += 1
                pgpgout += Page.size >> 10
                pgstealAnon += 1
                freed += 1
                swapHand = (pid, va + Page.size)
            }
            if freed >= target || !swap.hasFree { break }
            swapHand = (order[(first + step + 1) % order.count], 0)
        }
        return freed
    }

    /// Swap-in (`do_swap_page`): a major fault reading the page back into a new frame.
    func swapIn(
        _ p: SimProcess,
        _ vma: VMA,
        _ slot: Int,
        _ index: Int,
        _ access: Access
    ) throws(MMUError) -> FaultResult {
        let s = Int(PageTableEntry(rawValue: tables[slot, index]).pfn)
        guard let f = try allocateFrame(.anonymous, for: p) else { return .killed }
        if let bytes = swap.contents[s] { memory.contents[f] = bytes }
        swap.release(s)
        var flags: PTEFlags = [.present, .user, .accessed]
        if vma.protection.contains(.write) { flags.insert(.writable) }
        if access == .write { flags.insert(.dirty) }
        if !vma.protection.contains(.exec) { flags.insert(.noExecute) }
        tables[slot, index] = PageTableEntry(pfn: UInt64(f), flags: flags).rawValue
        p.rssAnon += 1
        p.swapPages -= 1
        pswpin += 1
        pgpgin += Page.size >> 10
        return .major
    }
}
