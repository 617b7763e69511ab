import MemdProtocol

#if canImport(Glibc)
import Glibc
#endif

/// The socket file's life: a stale one (nothing listening) of memd's own uid is
/// replaced, a live one or one owned by another uid makes memd refuse to start, and
/// the file goes when memd stops.
enum SocketFile {
    struct InUse: Error, CustomStringConvertible {
        let path: String
        let reason: String
        var description: String { "\(path): \(reason)" }
    }

    /// Removes a stale socket at `path`; throws if a server answers there, the path is not
    /// a socket, or the socket belongs to another uid (limits.md §5: someone else's
    /// socket is never replaced — it may be a user's impostor, or another user's memd).
    static func prepare(_ path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }  // nothing there
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw InUse(path: path, reason: "exists and is not a socket; not touching it")
        }
        guard info.st_uid == geteuid() else {
            throw InUse(
                path: path,
                reason: "a socket owned by uid \(info.st_uid), not by memd's uid \(geteuid()); not replacing it "
                    + "(remove it if it is stale, or use --socket)"
            )
        }
        if isListening(path) {
            throw InUse(path: path, reason: "another memd is already listening here (stop it, or use --socket)")
        }
        unlink(path)
    }

    /// Whether something accepts connections at `path` now.
    static func isListening(_ path: String) -> Bool {
        guard let fd = try? UnixSocket.connect(path) else { return false }
        close(fd)
        return true
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

    /// The umask under which `bind` creates the socket file with exactly `mode` (limits.md §5,
    /// v3): the mode is set as the file is born, never by `chmod(path)` afterwards, which
    /// would follow a symlink swapped in at the path.
    static func creationMask(for mode: UInt32) -> mode_t {
        mode_t(~mode & 0o777)
    }
}
