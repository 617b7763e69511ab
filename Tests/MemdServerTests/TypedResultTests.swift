import Foundation
import JSONRPC
import MemdProtocol
import ProcFS
import Testing

/// Calls `method` with `params` and reads the reply line as it came: the typed result decoded from
/// it, encoded again, makes that line byte for byte (every key, its order, its type, null against
/// absent), and it validates against openrpc.json.
@discardableResult
func roundTrip<M: ClientMethod>(
    _ client: MemdClient,
    _ method: M.Type,
    _ params: M.Params,
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> M.Result {
    var request: JSONObject = ["jsonrpc": "2.0", "id": 7, "method": .string(M.name)]
    let encoded = M.encode(params)
    if !encoded.isEmpty { request["params"] = .object(encoded) }
    var line = JSONWriter.encode(.object(request))
    line.append(UInt8(ascii: "\n"))
    try client.send(line)
    var reply: [UInt8]
    var parsed: JSON
    repeat {  // notifications (watch.sample) before the reply
        reply = try client.readLine()
        parsed = try JSONParser.parse(reply)
    } while parsed["id"] == nil
    reply.append(UInt8(ascii: "\n"))
    let result = try #require(parsed["result"], "\(M.name): \(String(decoding: reply, as: UTF8.self))")
    let decoded = try M.Result(json: result)
    let again = Response.result(id: 7, decoded.json)
    #expect(
        again == reply,
        "\(M.name) re-encoded differs:\n\(String(decoding: again, as: UTF8.self))\n\(String(decoding: reply, as: UTF8.self))",
        sourceLocation: sourceLocation
    )
    let problems = SchemaValidator(document: openRPC).validateResult(of: M.name, result)
    #expect(problems.isEmpty, "\(M.name): \(problems.prefix(5))", sourceLocation: sourceLocation)
    return decoded
}

/// Every typed result, on real replies of a live memd: decoded, then encoded again, it is the
/// server's line byte for byte (the one encoder the server used).
@Suite(.serialized) struct TypedResultTests {
    @Test func procResultsRoundTrip() throws {
        let memd = try MemdHarness()
        let client = try memd.client()
        let pid = getpid()
        let info = try roundTrip(client, MeminfoMethod.self, .init())
        #expect(info.source == .proc && info.raw != nil && info.pressure != nil)
        try roundTrip(client, MapsMethod.self, .init(pid))
        let maps = try roundTrip(client, MapsMethod.self, .init(pid, detail: true))
        #expect(maps.totals != nil && maps.mappings.allSatisfy { $0.detail != nil })
        try roundTrip(client, PageStatsMethod.self, .init())
        try roundTrip(client, PageStatsMethod.self, .init(intervalMs: 100))
        try roundTrip(client, PageStatsMethod.self, .init(pid: pid))
        let sampled = try roundTrip(client, PageStatsMethod.self, .init(pid: pid, intervalMs: 100))
        guard case .process(let process) = sampled else {
            Issue.record("pageStats with pid: \(sampled.json)")
            return
        }
        #expect(process.interval?.ms == 100 && process.row.pid == Int(pid))
        let all = try roundTrip(client, PageStatsMethod.self, .init(all: true))
        guard case .processes(.proc, let rows) = all else {
            Issue.record("pageStats all: \(all.json)")
            return
        }
        #expect(rows.contains { $0.pid == Int(pid) })
        for by in UsageGrouping.allCases where by != .cgroup {
            try roundTrip(client, UsageMethod.self, .init(by: by, pids: [pid], cmdline: by == .process))
        }
        try roundTrip(client, UsageMethod.self, .init(pids: [pid], swap: false))
        let mine = try client.call(MapsMethod.self, .init(pid))
        let addresses = mine.mappings.prefix(3).map(\.start) + [0x10]
        let real = try roundTrip(
            client,
            SimulateTranslationMethod.self,
            .init(addresses: .list(addresses), trace: true, pid: Int(pid))
        )
        #expect(real.source == .proc && real.translations?.count == addresses.count)
        let watched = try roundTrip(client, WatchMethod.self, .init(intervalMs: 100, pids: [pid], pss: true, count: 2))
        #expect(watched.endedBy == .count && watched.peaks.processes.first?.pss != nil)
        try roundTrip(client, WatchMethod.self, .init(intervalMs: 100, system: false, count: 1))
        #expect(try roundTrip(client, WatchStopMethod.self, .init(id: "none")).stopped == false)
        if CgroupHierarchy.detect() != nil {
            let tree = try roundTrip(client, CgroupsMethod.self, .init(depth: 1, stat: true))
            #expect(!tree.groups.isEmpty)
            try roundTrip(client, UsageMethod.self, .init(by: .cgroup, pids: [pid]))
            let root = MeminfoMethod.Params(cgroup: CgroupPath(components: []))
            #expect(try roundTrip(client, MeminfoMethod.self, root).cgroup != nil)
        }
    }

    @Test func simResultsRoundTrip() throws {
        let memd = try MemdHarness()
        let client = try memd.client()
        let created = try roundTrip(client, SimCreateMethod.self, .init(physicalBytes: 64 << 20, swapBytes: 16 << 20))
        let machine = created.machine
        try roundTrip(client, SimListMethod.self, ())
        let spawned = try roundTrip(client, SimSpawnMethod.self, .init(machine: machine, command: "prog"))
        let pid = try #require(spawned.pid)
        let mapped = try roundTrip(
            client,
            SimMmapMethod.self,
            .init(machine: machine, pid: pid, length: 1 << 20, prot: "rw-")
        )
        let address = try #require(mapped.address)
        // Physical addressing: a mapping larger than any free run fails with the runs reported.
        let physical = try roundTrip(
            client,
            SimCreateMethod.self,
            .init(physicalBytes: 16 << 20, addressing: .physical)
        )
        let loaded = try roundTrip(client, SimSpawnMethod.self, .init(machine: physical.machine))
        let failed = try roundTrip(
            client,
            SimMmapMethod.self,
            .init(machine: physical.machine, pid: try #require(loaded.pid), length: 64 << 20, prot: "rw-")
        )
        #expect(failed.address == nil && failed.errno != nil && failed.largestFreeRun != nil)
        try roundTrip(
            client,
            SimTouchMethod.self,
            .init(machine: machine, pid: pid, address: address, length: 1 << 20, access: .write)
        )
        let written = try roundTrip(
            client,
            SimWriteMethod.self,
            .init(machine: machine, pid: pid, address: address, bytes: Array("hello".utf8))
        )
        #expect(written.bytesWritten == 5)
        let read = try roundTrip(
            client,
            SimReadMethod.self,
            .init(machine: machine, pid: pid, address: address, length: 5)
        )
        #expect(read.data == "hello" && read.encoding == .utf8)
        try roundTrip(
            client,
            SimReadMethod.self,
            .init(machine: machine, pid: pid, address: address, length: 5, encoding: .base64)
        )
        let child = try roundTrip(client, SimForkMethod.self, SimPIDParams(machine: machine, pid: pid)).pid
        let walk = SimulateTranslationMethod.Params(
            addresses: .list([address, 0x10]),
            trace: true,
            pid: pid,
            machine: machine
        )
        #expect(try roundTrip(client, SimulateTranslationMethod.self, walk).translations?.count == 2)
        let pattern = SimulateTranslationMethod.Pattern(
            start: address,
            length: 1 << 20,
            count: 1000,
            order: .random,
            stride: 4096,
            seed: 7
        )
        let summed = try roundTrip(
            client,
            SimulateTranslationMethod.self,
            .init(addresses: .pattern(pattern), summaryOnly: true, pid: pid, machine: machine)
        )
        #expect(summed.translations == nil && summed.summary.physicalAddressSum != nil)
        try roundTrip(client, MeminfoMethod.self, .init(target: .sim(machine)))
        try roundTrip(client, MapsMethod.self, .init(Int32(pid), detail: true, target: .sim(machine)))
        try roundTrip(client, PageStatsMethod.self, .init(target: .sim(machine)))
        try roundTrip(client, PageStatsMethod.self, .init(intervalMs: 100, target: .sim(machine)))
        try roundTrip(client, PageStatsMethod.self, .init(pid: Int32(child), target: .sim(machine)))
        try roundTrip(client, PageStatsMethod.self, .init(all: true, target: .sim(machine)))
        let segv = try roundTrip(
            client,
            SimTouchMethod.self,
            .init(machine: machine, pid: child, address: 0x1000, length: 4096, access: .read)
        )
        #expect(segv.segv != nil)
        try roundTrip(
            client,
            SimMunmapMethod.self,
            .init(machine: machine, pid: pid, address: address, length: 1 << 20)
        )
        try roundTrip(client, SimExitMethod.self, SimPIDParams(machine: machine, pid: pid))
        try roundTrip(client, SimDestroyMethod.self, machine)
    }

    /// The typed call over the same server: params encoded, the result decoded.
    @Test func typedCallsAnswer() throws {
        let memd = try MemdHarness()
        let client = try memd.client()
        let info = try client.call(MeminfoMethod.self, .init())
        #expect(info.free.total > 0 && info.free.used + info.free.available >= info.free.total - info.free.free)
        let created = try client.call(SimCreateMethod.self, .init(tlbEntries: 32))
        #expect(created.config.tlbEntries == 32)
        #expect(try client.call(SimListMethod.self).machines.map(\.machine) == [created.machine])
        let refusal = Result { () throws(MemdClient.Failure) in
            try client.call(SimSpawnMethod.self, .init(machine: "m999"))
        }
        guard case .failure(.server(let error)) = refusal else {
            Issue.record("sim.spawn on no machine: \(refusal)")
            return
        }
        #expect(error.code == .simNotFound)
    }

    /// runExperiment: the figures of each side, null where the simulator has no counterpart.
    @Test func experimentResultsRoundTrip() throws {
        let memd = try MemdHarness()
        let client = try memd.client()
        let both = try roundTrip(
            client,
            RunExperimentMethod.self,
            ExperimentRequest(name: .mmap, sizeBytes: 1 << 20, backend: .both)
        )
        #expect(both.name == .mmap && both.real != nil && both.sim?.objectValue != nil && both.comparison != nil)
        let malloc = try roundTrip(
            client,
            RunExperimentMethod.self,
            ExperimentRequest(name: .malloc, sizeBytes: 1 << 20, backend: .both)
        )
        #expect(malloc.sim == .null && malloc.comparison?["note"] != nil)
        let sim = try roundTrip(
            client,
            RunExperimentMethod.self,
            ExperimentRequest(name: .cow, sizeBytes: 1 << 20, backend: .sim)
        )
        #expect(sim.real == nil && sim.comparison == nil)
    }
}
