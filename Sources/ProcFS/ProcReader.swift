/// Reads and parses /proc files, one reused buffer for all of them.
///
/// Not shared between threads: make one per request (or per thread).
public struct ProcReader {
    public let root: String
    var file: ProcFile

    public init(root: String = "/proc", capacity: Int = 64 * 1024) {
        self.root = root
        self.file = ProcFile(capacity: capacity)
    }

    mutating func parse<T>(
        _ path: String,
        _ body: (UnsafeBufferPointer<UInt8>) throws(ProcError) -> T
    )
        throws(ProcError) -> T
    {
        try file.read(path)
        return try file.withBytes { buffer throws(ProcError) in try body(buffer) }
    }

    public mutating func meminfo() throws(ProcError) -> Meminfo {
        try parse("\(root)/meminfo") { bytes throws(ProcError) in try Meminfo.parse(bytes) }
    }

    public mutating func vmstat() throws(ProcError) -> Vmstat {
        try parse("\(root)/vmstat") { bytes throws(ProcError) in try Vmstat.parse(bytes) }
    }

    public mutating func stat(pid: Int32) throws(ProcError) -> ProcessStat {
        let path = "\(root)/\(pid)/stat"
        return try parse(path) { bytes throws(ProcError) in try ProcessStat.parse(bytes, path: path) }
    }

    public mutating func status(pid: Int32) throws(ProcError) -> ProcessStatus {
        try parse("\(root)/\(pid)/status") { bytes in ProcessStatus.parse(bytes) }
    }

    /// /proc/PID/maps. An empty file means the process is a zombie or a kernel thread.
    public mutating func maps(pid: Int32) throws(ProcError) -> [Mapping] {
        try parse("\(root)/\(pid)/maps") { bytes throws(ProcError) in try MapsParser.parseMaps(bytes) }
    }

    /// /proc/PID/smaps: every mapping with its smaps figures.
    public mutating func smaps(pid: Int32) throws(ProcError) -> [Mapping] {
        try parse("\(root)/\(pid)/smaps") { bytes throws(ProcError) in try MapsParser.parseSmaps(bytes) }
    }

    /// /proc/PID/smaps_rollup: the totals the kernel sums for us (Linux 4.14+).
    public mutating func smapsRollup(pid: Int32) throws(ProcError) -> SmapsDetail {
        try parse("\(root)/\(pid)/smaps_rollup") { bytes in MapsParser.parseRollup(bytes) }
    }

    /// The raw text of a small file, e.g. /sys/kernel/mm/transparent_hugepage/enabled.
    public mutating func text(_ path: String) throws(ProcError) -> String {
        try parse(path) { bytes in String(decoding: bytes, as: UTF8.self) }
    }
}
