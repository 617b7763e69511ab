#if canImport(Glibc)
import Glibc
#endif

/// The listening socket systemd hands memd (socket activation, sd_listen_fds(3)).
///
/// systemd (or `systemd-socket-activate`) binds the path of `memd.socket`, then starts memd
/// with the socket as fd 3 (`SD_LISTEN_FDS_START`) and says so in the environment:
/// `LISTEN_PID` (the pid the descriptors are for), `LISTEN_FDS` (how many, from fd 3 on) and
/// optionally `LISTEN_FDNAMES` (their names, `:`-separated; `FileDescriptorName=`, by default
/// the socket unit's name). memd then serves that socket: it neither binds nor chmods nor
/// unlinks the path, which belongs to systemd (it keeps listening while memd is stopped and
/// starts memd again on the next connection).
public struct SocketActivation: Sendable, Equatable {
    /// sd-daemon.h's `SD_LISTEN_FDS_START`: the first descriptor passed.
    public static let firstDescriptor: Int32 = 3

    /// The descriptor memd serves: always the first passed.
    public let descriptor: Int32
    /// How many descriptors were passed (memd serves the first; the others are closed).
    public let count: Int
    /// The first descriptor's name from `LISTEN_FDNAMES`, if given.
    public let name: String?

    /// Why the passed socket cannot be served; memd refuses to start (exit 1) rather than serve
    /// nothing or bind a socket of its own behind systemd's back.
    public struct Refusal: Error, CustomStringConvertible {
        public let reason: String
        public var description: String { reason }
    }

    /// The pure rule of sd_listen_fds(3): the variables are memd's only when `LISTEN_PID` is its
    /// own pid; then `LISTEN_FDS` must be a count (0: nothing passed, memd binds as usual).
    /// Returns nil when nothing is passed to this process.
    public static func parse(
        listenPID: String?,
        listenFDs: String?,
        listenFDNames: String?,
        pid: Int32
    ) throws(Refusal) -> SocketActivation? {
        guard let listenPID, let owner = Int32(listenPID), owner == pid else { return nil }
        guard let text = listenFDs, let count = Int(text), count >= 0, count <= 1024 else {
            throw Refusal(reason: "LISTEN_FDS is not a count of descriptors: \(listenFDs ?? "(unset)")")
        }
        guard count >= 1 else { return nil }
        let names = listenFDNames?.split(separator: ":", omittingEmptySubsequences: false) ?? []
        let name = names.first.map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        return SocketActivation(descriptor: firstDescriptor, count: count, name: name)
    }

    /// What this process was passed, read from its environment. The variables are then removed
    /// (as `sd_listen_fds(1)` does), and every passed descriptor made close-on-exec, so that
    /// memlab, which memd spawns, inherits neither; descriptors after the first are closed.
    public static func take() throws(Refusal) -> SocketActivation? {
        func variable(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
        let passed = try parse(
            listenPID: variable("LISTEN_PID"),
            listenFDs: variable("LISTEN_FDS"),
            listenFDNames: variable("LISTEN_FDNAMES"),
            pid: getpid()
        )
        for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] { unsetenv(name) }
        guard let passed else { return nil }
        for offset in 0..<passed.count {
            let fd = firstDescriptor + Int32(offset)
            if offset == 0 {
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            } else {
                close(fd)
            }
        }
        try passed.checkListening()
        return passed
    }

    /// The descriptor must be a listening Unix stream socket (what `ListenStream=PATH` makes).
    func checkListening() throws(Refusal) {
        func option(_ name: Int32) -> Int32? {
            var value: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            return getsockopt(descriptor, SOL_SOCKET, name, &value, &length) == 0 ? value : nil
        }
        let fd = "fd \(descriptor) (LISTEN_FDS)"
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw Refusal(reason: "\(fd) is not open: \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else { throw Refusal(reason: "\(fd) is not a socket") }
        guard option(SO_DOMAIN) == AF_UNIX, option(SO_TYPE) == Int32(SOCK_STREAM.rawValue) else {
            throw Refusal(reason: "\(fd) is not a Unix stream socket (memd.socket needs ListenStream=PATH)")
        }
        guard option(SO_ACCEPTCONN) == 1 else {
            throw Refusal(reason: "\(fd) is not listening (Accept=no is what memd expects)")
        }
    }

    /// The path the socket is bound to (getsockname), for logs; nil for an abstract or unnamed one.
    public var path: String? {
        var address = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard named == 0 else { return nil }
        let pathLength = Int(length) - MemoryLayout<sa_family_t>.size
        guard pathLength > 0 else { return nil }
        return withUnsafeBytes(of: address.sun_path) { raw in
            let bytes = raw.prefix(pathLength)
            guard bytes.first != 0 else { return nil }
            return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
