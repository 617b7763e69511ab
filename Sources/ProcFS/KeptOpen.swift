#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The system-wide /proc files memd reads on most calls, kept open for memd's lifetime and read
/// again from offset 0 with pread(2) each time.
///
/// seq_file builds the text afresh for a read from the start (fs/seq_file.c, seq_read_iter), so
/// the figures are as fresh as after an open(2), without the path walk and the open and close:
/// 8.6 µs → 5.0 µs for /proc/meminfo and 5.8 µs → 1.8 µs for /proc/pressure/memory here, most
/// of what separated memd's `meminfo` from the C server that does the same (`pread` on a kept fd).
/// A file that cannot be opened is not kept: reading it by path then reports why.
/// (A mount over one of these paths after memd started is not seen: memd keeps the file it opened.)
enum KeptOpen {
    /// A kept file: its descriptor, and whether the kernel writes it whole in one go.
    struct File {
        let descriptor: Int32
        /// Made by `single_open` (/proc/meminfo, /proc/pressure/memory): the whole text is built
        /// at once, so a read that leaves room in the buffer got all of it, and the read(2) that
        /// would return 0 is not needed. /proc/vmstat is many records, a page or so per read.
        let isOneRecord: Bool
    }

    static let files: [String: File] = {
        var kept: [String: File] = [:]
        for (path, isOneRecord) in [
            ("/proc/meminfo", true), ("/proc/vmstat", false), ("/proc/pressure/memory", true), ("/proc/loadavg", true),
        ] {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd >= 0 { kept[path] = File(descriptor: fd, isOneRecord: isOneRecord) }
        }
        return kept
    }()
}
