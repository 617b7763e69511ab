#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A process's stat and statm kept open and read again: what a watch reads of each followed
/// process every sample.
///
/// Both descriptors are opened with `openat` on the /proc/PID directory descriptor of
/// ``ProcessFiles``, so they stay on that process: once it is gone (reaped), their reads fail
/// with ESRCH (fs/proc/base.c, proc_single_show), never reaching a process that reused the pid.
/// Both files are built whole by one `show` (seq_file's `single_open`), and a read from offset 0
/// makes the kernel build them afresh (fs/seq_file.c, seq_read_iter): one pread(2) each, no path
/// walk, no open, no close, no read to EOF.
///
/// The access rule is judged once per reading, after both reads and before either is handed out
/// (as every read of ``ProcessFiles`` is verified after it): an owner change between the reads
/// shows at that verification. Root may read every process, so for root there is nothing to judge,
/// and a process that is gone already failed the reads.
public struct KeptProcessFiles: ~Copyable {
    public var files: ProcessFiles
    let stat: Int32
    let statm: Int32
    /// Their paths, for errors (made once, not each sample).
    let statPath: String
    let statmPath: String

    /// Opens stat and statm of the process `files` opened (and verified); nothing is read yet.
    public init(_ files: consuming ProcessFiles) throws(ProcError) {
        let stat = openat(files.directory, "stat", O_RDONLY | O_CLOEXEC)
        guard stat >= 0 else { throw ProcFile.error(files.path("stat"), errno) }
        let statm = openat(files.directory, "statm", O_RDONLY | O_CLOEXEC)
        guard statm >= 0 else {
            let code = errno
            close(stat)
            throw ProcFile.error(files.path("statm"), code)
        }
        (statPath, statmPath) = (files.path("stat"), files.path("statm"))
        (self.stat, self.statm) = (stat, statm)
        self.files = files
    }

    deinit {
        close(stat)
        close(statm)
    }

    /// Descriptors one of these holds: the directory, stat and statm.
    public static let descriptors = 3

    /// /proc/PID/stat and /proc/PID/statm now, then verified.
    public mutating func read() throws(ProcError) -> (stat: ProcessStat, statm: ProcessStatm) {
        let (statPath, statmPath) = (self.statPath, self.statmPath)
        let stat = try files.reread(self.stat, path: statPath) { bytes throws(ProcError) in
            try ProcessStat.parse(bytes, path: statPath)
        }
        let statm = try files.reread(self.statm, path: statmPath) { bytes throws(ProcError) in
            try ProcessStatm.parse(bytes, path: statmPath)
        }
        if !files.client.isRoot { try files.verify() }
        return (stat, statm)
    }
}

extension ProcessFiles {
    /// Reads the kept descriptor `fd` of a one-record file (at `path`) again from offset 0, in
    /// one pread(2), and parses it; not verified (``KeptProcessFiles/read()`` verifies).
    mutating func reread<T>(
        _ fd: Int32,
        path: String,
        _ body: (UnsafeBufferPointer<UInt8>) throws(ProcError) -> T
    ) throws(ProcError) -> T {
        try file.read(descriptor: fd, path: path, fromStart: true, isOneRecord: true)
        return try file.withBytes { buffer throws(ProcError) in try body(buffer) }
    }
}
