#if canImport(Glibc)
import Glibc
#endif

/// Connecting to a Unix stream socket by path: one place for sockaddr_un.
public enum UnixSocket {
    public struct Failure: Error, CustomStringConvertible {
        public let errno: Int32
        public let reason: String
        public var description: String { reason }
    }

    /// A connected, close-on-exec stream socket to `path`; the caller closes it.
    public static func connect(_ path: String) throws(Failure) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw Failure(errno: ENAMETOOLONG, reason: "path too long for a Unix socket")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(errno: errno, reason: String(cString: strerror(errno))) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            let code = errno
            close(fd)
            throw Failure(errno: code, reason: String(cString: strerror(code)))
        }
        return fd
    }

    /// The uid of the process at the other end of a connected Unix socket, as the
    /// kernel recorded it at connect/listen time (SO_PEERCRED, net/core/sock.c).
    public static func peerUID(_ fd: Int32) throws(Failure) -> UInt32 {
        // struct ucred {pid_t pid; uid_t uid; gid_t gid;} (behind _GNU_SOURCE in <sys/socket.h>).
        var cred: (Int32, UInt32, UInt32) = (0, 0, 0)
        var length = socklen_t(MemoryLayout<(Int32, UInt32, UInt32)>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) == 0 else {
            throw Failure(errno: errno, reason: "SO_PEERCRED: \(String(cString: strerror(errno)))")
        }
        return cred.1
    }
}
