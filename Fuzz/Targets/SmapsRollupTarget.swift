import ProcFS

extension FuzzTarget {
    /// /proc/PID/smaps_rollup (show_smaps_rollup), as the detail totals and as usage's figures.
    static let smapsRollup = FuzzTarget("smaps_rollup") { bytes in
        _ = MapsParser.parseRollup(bytes.uint8)
        _ = ProcessMemory.parse(bytes.uint8).uss
    }
}
