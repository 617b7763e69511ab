import Testing

@testable import ProcFS

#if canImport(Glibc)
import Glibc
#endif

/// ProcessFiles: open first, then verify the owner through the /proc/PID descriptor.
@Suite struct ProcessFilesTests {
    let me = ProcClient(uid: geteuid(), gid: getegid())

    @Test func ownProcessIsReadAndVerified() throws {
        var files = try ProcessFiles(pid: getpid(), client: me)
        let stat = try files.stat()
        #expect(stat.pid == getpid())
        let maps = try files.maps()
        #expect(!maps.isEmpty)
        #expect(files.owner == geteuid())
        var pagemap = try files.pagemap()
        _ = try pagemap.entry(address: maps[0].start)
    }

    @Test func anotherUsersProcessIsRefused() throws {
        // pid 1 belongs to root; a client that is not root (uid 65534) may not see it.
        guard geteuid() == 0 else { return }
        let nobody = ProcClient(uid: 65534, gid: 65534)
        #expect(throws: ProcError.permissionDenied(path: "/proc/1")) { _ = try ProcessFiles(pid: 1, client: nobody) }
    }

    @Test func aMissingProcessIsNotFound() {
        #expect(throws: ProcError.self) { _ = try ProcessFiles(pid: 0, client: me) }
        // Above /proc/sys/kernel/pid_max (at most 2^22): never a process.
        do {
            _ = try ProcessFiles(pid: 1 << 30, client: me)
            Issue.record("no error")
        } catch {
            guard case .notFound = error else {
                Issue.record("\(error)")
                return
            }
        }
    }
}
