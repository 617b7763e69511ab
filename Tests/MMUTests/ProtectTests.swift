import Testing

@testable import MMU

struct ProtectTests {
    @Test func readOnlyProtectionRefusesWritesAndInvalidatesTheTLB() throws {
        let m = try makeMachine()
        let pid = try spawn(m)
        let a = try mmapAnon(m, pid, 3 * page)
        _ = try m.touch(pid: pid, address: a, length: 3 * page, access: .write)
        #expect(try m.translate(pid: pid, address: a + page, access: .write).outcome == .tlbHit)
        #expect(try m.mprotect(pid: pid, address: a + page, length: page, protection: .read) == nil)
        #expect(
            try m.mappings(pid: pid).filter { $0.start >= a && $0.end <= a + 3 * page }.map(\.perms)
                == ["rw-p", "r--p", "rw-p"]
        )
        let w = try m.translate(pid: pid, address: a + page, access: .write)
        #expect(w.outcome == .segv, "the cached writable entry is gone")
        #expect(try m.translate(pid: pid, address: a + page).outcome == .translated, "refilled read-only")
        #expect(try m.translate(pid: pid, address: a, access: .write).outcome == .translated)
    }

    @Test func writableAgainFaultsOnceWithoutCopy() throws {
        let m = try makeMachine()
        let pid = try spawn(m)
        let a = try mmapAnon(m, pid, page)
        _ = try m.touch(pid: pid, address: a, length: page, access: .write)
        let pfn = try m.translate(pid: pid, address: a, dryRun: true).pfn
        _ = try m.mprotect(pid: pid, address: a, length: page, protection: .read)
        _ = try m.mprotect(pid: pid, address: a, length: page, protection: [.read, .write])
        let t = try m.touch(pid: pid, address: a, length: page, access: .write)
        #expect((t.minorFaults, t.cowFaults) == (1, 0))
        #expect(try m.translate(pid: pid, address: a, dryRun: true).pfn == pfn)
    }

    @Test func unmappedRangeIsENOMEM() throws {
        let m = try makeMachine()
        let pid = try spawn(m)
        #expect(try m.mprotect(pid: pid, address: 0x1000_0000, length: page, protection: .read) == "ENOMEM")
    }
}
