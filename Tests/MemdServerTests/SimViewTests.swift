import Foundation
import JSONRPC
import Testing

/// memctl sim and memctl translate: what they print and their exit codes.
@Suite(.serialized) struct SimViewTests {
    @Test func scriptDrawsFaultsAndTheWalk() throws {
        let memd = try MemdHarness()
        let memctl = productsDirectory.appendingPathComponent("memctl").path
        let script = memd.directory.appendingPathComponent("demo.sim")
        try """
        # demand paging, then copy-on-write
        create physicalBytes=256M
        spawn
        mmap $pid 100M rw-
        touch $pid $addr 100M write
        fork $pid
        touch $child $addr 40K write
        translate $child $addr trace
        meminfo
        ps
        """.write(to: script, atomically: true, encoding: .utf8)
        let r = try run(memctl, ["--socket", memd.socketPath, "sim", "run", script.path])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("25600 pages, 25600 minor faults (0 copy-on-write), 0 major → rss 100Mi"), "\(r.out)")
        #expect(r.out.contains("10 pages, 10 minor faults (10 copy-on-write)"))
        #expect(r.out.contains("fork 1 → child 2"))
        for level in ["pml4", "pdpt", "pd", "pt"] { #expect(r.out.contains("  \(level) ")) }
        #expect(r.out.contains("→ tlbHit: physical 0x"))
        #expect(r.out.contains("Mem:           256Mi"))  // free's layout: label in 8, then " %11s"

        // One operation at a time, with --machine; and translate.
        let list = try run(memctl, ["--socket", memd.socketPath, "sim", "list"])
        #expect(list.status == 0 && list.out.contains("m1") && list.out.contains("running"))
        let t = try run(
            memctl,
            ["--socket", memd.socketPath, "translate", "--machine", "m1", "--pid", "1", "0x10", "--trace"]
        )
        #expect(t.status == 0 && t.out.contains("→ segv") && t.out.contains("in no mapping"), "\(t.out)")
        // Exit codes: memd's error 1, usage 2.
        let missing = try run(memctl, ["--socket", memd.socketPath, "sim", "spawn", "--machine", "m99"])
        #expect(missing.status == 1 && missing.err.contains("-32005"))
        let usage = try run(memctl, ["--socket", memd.socketPath, "sim", "teleport"])
        #expect(usage.status == 2, "\(usage.err)")
        let noFile = try run(memctl, ["--socket", memd.socketPath, "sim", "run", "/nonexistent.sim"])
        #expect(noFile.status == 2)
        memd.stop()
    }
}
