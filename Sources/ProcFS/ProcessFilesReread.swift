#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Files of a process kept open and read again: a watch reads stat and statm every sample.
///
/// The descriptor comes from ``ProcessFiles/open(_:)`` (opened through the /proc/PID directory
/// descriptor, so it stays on that process: once it is gone, reads fail with ESRCH). Seeking a
/// seq_file back to 0 makes the kernel generate it afresh (fs/seq_file.c seq_lseek), which costs
/// no path lookup, no open and no close. The owner is verified after each read, as for every read
/// of ``ProcessFiles``.
extension ProcessFiles {
    /// Reads the open descriptor `fd` (the file `name`) again from its start, verifies, parses.
    public mutating func reread<T>(
        _ fd: Int32,
        name: String,
        _ body: (UnsafeBufferPointer<UInt8>) throws(ProcError) -> T
    ) throws(ProcError) -> T {
        guard lseek(fd, 0, SEEK_SET) == 0 else { throw ProcFile.error(path(name), errno) }
        try file.read(descriptor: fd, path: path(name))
        try verify()
        return try file.withBytes { buffer throws(ProcError) in try body(buffer) }
    }
}
