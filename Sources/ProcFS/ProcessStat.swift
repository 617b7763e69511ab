/// The fields of /proc/PID/stat that ps and memd use (fs/proc/array.c, do_task_stat).
public struct ProcessStat: Sendable, Equatable {
    public var pid: Int32
    /// The command name between the parentheses: the same text as /proc/PID/comm.
    public var comm: String
    public var state: Character
    public var ppid: Int32
    public var minflt: Int
    public var majflt: Int
    /// Bytes of virtual address space (`ps -o vsz` shows it in KiB).
    public var vsize: Int
    /// Resident pages (`ps -o rss` shows rss × page size in KiB).
    public var rssPages: Int
    /// When the process started, in clock ticks after boot (field 22): with the pid, it names one
    /// process even after its number is reused.
    public var startTime: Int = 0
    /// A thread that is not its thread group's leader: /proc/TID is readable though /proc does not
    /// list it. Its exit signal (field 38) is -1, which copy_process gives every CLONE_THREAD task
    /// (and de_thread replaces when the thread execs and becomes the leader).
    public var isThread = false

    /// Parses one stat line. The name may hold spaces and ')' — so fields are
    /// counted from the last ')'.
    public static func parse(
        _ bytes: UnsafeBufferPointer<UInt8>,
        path: String = "stat"
    ) throws(ProcError) -> ProcessStat {
        guard let open = bytes.firstIndex(of: UInt8(ascii: "(")),
            let close = bytes.lastIndex(of: UInt8(ascii: ")")), close > open
        else { throw .malformed(path: path, reason: "no (comm)") }
        var head = ByteScanner(UnsafeBufferPointer(rebasing: bytes[..<open]))
        guard let pid = head.unsignedDecimal().flatMap(Int32.init(exactly:)) else {
            throw .malformed(path: path, reason: "no pid")
        }
        let comm = String(bytes[(open + 1)..<close])
        var rest = ByteScanner(UnsafeBufferPointer(rebasing: bytes[(close + 1)...]))
        let stateWord = rest.word()
        guard let stateByte = stateWord.first else { throw .malformed(path: path, reason: "no state") }
        // Fields 4 (ppid) to 24 (rss) as numbered in proc(5), the ones kept as they pass (no array:
        // a watch parses every followed process's stat every sample).
        var (ppidField, minflt, majflt, startTime, vsize, rssPages) = (0, 0, 0, 0, 0, 0)
        for field in 4...24 {
            guard let value = rest.decimal() else { throw .malformed(path: path, reason: "too few fields") }
            switch field {
            case 4: ppidField = value
            case 10: minflt = value
            case 12: majflt = value
            case 22: startTime = value
            case 23: vsize = value
            case 24: rssPages = value
            default: break
            }
        }
        guard let ppid = Int32(exactly: ppidField) else { throw .malformed(path: path, reason: "ppid is no pid") }
        // Fields 25 to 37 (rsslim may be 2^64 - 1: passed over as words), then the exit signal.
        for _ in 25...37 { _ = rest.word() }
        let exitSignal = rest.decimal()
        return ProcessStat(
            pid: pid,
            comm: comm,
            state: Character(Unicode.Scalar(stateByte)),
            ppid: ppid,
            minflt: minflt,
            majflt: majflt,
            vsize: vsize,
            rssPages: rssPages,
            startTime: startTime,
            isThread: exitSignal == -1
        )
    }
}

/// The memory lines of /proc/PID/status that ps reads (fs/proc/task_mmu.c, task_mem).
///
/// `VmRSS` there is the exact sum of the rss counters; the rss field of
/// /proc/PID/stat may lag behind by the per-CPU counter batches. procps 4's
/// `ps -o rss` shows VmRSS.
public struct ProcessStatus: Sendable, Equatable {
    /// Resident bytes (VmRSS); 0 for kernel threads, which have no such line.
    public var rss: Int
    /// Real and effective uid (the `Uid:` line's first two fields).
    public var realUID: UInt32
    public var effectiveUID: UInt32

    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> ProcessStatus {
        var status = ProcessStatus(rss: 0, realUID: 0, effectiveUID: 0)
        var scanner = ByteScanner(bytes)
        while !scanner.isAtEnd {
            var line = ByteScanner(UnsafeBufferPointer(rebasing: scanner.line()))
            if line.hasPrefix("VmRSS:") {
                line.index += 6
                status.rss = line.kibibytes() ?? 0
            } else if line.hasPrefix("Uid:") {
                line.index += 4
                status.realUID = line.unsignedDecimal().flatMap(UInt32.init(exactly:)) ?? 0
                status.effectiveUID = line.unsignedDecimal().flatMap(UInt32.init(exactly:)) ?? 0
            }
        }
        return status
    }
}
