#if canImport(Glibc)
import Glibc
#endif

/// Readiness and liveness for systemd (`Type=notify`, sd_notify(3)): datagrams of `KEY=VALUE`
/// lines sent to the Unix socket named by `$NOTIFY_SOCKET` — a path, or an abstract name written
/// with a leading `@`. memd sends `READY=1` once it accepts calls, `STOPPING=1` when it begins to
/// stop and, when `$WATCHDOG_USEC` is set (`WatchdogSec=`), `WATCHDOG=1` every half of it.
public struct SystemdNotify: Sendable, Equatable {
    /// The bytes of `sun_path`: the path, or a NUL then the abstract name.
    let address: [UInt8]
    /// Half of `$WATCHDOG_USEC` (sd_watchdog_enabled(3)'s advice), in microseconds; nil: no watchdog.
    public let watchdogIntervalMicroseconds: Int64?

    /// The pure rule: a path (`/…`) or an abstract name (`@…`) that fits `sun_path`; anything else
    /// (unset, empty, another address family) means no notifications. The watchdog is memd's only
    /// when `$WATCHDOG_PID` is unset or memd's pid, and `$WATCHDOG_USEC` a positive count.
    public static func parse(
        notifySocket: String?,
        watchdogUSec: String?,
        watchdogPID: String?,
        pid: Int32
    ) -> SystemdNotify? {
        guard let notifySocket, let first = notifySocket.utf8.first else { return nil }
        var bytes = Array(notifySocket.utf8)
        switch first {
        case UInt8(ascii: "/"): break
        case UInt8(ascii: "@"): bytes[0] = 0
        default: return nil
        }
        guard bytes.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path), bytes.count > 1 else { return nil }
        var interval: Int64?
        if let text = watchdogUSec, let usec = Int64(text), usec > 0,
            watchdogPID == nil || watchdogPID.flatMap({ Int32($0) }) == pid
        {
            interval = max(usec / 2, 1)
        }
        return SystemdNotify(address: bytes, watchdogIntervalMicroseconds: interval)
    }

    /// This process's notify socket and watchdog, from its environment. The variables are then
    /// removed, so that memlab (which memd spawns) cannot speak for memd.
    public static func take() -> SystemdNotify? {
        func variable(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
        let notify = parse(
            notifySocket: variable("NOTIFY_SOCKET"),
            watchdogUSec: variable("WATCHDOG_USEC"),
            watchdogPID: variable("WATCHDOG_PID"),
            pid: getpid()
        )
        for name in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] { unsetenv(name) }
        return notify
    }

    /// Sends `state` (e.g. `READY=1`) as one datagram; false if it could not be sent (systemd
    /// gone, or the socket full): a notification is never worth blocking or failing for.
    @discardableResult
    public func send(_ state: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var socketAddress = sockaddr_un()
        socketAddress.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &socketAddress.sun_path) { $0.copyBytes(from: address) }
        // A path counts its NUL; an abstract name is exactly its bytes.
        let length = socklen_t(MemoryLayout<sa_family_t>.size + address.count + (address[0] == 0 ? 0 : 1))
        let bytes = Array(state.utf8)
        let sent = withUnsafePointer(to: &socketAddress) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { target in
                bytes.withUnsafeBytes {
                    sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT), target, length)
                }
            }
        }
        return sent == bytes.count
    }
}
