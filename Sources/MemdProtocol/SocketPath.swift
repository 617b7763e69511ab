#if canImport(Glibc)
    import Glibc
#endif

/// Where memd listens and memctl connects, first that applies: `--socket PATH`,
/// `$MEMD_SOCKET`, `$XDG_RUNTIME_DIR/memd.sock`, `/tmp/memd-<uid>.sock`.
public enum SocketPath {
    public static func resolve(
        explicit: String?, environment: (String) -> String? = SocketPath.getenvString, uid: UInt32 = getuid()
    ) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let path = environment("MEMD_SOCKET"), !path.isEmpty { return path }
        if let runtime = environment("XDG_RUNTIME_DIR"), !runtime.isEmpty { return runtime + "/memd.sock" }
        return "/tmp/memd-\(uid).sock"
    }

    public static func getenvString(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
