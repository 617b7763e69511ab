import ProcFS

extension FuzzTarget {
    /// /proc/PID/statm (proc_pid_statm).
    static let statm = FuzzTarget("statm") { bytes in
        _ = try? ProcessStatm.parse(bytes.uint8)
    }
}
