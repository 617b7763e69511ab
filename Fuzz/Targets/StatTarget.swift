import ProcFS

extension FuzzTarget {
    /// /proc/PID/stat (fs/proc/array.c, do_task_stat): the comm may hold anything.
    static let stat = FuzzTarget("stat") { bytes in
        _ = try? ProcessStat.parse(bytes.uint8)
    }
}
