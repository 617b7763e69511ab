/// A simulated process (`task_struct` + `mm_struct`): its mappings, its PML4 and its counters.
final class SimProcess {
    let pid: Int
    var command: String
    /// Sorted by start, non-overlapping.
    var vmas: [VMA] = []
    /// PML4 table (CR3): frame and store slot. -1 in physical mode.
    var pml4Frame = -1
    var pml4Slot = -1
    var isAlive = true
    var minflt: UInt64 = 0
    var majflt: UInt64 = 0
    var cowFaults: UInt64 = 0
    /// Resident pages by kind (`MM_ANONPAGES`, `MM_FILEPAGES`, `MM_SHMEMPAGES`).
    var rssAnon = 0
    var rssFile = 0
    var rssShmem = 0
    /// Pages in swap (`MM_SWAPENTS`, VmSwap).
    var swapPages = 0
    /// User page-table frames (PML4 included).
    var tableFrames = 0
    /// Physical mode: where the program was loaded.
    var loadAddress: UInt64 = 0

    init(pid: Int, command: String) {
        self.pid = pid
        self.command = command
    }

    var rssPages: Int { rssAnon + rssFile + rssShmem }
    var vsz: UInt64 { vmas.reduce(0) { $0 + $1.size } }

    /// Index of the VMA containing `address` (binary search: `find_vma`).
    func vmaIndex(containing address: UInt64) -> Int? {
        var lo = 0
        var hi = vmas.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if vmas[mid].end <= address { lo = mid + 1 } else { hi = mid }
        }
        return lo < vmas.count && vmas[lo].start <= address ? lo : nil
    }

    func insert(_ vma: VMA) {
        var i = 0
        while i < vmas.count && vmas[i].start < vma.start { i += 1 }
        vmas.insert(vma, at: i)
    }

    /// Whether `[start, end)` overlaps no mapping.
    func isFree(_ start: UInt64, _ end: UInt64) -> Bool {
        !vmas.contains { $0.start < end && start < $0.end }
    }
}
