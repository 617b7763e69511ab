import Foundation
import JSONRPC
import MemdProtocol
import Testing

/// runExperiment through the socket: figures against the kernel, progress before
/// the response, and no child left behind when the client goes away.
@Suite(.serialized) struct ExperimentTests {
    @Test func demandPagingThroughTheServer() throws {
        let memd = try MemdHarness()
        let client = try memd.client()
        var progress: [JSON] = []
        let size = 32 << 20
        let result = try client.call(
            "runExperiment",
            ["name": "demandPaging", "sizeBytes": .int(size), "stepBytes": .int(8 << 20), "progress": true]
        ) {
            method,
            params in
            if method == "experiment.progress" { progress.append(params) }
        }
        #expect(SchemaValidator(document: openRPC).validateResult(of: "runExperiment", result).isEmpty)
        #expect(!progress.isEmpty && progress.allSatisfy { $0["requestId"] != nil && $0["phase"] != nil })
        let real = try #require(result["real"])
        let samples = try #require(real["samples"]?.arrayValue)
        let before = samples[0]
        let allocated = samples[1]
        #expect(Format.int(allocated["vsz"]) - Format.int(before["vsz"]) == size)
        #expect(abs(Format.int(allocated["rss"]) - Format.int(before["rss"])) < 256 << 10)
        let thp = try readProc("/sys/kernel/mm/transparent_hugepage/enabled")
        #expect(thp.contains("[\(real["thp"]?.stringValue ?? "?")]"))
        let faults = Format.int(real["faultsDuringTouch"])
        #expect(abs(faults - size / 4096) <= size / 4096 / 10, "faults \(faults) vs \(size / 4096)")
        // The child's uid is the client's (root here), taken from /proc by memd.
        #expect(real["uid"] == .int(Int(getuid())))
        expectError(client, "runExperiment", ["name": "nope"], code: -32602, kind: "invalidParams")
        expectError(
            client,
            "runExperiment",
            ["name": "mmap", "sizeBytes": .int(1 << 40)],
            code: -32003,
            kind: "resourceLimit"
        )
        memd.stop()
    }

    @Test func disconnectKillsTheChild() throws {
        let memd = try MemdHarness()
        let pid = memd.process.processIdentifier
        let client = try memd.client()
        try client.send(
            Array(
                #"{"jsonrpc":"2.0","id":1,"method":"runExperiment","params":{"name":"demandPaging","sizeBytes":536870912,"stepBytes":4096,"progress":true}}"#
                    .utf8
            ) + [0x0A]
        )
        _ = try client.readLine()  // the first progress notification: the child is running
        #expect(!memlabPIDs(of: pid).isEmpty)
        client.disconnect()
        var gone = false
        let start = Date()
        while Date().timeIntervalSince(start) < 2, !gone {
            gone = memlabPIDs(of: pid).isEmpty
            if !gone { usleep(20_000) }
        }
        #expect(gone, "memlab still running 2 s after the client left: \(memlabPIDs(of: pid))")
        memd.stop()
    }

    /// Processes named memlab (the experiment helper) descending from `memd`, from /proc
    /// (other tests and other memds on the host run memlabs of their own).
    func memlabPIDs(of memd: Int32) -> [Int] {
        func parent(_ pid: Int) -> Int? {
            let status = (try? readProc("/proc/\(pid)/status")) ?? ""
            let line = status.split(separator: "\n").first { $0.hasPrefix("PPid:") }
            return line.flatMap { $0.split(separator: "\t").last.flatMap { Int($0) } }
        }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int.init).filter { pid in
            guard ((try? readProc("/proc/\(pid)/comm")) ?? "").hasPrefix("memlab") else { return false }
            var ancestor = parent(pid)
            for _ in 0..<4 {
                guard let current = ancestor, current > 1 else { return false }
                if current == Int(memd) { return true }
                ancestor = parent(current)
            }
            return false
        }
    }
}
