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
    /// `[coveredFloor, mmap_base)` has no free byte (nil: `mmap_base` itself), so a top-down search
    /// for free space may start there: 65,530 stacked mmaps cost a binary search each, not a scan.
    /// Reset when anything is unmapped.
    var coveredFloor: UInt64?
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

    /// Index of the first VMA whose start is at or above `address` (binary search).
    func firstIndex(startingAtOrAbove address: UInt64) -> Int {
        var lo = 0
        var hi = vmas.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if vmas[mid].start < address { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    func insert(_ vma: VMA) {
        vmas.insert(vma, at: firstIndex(startingAtOrAbove: vma.start))
    }

    /// Whether `[start, end)` overlaps no mapping (mappings do not overlap, so only the first one
    /// ending above `start` can).
    func isFree(_ start: UInt64, _ end: UInt64) -> Bool {
        var lo = 0
        var hi = vmas.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if vmas[mid].end <= start { lo = mid + 1 } else { hi = mid }
        }
        return lo == vmas.count || vmas[lo].start >= end
    }
}
