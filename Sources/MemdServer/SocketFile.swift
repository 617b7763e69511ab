#if canImport(Glibc)
    import Glibc
#endif

/// The socket file's life: a stale one (nothing listening) is replaced, a live
/// one makes memd refuse to start, and the file goes when memd stops.
enum SocketFile {
    struct InUse: Error, CustomStringConvertible {
        let path: String
        let reason: String
        var description: String { "\(path): \(reason)" }
    }

    /// Removes a stale socket at `path`; throws if a server answers there or the path is not a socket.
    static func prepare(_ path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }  // nothing there
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw InUse(path: path, reason: "exists and is not a socket; not touching it")
        }
        if isListening(path) {
            throw InUse(path: path, reason: "another memd is already listening here (stop it, or use --socket)")
        }
        unlink(path)
    }

    /// Whether something accepts connections at `path` now.
    static func isListening(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result == 0
    }

    /// Which file a path names now (device, inode), so memd removes only its own socket.
    static func identity(_ path: String) -> (UInt64, UInt64)? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return (UInt64(info.st_dev), UInt64(info.st_ino))
    }

    /// Removes the socket file if it is still the one memd created (another memd
    /// may have replaced it since).
    static func remove(_ path: String, ifStill identity: (UInt64, UInt64)?) {
        guard let identity, let now = SocketFile.identity(path), now == identity else { return }
        unlink(path)
    }

    static func setMode(_ path: String, _ mode: UInt32) -> Bool {
        chmod(path, mode_t(mode)) == 0
    }
}
