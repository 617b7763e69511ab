/// /proc/PID/statm: the process's memory in pages (fs/proc/array.c proc_pid_statm,
/// fs/proc/task_mmu.c task_statm).
///
/// `resident` is the sum of the same rss counters (file, anon, shmem) that /proc/PID/status
/// prints as VmRSS — task_statm and task_mem read them the same way in every kernel version —
/// at less than half the cost of status: what a watch reads every sample.
public struct ProcessStatm: Sendable, Equatable {
    /// Pages of virtual memory (VmSize).
    public var size: Int
    /// Resident pages (VmRSS / page size).
    public var resident: Int
    /// Resident file and shmem pages (RssFile + RssShmem).
    public var shared: Int

    public static func parse(
        _ bytes: UnsafeBufferPointer<UInt8>,
        path: String = "statm"
    ) throws(ProcError) -> ProcessStatm {
        var scanner = ByteScanner(bytes)
        guard let size = scanner.unsignedDecimal(), let resident = scanner.unsignedDecimal(),
            let shared = scanner.unsignedDecimal()
        else {
            throw .malformed(path: path, reason: "fewer than three numbers")
        }
        return ProcessStatm(size: size, resident: resident, shared: shared)
    }
}

extension ProcessFiles {
    /// /proc/PID/statm, then verified like every read here.
    public mutating func statm() throws(ProcError) -> ProcessStatm {
        let path = path("statm")
        return try parse("statm") { bytes throws(ProcError) in try ProcessStatm.parse(bytes, path: path) }
    }
}
