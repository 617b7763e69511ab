/// Why a /proc file could not be read.
public enum ProcError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file (or the process it belongs to) does not exist: ENOENT, ESRCH.
    case notFound(path: String)
    /// The kernel refused: EACCES, EPERM (another user's maps, hidepid, …).
    case permissionDenied(path: String)
    /// Any other errno.
    case io(path: String, errno: Int32)
    /// The text is not what the kernel writes there.
    case malformed(path: String, reason: String)

    public var description: String {
        switch self {
        case .notFound(let path): return "\(path): no such file or process"
        case .permissionDenied(let path): return "\(path): permission denied"
        case .io(let path, let errno): return "\(path): read failed (errno \(errno))"
        case .malformed(let path, let reason): return "\(path): \(reason)"
        }
    }
}
