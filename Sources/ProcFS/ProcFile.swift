#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reads /proc files whole, through a file descriptor, into one byte buffer that
/// is reused from file to file.
///
/// /proc files have no size (st_size is 0) and are generated as they are read,
/// so they are read with read(2) until it returns 0 (fs/seq_file.c hands out at
/// most one buffer per call).
public struct ProcFile {
    /// The storage: its first `count` bytes are the file just read; it only grows.
    private var storage: [UInt8]
    public private(set) var count = 0

    public init(capacity: Int = 64 * 1024) {
        storage = ProcFile.uninitialized(max(capacity, 4096))
    }

    /// A buffer of `count` bytes left as they are: read(2) writes them before anyone reads them.
    static func uninitialized(_ count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
    }

    /// Doubles the storage, keeping its first `count` bytes (the rest is not zero-filled).
    private mutating func grow() {
        let kept = count
        var larger = ProcFile.uninitialized(storage.count * 2)
        larger.withUnsafeMutableBytes { to in
            storage.withUnsafeBytes { from in to.baseAddress!.copyMemory(from: from.baseAddress!, byteCount: kept) }
        }
        storage = larger
    }

    /// Reads into the storage after its first `count` bytes: the bytes read, 0 at EOF.
    private mutating func readMore(_ fd: Int32, path: String, fromStart: Bool) throws(ProcError) -> Int {
        if count == storage.count { grow() }
        let offset = count
        while true {
            let got = storage.withUnsafeMutableBytes { raw in
                fromStart
                    ? pread(fd, raw.baseAddress! + offset, raw.count - offset, off_t(offset))
                    : Glibc.read(fd, raw.baseAddress! + offset, raw.count - offset)
            }
            if got >= 0 { return got }
            let code = errno
            if code != EINTR { throw ProcFile.error(path, code) }
        }
    }

    /// Reads `path` to EOF; the bytes stay available until the next read.
    public mutating func read(_ path: String) throws(ProcError) {
        if let kept = KeptOpen.files[path] {
            try read(descriptor: kept.descriptor, path: path, fromStart: true, isOneRecord: kept.isOneRecord)
            return
        }
        count = 0
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ProcFile.error(path, errno) }
        defer { close(fd) }
        try read(descriptor: fd, path: path)
    }

    /// Reads an open descriptor to EOF (`path` names it in errors); the caller closes it.
    /// `fromStart`: with pread(2) from offset 0, leaving the descriptor's own offset alone (a
    /// descriptor shared between threads).
    /// `isOneRecord`: the file is built whole by one `show` (seq_file's `single_open`), so a read
    /// that does not fill the buffer has read all of it.
    public mutating func read(
        descriptor fd: Int32,
        path: String,
        fromStart: Bool = false,
        isOneRecord: Bool = false
    ) throws(ProcError) {
        count = 0
        while true {
            let room = storage.count - count
            let got = try readMore(fd, path: path, fromStart: fromStart)
            if got == 0 { return }
            count += got
            if isOneRecord, got < room { return }
        }
    }

    /// The bytes of the last file read.
    public func withBytes<T, E: Error>(_ body: (UnsafeBufferPointer<UInt8>) throws(E) -> T) throws(E) -> T {
        try storage.withUnsafeBufferPointer { buffer throws(E) in
            try body(UnsafeBufferPointer(rebasing: buffer[0..<count]))
        }
    }

    static func error(_ path: String, _ code: Int32) -> ProcError {
        switch code {
        case ENOENT, ESRCH: return .notFound(path: path)
        case EACCES, EPERM: return .permissionDenied(path: path)
        default: return .io(path: path, errno: code)
        }
    }
}

/// The uid owning /proc/PID: the process's effective uid, what `ps -o user` shows.
public func processOwner(pid: Int32, root: String = "/proc") throws(ProcError) -> UInt32 {
    var info = stat()
    let path = "\(root)/\(pid)"
    guard stat(path, &info) == 0 else { throw ProcFile.error(path, errno) }
    return info.st_uid
}

/// The pids listed in /proc, ascending.
public func processIDs(root: String = "/proc") throws(ProcError) -> [Int32] {
    guard let dir = opendir(root) else { throw ProcFile.error(root, errno) }
    defer { closedir(dir) }
    var pids: [Int32] = []
    while let entry = readdir(dir) {
        let pid: Int32? = {
            var value: Int32 = 0
            var sawDigit = false
            for byte in directoryEntryName(entry) {
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value &* 10 &+ Int32(byte - 0x30)
                sawDigit = true
            }
            return sawDigit ? value : nil
        }()
        if let pid { pids.append(pid) }
    }
    return pids.sorted()
}

/// The page size the kernel uses for rss counts in /proc/PID/stat.
public let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
