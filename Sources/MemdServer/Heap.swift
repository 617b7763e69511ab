import HeapShims
import ProcFS

#if canImport(Glibc)
import Glibc
#endif

/// glibc's heap, as memd sets it up and gives memory back (mallopt(3), malloc_trim(3)).
public enum Heap {
    /// Big replies (maps of 60,000 mappings: ~9 MB, several copies) must not stay with memd once
    /// sent. glibc raises its mmap threshold after each big free, so later big buffers come from
    /// the heaps of the threads that made them and stay there (98 MiB after a few maps, rising).
    /// A fixed threshold keeps every buffer over 256 KiB mmapped: freed means given back; and
    /// two arenas instead of one per thread keep the small-allocation heaps from multiplying.
    public static func configure() {
        _ = memd_heap_configure(256 << 10, 2)
    }

    /// The anonymous memory memd may hold beyond the least it has held.
    static let slack = 16 << 20

    /// Replies under the mmap threshold (a batch's 200 answers of 60 KB each; what a client that
    /// never read left behind) are freed into the heaps, and glibc gives little of that back by
    /// itself. Called once a second with the least resident anonymous memory memd has held: while
    /// it holds more than `slack` beyond that, the heaps' free pages go back to the system (a few
    /// milliseconds when there are pages to give, ~60 µs when the memory is in use). Returns the
    /// new least. The block kept for the next large reply goes back first, if idle (``ReplyMemory``).
    static func giveBack(least: Int) -> Int {
        ReplyMemory.tick()
        guard let anon = residentAnonymousBytes() else { return least }
        let least = min(least, anon)
        if anon - least > slack { memd_heap_trim() }
        return least
    }

    /// memd's RssAnon, from /proc/self/statm (resident less file and shmem pages).
    static func residentAnonymousBytes() -> Int? {
        let fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var text = [UInt8](repeating: 0, count: 256)
        let count = text.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        let statm = text.withUnsafeBufferPointer {
            try? ProcessStatm.parse(UnsafeBufferPointer(rebasing: $0[..<count]))
        }
        guard let statm, statm.resident >= statm.shared else { return nil }
        let bytes = (statm.resident - statm.shared).multipliedReportingOverflow(by: pageSize)
        return bytes.overflow ? nil : bytes.partialValue
    }
}
