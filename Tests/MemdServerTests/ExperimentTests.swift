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
        let client = try memd.client()
        try client.send(
            Array(
                #"{"jsonrpc":"2.0","id":1,"method":"runExperiment","params":{"name":"demandPaging","sizeBytes":536870912,"stepBytes":4096,"progress":true}}"#
                    .utf8
            ) + [0x0A]
        )
        _ = try client.readLine()  // the first progress notification: the child is running
        #expect(!memlabPIDs().isEmpty)
        client.disconnect()
        var gone = false
        let start = Date()
        while Date().timeIntervalSince(start) < 2, !gone {
            gone = memlabPIDs().isEmpty
            if !gone { usleep(20_000) }
        }
        #expect(gone, "memlab still running 2 s after the client left: \(memlabPIDs())")
        memd.stop()
    }

    /// Processes named memlab (the experiment helper), from /proc.
    func memlabPIDs() -> [Int] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int.init).filter { pid in
            ((try? readProc("/proc/\(pid)/comm")) ?? "").hasPrefix("memlab")
        }
    }
}
