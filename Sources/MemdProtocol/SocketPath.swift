#if canImport(Glibc)
import Glibc
#endif

/// Where memd listens and memctl connects, first that applies: `--socket PATH`,
/// `$MEMD_SOCKET`, `$XDG_RUNTIME_DIR/memd.sock`, then `/run/memd.sock` for root and
/// `/tmp/memd-<uid>.sock` for anyone else (protocol.md, "Transport").
public enum SocketPath {
    /// The host's system-wide memd (root's default).
    public static let system = "/run/memd.sock"

    public static func resolve(
        explicit: String?,
        environment: (String) -> String? = SocketPath.getenvString,
        uid: UInt32 = getuid()
    ) -> String {
        candidates(explicit: explicit, environment: environment, uid: uid)[0]
    }

    /// The paths a client tries, in order: its own path, and for a client that is not
    /// root and named no path itself (`--socket`, `$MEMD_SOCKET`), `/run/memd.sock`.
    public static func candidates(
        explicit: String?,
        environment: (String) -> String? = SocketPath.getenvString,
        uid: UInt32 = getuid()
    ) -> [String] {
        if let explicit, !explicit.isEmpty { return [explicit] }
        if let path = environment("MEMD_SOCKET"), !path.isEmpty { return [path] }
        let own: String
        if let runtime = environment("XDG_RUNTIME_DIR"), !runtime.isEmpty {
            own = runtime + "/memd.sock"
        } else {
            own = uid == 0 ? system : "/tmp/memd-\(uid).sock"
        }
        return uid == 0 || own == system ? [own] : [own, system]
    }

    /// The path a client connects to: the first candidate that is a socket file, else
    /// the first (so an error names the client's own path).
    public static func forClient(
        explicit: String?,
        environment: (String) -> String? = SocketPath.getenvString,
        uid: UInt32 = getuid()
    ) -> String {
        let paths = candidates(explicit: explicit, environment: environment, uid: uid)
        return paths.first(where: isSocket) ?? paths[0]
    }

    /// Whether `path` names a socket file now (lstat: a symlink is not followed).
    public static func isSocket(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFSOCK
    }

    public static func getenvString(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
