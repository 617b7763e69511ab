#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An open file descriptor (or a failed open's -1), closed when its last holder lets it go: for a
/// job that another thread may run, or nobody (``HelpedJob/cancel()``).
final class Descriptor: Sendable {
    let fd: Int32

    init(_ fd: Int32) { self.fd = fd }

    deinit { if fd >= 0 { close(fd) } }
}
