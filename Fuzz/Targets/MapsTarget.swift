import ProcFS

extension FuzzTarget {
    /// /proc/PID/maps (fs/proc/task_mmu.c, show_map_vma), whole and fed in pieces.
    static let maps = FuzzTarget("maps") { bytes in
        let whole = try? MapsParser.parseMaps(bytes.uint8)
        if let whole { _ = whole.reduce(0) { $0 &+ $1.size } }
    }
}
