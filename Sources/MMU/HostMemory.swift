/// What a machine costs its host, and the shared budget it is charged to (`--max-sim-memory`).
///
/// `hostBytes` is computed from counters the machine keeps anyway (O(1)), with per-item costs that
/// round up what Swift really allocates. An operation asks for its worst case before it grows
/// (`ensureBudget`), so the machine never holds more than it was given; when the budget says no,
/// the operation stops before changing anything and what earlier steps did stays done.
extension Machine {
    /// A page of bytes held in a dictionary (contents, disk, swap).
    static let pageCost = Int(Page.size) + 64
    /// One page-table slot: 512 entries and 512 child links.
    static let tableCost = Page.entriesPerTable * (8 + 4)
    static let mappingCost = 160
    static let processCost = 512
    static let filCost = 192
    /// The most one fault can add: three new tables and a frame, its bytes, and up to four reclaim
    /// passes (32 pages written to disk or swap each) while frames are found.
    static let faultReserve = 4 * tableCost + 512 * 9 + pageCost + 4 * 32 * pageCost
    /// Bytes taken from the shared budget at a time (fewer lock round trips).
    static let budgetChunk = 1 << 20

    /// Host bytes this machine holds now (an upper estimate).
    public var hostBytes: Int {
        var n = 4096 + config.tlbEntries * 24
        n += tables.slotCount * Self.tableCost + tables.slotByFrameCapacity * 4
        n += memory.highWater * 9 + memory.contents.count * Self.pageCost
        n += cache.pages.count * 128 + cache.lru.count * 16 + cache.diskPages * Self.pageCost
        n += cache.files.count * Self.filCost + cache.nameBytes
        n += swap.highWater * 8 + swap.contents.count * Self.pageCost
        n += mappingBytes + processes.count * Self.processCost
        n += (physical.allocations.count + physical.free.count) * 24
        return n
    }

    /// Takes what `extra` more bytes need from the budget, or throws `resourceLimit` "simMemory".
    func ensureBudget(_ extra: Int) throws(MMUError) {
        guard let budget = limits.budget else { return }
        // The table store grows by doubling: while it moves, the old and the new buffer are both held.
        let growth = tables.slotCount + 4 > tables.slotCapacity ? tables.slotCapacity * Self.tableCost : 0
        let need = hostBytes + extra + growth
        guard need > charged else { return }
        let want = need - charged
        let chunk = max(want, Self.budgetChunk)
        if budget.reserve(chunk) {
            charged += chunk
        } else if budget.reserve(want) {
            charged += want
        } else {
            throw .limit("simMemory", limit: budget.limit, requested: budget.used + want)
        }
    }

    /// Gives back what the machine no longer needs (after a call that freed memory).
    public func settleBudget() {
        guard let budget = limits.budget else { return }
        let keep = hostBytes + Self.budgetChunk
        if charged > keep + Self.budgetChunk {
            budget.release(charged - keep)
            charged = keep
        }
    }

    /// Mappings (and their paths) of every process: recounted after calls that change them.
    func recountMappings() {
        var n = 0
        for p in processes.values { n += p.vmas.count }
        mappingBytes = n * Self.mappingCost
    }
}
