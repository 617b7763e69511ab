import ProcFS

extension FuzzTarget {
    /// /proc/PID/status (proc_pid_status): ps's memory lines and who the process is.
    static let status = FuzzTarget("status") { bytes in
        _ = ProcessStatus.parse(bytes.uint8)
        _ = ProcessIdentity.parse(bytes.uint8)
    }
}
