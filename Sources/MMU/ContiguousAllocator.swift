/// First-fit allocation of contiguous frame runs: memory management without an MMU.
///
/// Each allocation is one run of physically contiguous frames; freeing leaves holes, so a request can
/// fail while enough memory is free in total (external fragmentation).
struct ContiguousAllocator {
    struct Run: Equatable {
        var start: Int
        var count: Int
        var end: Int { start + count }
    }

    struct Allocation: Equatable {
        var run: Run
        /// 0 = the kernel.
        var pid: Int
    }

    let frameCount: Int
    /// Sorted, coalesced.
    private(set) var free: [Run]
    /// Sorted by start.
    private(set) var allocations: [Allocation] = []

    init(frameCount: Int) {
        self.frameCount = frameCount
        free = frameCount > 0 ? [Run(start: 0, count: frameCount)] : []
    }

    var freeFrames: Int { free.reduce(0) { $0 + $1.count } }
    var largestFreeRun: Int { free.map(\.count).max() ?? 0 }
    func usedFrames(pid: Int) -> Int { allocations.filter { $0.pid == pid }.reduce(0) { $0 + $1.run.count } }

    /// First fit: the lowest free run that is large enough.
    mutating func allocate(_ count: Int, pid: Int) -> Int? {
        guard let i = free.firstIndex(where: { $0.count >= count }) else { return nil }
        let start = free[i].start
        take(Run(start: start, count: count), pid: pid)
        return start
    }

    /// Allocates exactly `[start, start+count)` if all free.
    mutating func allocate(at start: Int, _ count: Int, pid: Int) -> Bool {
        guard free.contains(where: { $0.start <= start && start + count <= $0.end }) else { return false }
        take(Run(start: start, count: count), pid: pid)
        return true
    }

    private mutating func take(_ r: Run, pid: Int) {
        let i = free.firstIndex { $0.start <= r.start && r.end <= $0.end }!
        let f = free[i]
        var pieces: [Run] = []
        if f.start < r.start { pieces.append(Run(start: f.start, count: r.start - f.start)) }
        if r.end < f.end { pieces.append(Run(start: r.end, count: f.end - r.end)) }
        free.replaceSubrange(i...i, with: pieces)
        allocations.append(Allocation(run: r, pid: pid))
        allocations.sort { $0.run.start < $1.run.start }
    }

    /// Frees the parts of `pid`'s allocations inside `[start, end)`; returns the runs freed.
    mutating func release(pid: Int, from start: Int, to end: Int) -> [Run] {
        var freed: [Run] = []
        var kept: [Allocation] = []
        for a in allocations {
            guard a.pid == pid, a.run.start < end, start < a.run.end else {
                kept.append(a)
                continue
            }
            let lo = max(a.run.start, start)
            let hi = min(a.run.end, end)
            if a.run.start < lo {
                kept.append(Allocation(run: Run(start: a.run.start, count: lo - a.run.start), pid: pid))
            }
            if hi < a.run.end { kept.append(Allocation(run: Run(start: hi, count: a.run.end - hi), pid: pid)) }
            giveBack(Run(start: lo, count: hi - lo))
            freed.append(Run(start: lo, count: hi - lo))
        }
        allocations = kept.sorted { $0.run.start < $1.run.start }
        return freed
    }

    private mutating func giveBack(_ r: Run) {
        free.append(r)
        free.sort { $0.start < $1.start }
        var merged: [Run] = []
        for f in free {
            if let last = merged.last, last.end == f.start {
                merged[merged.count - 1].count += f.count
            } else {
                merged.append(f)
            }
        }
        free = merged
    }

    /// The pid owning frame `pfn` (0 = kernel), nil when free.
    func owner(of pfn: Int) -> Int? {
        allocations.first { $0.run.start <= pfn && pfn < $0.run.end }?.pid
    }
}
