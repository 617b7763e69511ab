#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The last pid the kernel allocated: the fifth field of /proc/loadavg (fs/proc/loadavg.c prints
/// `idr_get_cursor(&ns->idr) - 1` of the reader's pid namespace after `running/total`).
///
/// Every process and thread created in the namespace moves it (pids are allocated cyclically,
/// alloc_pid → idr_alloc_cyclic), so while it stays the same no process was born: a listing of
/// /proc taken after it was read still holds every process alive. It comes back to the same value
/// only after a whole cycle of `pid_max` allocations.
public enum LastPID {
    /// Parses `0.50 0.40 0.30 2/345 6789`: the number after the `/` field.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> Int32? {
        var scanner = ByteScanner(bytes)
        for _ in 0..<3 {
            scanner.skipSpaces()
            guard !scanner.word().isEmpty else { return nil }
        }
        let tasks = scanner.word()
        guard tasks.contains(UInt8(ascii: "/")) else { return nil }
        return scanner.unsignedDecimal().flatMap(Int32.init(exactly:))
    }

    /// Whether the /proc mounted at `root` lists memd's own pid namespace: a new pid there always
    /// moves memd's cursor only then (a /proc of an ancestor namespace lists processes born outside
    /// memd's, which never move it).
    public static func isOwnNamespace(root: String = "/proc") -> Bool {
        var buffer = [CChar](repeating: 0, count: 32)
        let count = readlink(root + "/self", &buffer, buffer.count - 1)
        guard count > 0 else { return false }
        let text = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return Int32(text) == getpid()
    }
}

extension ProcReader {
    /// The last pid allocated (see ``LastPID``), from /proc/loadavg.
    public mutating func lastPID() throws(ProcError) -> Int32 {
        let path = "\(root)/loadavg"
        return try parse(path) { bytes throws(ProcError) in
            guard let pid = LastPID.parse(bytes) else { throw .malformed(path: path, reason: "no last pid") }
            return pid
        }
    }
}
