import JSONRPC
import MMU
import MemdProtocol
import NIOConcurrencyHelpers
import ProcFS

/// The simulator in the server: `sim.*`, `meminfo`/`maps`/`pageStats` with `source: "sim"`, and
/// `simulateTranslation` (simulated and real processes). Every handler runs as a task: a call waits
/// for its machine in the machine's queue (suspended, holding no thread), and the simulator's work
/// runs on the waiting-work pool.
enum SimMethods {
    /// Registers the sim methods; returns the registry, which the `source: "sim"` branches of
    /// meminfo/maps/pageStats are given explicitly (no global).
    static func register(into table: inout MethodTable<CallContext>, config: ServerConfig) -> SimRegistry {
        let limits = MachineLimits(
            maxProcesses: config.maxSimProcesses,
            maxAccesses: SimulateTranslationMethod.maxCount,
            budget: SimBudget(limit: config.maxSimMemory)
        )
        let registry = SimRegistry(limitPerUID: config.maxMachinesPerUID, limits: limits, health: config.health)

        table.async(SimCreateMethod.self) { p, context in
            var c = MachineConfig()
            if let v = p.physicalBytes { c.physicalBytes = v }
            if let v = p.tlbEntries { c.tlbEntries = v }
            if let v = p.tlbWays { c.tlbWays = v }
            if let v = p.pcid { c.pcid = v }
            if let v = p.addressBits { c.addressBits = v }
            if let v = p.hugePages { c.hugePages = v }
            if let v = p.addressing { c.addressing = v == .physical ? .physical : .virtual }
            if let v = p.panicOnOom { c.panicOnOom = v }
            if let v = p.swapBytes { c.swapBytes = v }
            let sim = try await registry.create(uid: context.peer.uid, config: c, context: context)
            return ["source": "sim", "machine": .string(sim.id), "config": json(c)]
        }
        table.async(SimListMethod.self) { _, context in
            var rows: [JSON] = []
            for sim in registry.list(uid: context.peer.uid) {
                let row: JSON
                do {
                    row = try await sim.run(context, allowPanicked: true) { m, _ in summaryJSON(sim.id, m) }
                } catch let error as SimError where error.error.code == .unknownPID {
                    continue
                }
                rows.append(row)
            }
            return ["source": "sim", "machines": .array(rows)]
        }
        table.async(SimDestroyMethod.self) { id, context in
            try registry.destroy(id, uid: context.peer.uid)
            return ["source": "sim", "machine": .string(id), "destroyed": true]
        }
        table.async(SimSpawnMethod.self) { p, context in
            let sim = try registry.lookup(p.machine, uid: context.peer.uid)
            return try await sim.run(context) { m, _ in
                let r = try m.spawn(
                    command: p.command ?? "prog",
                    textBytes: p.textBytes ?? 64 << 10,
                    dataBytes: p.dataBytes ?? 16 << 10,
                    stackBytes: p.stackBytes ?? 132 << 10
                )
                var o: JSONObject = [
                    "source": "sim", "pid": r.pid.map { .int($0) } ?? .null,
                    "mappings": Mapping.jsonArray(r.mappings.map(mapping), detail: false),
                    "linkedAddress": .hex(r.linkedAddress), "loadAddress": .hex(r.loadAddress),
                ]
                if let e = r.errno { o["errno"] = .string(e) }
                if let problem = r.problem { o["problem"] = .string(problem) }
                return .object(o)
            }
        }
        table.async(SimMmapMethod.self) { p, context in
            let sim = try registry.lookup(p.machine, uid: context.peer.uid)
            var prot: Protection = []
            let chars = Array(p.prot)
            if chars[0] == "r" { prot.insert(.read) }
            if chars[1] == "w" { prot.insert(.write) }
            if chars[2] == "x" { prot.insert(.exec) }
            return try await sim.run(context) { [prot] m, _ in
                let r = try m.mmap(
                    pid: p.pid,
                    length: p.length,
                    protection: prot,
                    shared: p.shared,
                    file: p.file,
                    offset: p.offset,
                    address: p.address
                )
                var o: JSONObject = ["source": "sim", "address": r.address.map(JSON.hex) ?? .null]
                if let e = r.errno { o["errno"] = .string(e) }
                if let v = r.largestFreeRun { o["largestFreeRun"] = .int(Int(v)) }
                if let v = r.freeBytes { o["freeBytes"] = .int(Int(v)) }
                return .object(o)
            }
        }
        table.async(SimMunmapMethod.self) { p, context in
            let sim = try registry.lookup(p.machine, uid: context.peer.uid)
            return try await sim.run(context) { m, _ in
                let r = try m.unmap(pid: p.pid, address: p.address, length: p.length)
                var o: JSONObject = [
                    "source": "sim", "freedPages": .int(r.freedPages), "freedBytes": .int(r.freedPages * 4096),
                ]
                if let e = r.errno { o["errno"] = .string(e) }
                return .object(o)
            }
        }
        table.async(SimTouchMethod.self) { p, context in
            let sim = try registry.lookup(p.machine, uid: context.peer.uid)
            return try await sim.run(context) { m, shouldStop in
                let r = try m.touch(
                    pid: p.pid,
                    address: p.address,
                    length: p.length,
                    access: p.access == .write ? .write : .read,
                    stride: p.stride,
                    shouldStop: shouldStop
                )
                return .object(touchJSON(r, m, pid: p.pid))
            }
        }
        table.async(SimReadMethod.self) { p, context in
            let sim = try registry.lookup(p.machine, uid: context.peer.uid)
            return try await sim.run(context) { m, _ in
                let r = try m.read(pid: p.pid, address: p.address, length: p.length)
                var o = touchJSON(r.faults, m, pid: p.pid)
                // Bytes that are not valid UTF-8 come back as base64 whatever was asked: never altered.
                var encoding = p.encoding
                var data = ""
                if encoding == .utf8 {
                    if let text = String(validating: r.bytes, as: UTF8.self) {
                        data = text
                    } else {
                        encoding = .base64
                    }
                }
                if encoding == .base64 { data = Base64.encode(r.bytes) }
                o.members.insert(
                    contentsOf: [
                        ("data", .string(data)), ("encoding", .string(encoding.rawValue)),
                        ("length", .int(r.bytes.count)),
                    ],
                    at: 1
                )
                return .object(o)
            }
        }
        table.async(SimWriteMethod.self) { p, context in
            let sim = try registry.lookup(p.machine, uid: context.peer.uid)
            return try await sim.run(context) { m, _ in
                let r = try m.write(pid: p.pid, address: p.address, bytes: p.bytes)
                var o = touchJSON(r, m, pid: p.pid)
                o.members.insert(
                    ("bytesWritten", .int(r.segv == nil && r.oomKilled.isEmpty ? p.bytes.count : 0)),
                    at: 1
                )
                return .object(o)
            }
        }
        table.async(SimForkMethod.self) { p, context in
            let sim = try registry.lookup(p.machine, uid: context.peer.uid)
            return try await sim.run(context) { m, _ in ["source": "sim", "pid": .int(try m.fork(pid: p.pid))] }
        }
        table.async(SimExitMethod.self) { p, context in
            let sim = try registry.lookup(p.machine, uid: context.peer.uid)
            return try await sim.run(context) { m, _ in
                let freed = try m.exit(pid: p.pid)
                return [
                    "source": "sim", "pid": .int(p.pid), "freedPages": .int(freed), "freedBytes": .int(freed * 4096),
                ]
            }
        }
        table.async(SimulateTranslationMethod.self) { p, context in
            if let machine = p.machine {
                let sim = try registry.lookup(machine, uid: context.peer.uid)
                return try await SimTranslate.simulated(p, sim, context: context)
            }
            return try await RealTranslate.translate(p, context: context)
        }
        return registry
    }

    static func summaryJSON(_ id: String, _ m: Machine) -> JSON {
        let s = m.summary()
        return [
            "machine": .string(id), "physicalBytes": .int(Int(m.config.physicalBytes)),
            "processes": .int(s.processes), "usedBytes": .int(Int(s.usedBytes)),
            "freeBytes": .int(Int(s.freeBytes)), "minorFaults": .int(Int(s.minorFaults)),
            "majorFaults": .int(Int(s.majorFaults)), "cowFaults": .int(Int(s.cowFaults)),
            "oomKills": .int(Int(s.oomKills)), "panicked": .bool(s.isPanicked),
        ]
    }

    // MARK: - meminfo / maps / pageStats with source "sim"

    static func machine(_ id: String?, _ registry: SimRegistry, peer: PeerCredentials) throws -> SimMachine {
        try registry.lookup(id ?? "", uid: peer.uid)
    }

    /// `meminfo` of a simulated machine: async (it waits for the machine's queue), so it must run as
    /// a task, never inline on the event loop.
    static func meminfo(_ target: Target, registry: SimRegistry, context: CallContext) async throws -> JSON {
        let sim = try machine(target.machine, registry, peer: context.peer)
        return try await sim.run(context) { m, _ in
            let entries = try m.meminfo().map { Meminfo.Entry(key: $0.key, value: Int($0.bytes), isBytes: true) }
            return Meminfo(entries: entries).json(source: "sim")
        }
    }

    static func maps(
        pid: Int32,
        detail: Bool,
        target: Target,
        registry: SimRegistry,
        context: CallContext
    )
        async throws -> JSON
    {
        let sim = try machine(target.machine, registry, peer: context.peer)
        return try await sim.run(context) { m, _ in
            let stats = try m.processStats(pid: Int(pid))
            let infos = try m.mappings(pid: Int(pid), detail: detail)
            let mappings = infos.map(mapping)
            return MapsMethod.Result(
                source: .sim,
                pid: pid,
                command: stats.command,
                vsz: Int(stats.vsz),
                mappings: mappings,
                totals: detail ? mappings.reduce(SmapsDetail()) { $0 + ($1.detail ?? SmapsDetail()) } : nil
            ).json
        }
    }

    static func pageStats(
        _ params: PageStatsMethod.Params,
        registry: SimRegistry,
        context: CallContext
    )
        async throws -> JSON
    {
        let sim = try machine(params.target.machine, registry, peer: context.peer)
        @Sendable func row(_ s: ProcessStats) -> PageStatsMethod.ProcessRow {
            .init(
                pid: s.pid,
                command: s.command,
                vsz: Int(s.vsz),
                rss: Int(s.rss),
                minflt: Int(s.minflt),
                majflt: Int(s.majflt)
            )
        }
        struct Counters: Sendable {
            var paging: PagingCounters
            var vmstat: Vmstat
            var oomKills: Int
        }
        func counters() async throws -> Counters {
            try await sim.run(context) { m, _ in
                let vmstat = Vmstat(entries: try m.vmstat().map { (key: $0.key, value: Int($0.value)) })
                return Counters(paging: PagingCounters(vmstat), vmstat: vmstat, oomKills: Int(m.summary().oomKills))
            }
        }
        func countersJSON(_ c: Counters) -> JSON {
            guard case .object(var o) = c.paging.json(raw: c.vmstat) else { return c.paging.json(raw: c.vmstat) }
            o.members.insert(("oomKill", .int(c.oomKills)), at: o.members.count - 1)
            return .object(o)
        }
        let seconds = Double(params.intervalMs) / 1000
        if let pid = params.pid {
            let first = try await sim.run(context) { m, _ in try m.processStats(pid: Int(pid)) }
            guard params.intervalMs > 0 else { return row(first).result(source: .sim) }
            try await Task.sleep(for: .milliseconds(params.intervalMs))
            let second = try await sim.run(context) { m, _ in try m.processStats(pid: Int(pid)) }
            return row(second).result(
                source: .sim,
                since: row(first),
                intervalMs: params.intervalMs,
                seconds: seconds
            )
        }
        if params.all {
            let rows = try await sim.run(context) { m, _ in try m.allProcessStats().map { JSON.object(row($0).json) } }
            return ["source": "sim", "scope": "processes", "processes": .array(rows)]
        }
        let c1 = try await counters()
        guard params.intervalMs > 0 else {
            return ["source": "sim", "scope": "system", "counters": countersJSON(c1)]
        }
        try await Task.sleep(for: .milliseconds(params.intervalMs))
        let c2 = try await counters()
        return [
            "source": "sim", "scope": "system", "intervalMs": .int(params.intervalMs),
            "counters": countersJSON(c2),
            "rates": PagingRates(from: c1.paging, to: c2.paging, seconds: seconds).json,
        ]
    }

    // MARK: - JSON

    /// A limit met inside one slice of a longer call: `completed` counts the slices before it too.
    static func adding(_ done: Int, to error: MMUError) -> MMUError {
        var e = error
        e.completed = (e.completed ?? 0) + done
        return e
    }

    static func json(_ c: MachineConfig) -> JSON {
        [
            "physicalBytes": .int(Int(c.physicalBytes)), "tlbEntries": .int(c.tlbEntries), "tlbWays": .int(c.tlbWays),
            "pcid": .bool(c.pcid), "addressBits": .int(c.addressBits), "hugePages": .bool(c.hugePages),
            "addressing": .string(c.addressing.rawValue), "panicOnOom": .bool(c.panicOnOom),
            "swapBytes": .int(Int(c.swapBytes)),
        ]
    }

    /// A simulated mapping as the one `Mapping` the wire encoder knows (Experiments' `Mapping(simulated:)`).
    static func mapping(_ info: MappingInfo) -> Mapping { Mapping(simulated: info) }

    /// `sim.touch`'s result (also the fault part of read/write), with the process's rss after.
    static func touchJSON(_ r: TouchResult, _ m: Machine, pid: Int) -> JSONObject {
        var o: JSONObject = [
            "source": "sim", "pagesTouched": .int(r.pagesTouched), "minorFaults": .int(r.minorFaults),
            "majorFaults": .int(r.majorFaults), "cowFaults": .int(r.cowFaults),
        ]
        if let s = r.segv { o["segv"] = ["address": .hex(s.address), "reason": .string(s.reason)] }
        if !r.oomKilled.isEmpty { o["oomKilled"] = .array(r.oomKilled.map { .int($0) }) }
        if let stats = try? m.processStats(pid: pid) { o["rss"] = .int(Int(stats.rss)) }
        return o
    }
}
