import Foundation
import JSONRPC
import ProcFS
import Testing

@testable import Experiments

#if canImport(Glibc)
import Glibc
#endif

/// memlab's output is untrusted input: forged lines end the experiment (limits.md §5).
@Suite struct HelperOutputTests {
    func parse(_ text: String, memlab: Int32 = getpid()) throws(ExperimentError) -> HelperLine {
        var proc = ProcReader()
        return try HelperLine.parse(Array(text.utf8), memlab: memlab, sizeBytes: 1 << 20) { pid in
            isDescendant(pid, of: memlab, proc: &proc)
        }
    }

    func isUntrusted(_ body: () throws(ExperimentError) -> Void) -> Bool {
        do {
            try body()
            return false
        } catch {
            return error.code == .untrustedOutput
        }
    }

    @Test func aLineOverTheLimitEndsIt() throws {
        var lines = HelperLines()
        lines.append(ArraySlice(Array(repeating: UInt8(ascii: "a"), count: HelperLines.maxLineBytes)))
        #expect(try lines.next() == nil)
        lines.append([UInt8(ascii: "a")])
        #expect(isUntrusted { () throws(ExperimentError) in _ = try lines.next() })
        var complete = HelperLines()
        complete.append(ArraySlice(Array(repeating: UInt8(ascii: "a"), count: HelperLines.maxLineBytes + 1) + [0x0A]))
        #expect(isUntrusted { () throws(ExperimentError) in _ = try complete.next() })
    }

    @Test func outputOverTheLimitEndsIt() throws {
        var budget = HelperBudget(sizeBytes: 1 << 20, stepBytes: 1 << 20)
        let line = HelperLine.output(String(repeating: "a", count: 1023))
        for _ in 0..<1024 { try budget.admit(line, bytes: 1024) }
        #expect(isUntrusted { () throws(ExperimentError) in try budget.admit(line, bytes: 1) })
    }

    @Test func morePointsThanTheRequestCanMakeEndIt() throws {
        // 100 MiB in 4 KiB steps: 25,600 steps, each a point memd measures and drops.
        var budget = HelperBudget(sizeBytes: 100 << 20, stepBytes: 4096)
        let point = HelperLine.event(["event": "point", "phase": "touched", "touchedBytes": 4096])
        for _ in 0..<(2 * 25_600 + 18) { try budget.admit(point, bytes: 60) }
        #expect(budget.keptBytes == 0)
        #expect(isUntrusted { () throws(ExperimentError) in try budget.admit(point, bytes: 60) })
    }

    @Test func aPidThatIsNotADescendantEndsIt() throws {
        // pid 1 is not a descendant of this test process; a child of it is.
        #expect(
            isUntrusted { () throws(ExperimentError) in
                _ = try parse(#"{"event":"point","phase":"beforeWrite","touchedBytes":0,"childPid":1}"#)
            }
        )
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sleep")
        child.arguments = ["10"]
        try child.run()
        defer {
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
        }
        let line = #"{"event":"point","phase":"beforeWrite","touchedBytes":0,"childPid":\#(child.processIdentifier)}"#
        #expect(try parse(line) != .output(""))
        // memlab's own pid in `started` must be memlab's.
        #expect(isUntrusted { () throws(ExperimentError) in _ = try parse(#"{"event":"started","pid":1}"#) })
    }

    @Test(arguments: [
        #"{"event":"point","phase":"touched","touchedBytes":9223372036854775807}"#,
        #"{"event":"point","phase":"touched","touchedBytes":-1}"#,
        #"{"event":"point","phase":"touched","touchedBytes":1.5}"#,
        #"{"event":"point","phase":"beforeWrite","childPid":4294967297}"#,
        #"{"event":"point","phase":"beforeWrite","childPid":"12"}"#,
        #"{"event":"point","phase":"mapped","address":"0x10000000000000000"}"#,
        #"{"event":"point","phase":"mapped","address":"zz"}"#,
        #"{"event":"point","phase":"x","sneaky":1}"#,
        #"{"event":"exec","phase":"x"}"#,
        #"{"event":"point"}"#,
        #"{"event":"point","phase":"x""#,
    ])
    func outOfRangeOrUnknownEndsIt(_ line: String) {
        #expect(isUntrusted { () throws(ExperimentError) in _ = try parse(line) })
    }

    @Test func memlabsOwnLinesPass() throws {
        let me = getpid()
        for line in [
            #"{"event":"started","pid":\#(me),"uid":65534,"gid":65534,"pageSize":4096}"#,
            #"{"event":"point","phase":"mapped","touchedBytes":0,"address":"0x7f2b88ca2000","size":1048576}"#,
            #"{"event":"point","phase":"before","touchedBytes":0,"brk":"0x55d0c8e21000","blockBytes":1024}"#,
            #"{"event":"fault","signal":11,"address":"0x0"}"#,
            #"{"event":"error","what":"mmap","errno":"ENOMEM","message":"Cannot allocate memory"}"#,
            "Before invalid access",
        ] {
            #expect(throws: Never.self) { _ = try parse(line) }
        }
    }
}
