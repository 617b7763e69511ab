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
            budget: MemoryBudget(limit: config.maxSimMemory)
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
            return .init(machine: sim.id, config: simConfig(c))
        }
        table.async(SimListMethod.self) { _, context in
            .init(machines: registry.list(uid: context.peer.uid).map { summary($0) })
        }
        table.async(SimDestroyMethod.self) { id, context in
            try registry.destroy(id, uid: context.peer.uid)
            return .init(machine: id)
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
                return SimSpawnMethod.Result(
                    pid: r.pid,
                    mappings: r.mappings.map(mapping),
                    linkedAddress: r.linkedAddress,
                    loadAddress: r.loadAddress,
                    errno: r.errno,
                    problem: r.problem
                )
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
                return SimMmapMethod.Result(
                    address: r.address,
                    errno: r.errno,
                    largestFreeRun: r.largestFreeRun.map { Int($0) },
                    freeBytes: r.freeBytes.map { Int($0) }
                )
            }
        }
        table.async(SimMunmapMethod.self) { p, context in
            let sim = try registry.lookup(p.machine, uid: context.peer.uid)
            return try await sim.run(context) { m, _ in
                let r = try m.unmap(pid: p.pid, address: p.address, length: p.length)
                return SimMunmapMethod.Result(freed: SimFreed(pages: r.freedPages), errno: r.errno)
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
                return faults(r, m, pid: p.pid)
            }
        }
        table.async(SimReadMethod.self) { p, context in
            let sim = try registry.lookup(p.machine, uid: context.peer.uid)
            return try await sim.run(context) { m, _ in
                let r = try m.read(pid: p.pid, address: p.address, length: p.length)
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
                return SimReadMethod.Result(
                    data: data,
                    encoding: encoding,
                    length: r.bytes.count,
                    faults: faults(r.faults, m, pid: p.pid)
                )
            }
        }
        table.async(SimWriteMethod.self) { p, context in
            let sim = try registry.lookup(p.machine, uid: context.peer.uid)
            return try await sim.run(context) { m, _ in
                let r = try m.write(pid: p.pid, address: p.address, bytes: p.bytes)
                return SimWriteMethod.Result(
                    bytesWritten: r.segv == nil && r.oomKilled.isEmpty ? p.bytes.count : 0,
                    faults: faults(r, m, pid: p.pid)
                )
            }
        }
        table.async(SimForkMethod.self) { p, context in
            let sim = try registry.lookup(p.machine, uid: context.peer.uid)
            return try await sim.run(context) { m, _ in SimForkMethod.Result(pid: try m.fork(pid: p.pid)) }
        }
        table.async(SimExitMethod.self) { p, context in
            let sim = try registry.lookup(p.machine, uid: context.peer.uid)
            return try await sim.run(context) { m, _ in
                SimExitMethod.Result(pid: p.pid, freed: SimFreed(pages: try m.exit(pid: p.pid)))
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

    /// A machine as its last finished call left it (a call under way is not waited for).
    static func summary(_ sim: SimMachine) -> SimListMethod.Machine {
        let s = sim.summary
        return .init(
            machine: sim.id,
            physicalBytes: Int(sim.physicalBytes),
            processes: s.processes,
            usedBytes: Int(s.usedBytes),
            freeBytes: Int(s.freeBytes),
            minorFaults: Int(s.minorFaults),
            majorFaults: Int(s.majorFaults),
            cowFaults: Int(s.cowFaults),
            oomKills: Int(s.oomKills),
            isPanicked: s.isPanicked
        )
    }

    // MARK: - meminfo / maps / pageStats with source "sim"

    static func machine(_ id: String?, _ registry: SimRegistry, peer: PeerCredentials) throws -> SimMachine {
        try registry.lookup(id ?? "", uid: peer.uid)
    }

    /// `meminfo` of a simulated machine: async (it waits for the machine's queue), so it must run as
    /// a task, never inline on the event loop.
    static func meminfo(_ target: Target, registry: SimRegistry, context: CallContext) async throws -> MeminfoResult {
        let sim = try machine(target.machine, registry, peer: context.peer)
        return try await sim.run(context) { m, _ in
            let entries = try m.meminfo().map { Meminfo.Entry(key: $0.key, value: Int($0.bytes), isBytes: true) }
            return MeminfoResult(Meminfo(entries: entries), source: .sim)
        }
    }

    static func maps(
        pid: Int32,
        detail: Bool,
        target: Target,
        registry: SimRegistry,
        context: CallContext
    )
        async throws -> MapsMethod.Result
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
                cmdline: stats.command,
                vsz: Int(stats.vsz),
                mappings: mappings,
                totals: detail ? mappings.reduce(SmapsDetail()) { $0 + ($1.detail ?? SmapsDetail()) } : nil
            )
        }
    }

    static func pageStats(
        _ params: PageStatsMethod.Params,
        registry: SimRegistry,
        context: CallContext
    )
        async throws -> PageStatsMethod.Result
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
        let seconds = Double(params.intervalMs) / 1000
        if let pid = params.pid {
            let first = try await sim.run(context) { m, _ in try m.processStats(pid: Int(pid)) }
            guard params.intervalMs > 0 else { return .process(.init(source: .sim, row: row(first))) }
            try await Task.sleep(for: .milliseconds(params.intervalMs))
            let second = try await sim.run(context) { m, _ in try m.processStats(pid: Int(pid)) }
            return .process(
                .init(
                    source: .sim,
                    row: row(second),
                    since: row(first),
                    intervalMs: params.intervalMs,
                    seconds: seconds
                )
            )
        }
        if params.all {
            return .processes(source: .sim, try await sim.run(context) { m, _ in try m.allProcessStats().map(row) })
        }
        let c1 = try await counters()
        guard params.intervalMs > 0 else {
            return .system(.init(source: .sim, counters: c1.paging, oomKills: c1.oomKills, raw: c1.vmstat))
        }
        try await Task.sleep(for: .milliseconds(params.intervalMs))
        let c2 = try await counters()
        let rates = PagingRates(from: c1.paging, to: c2.paging, seconds: seconds)
        return .system(
            .init(
                source: .sim,
                counters: c2.paging,
                oomKills: c2.oomKills,
                raw: c2.vmstat,
                interval: (params.intervalMs, rates)
            )
        )
    }

    // MARK: - JSON

    /// A limit met inside one slice of a longer call: `completed` counts the slices before it too.
    static func adding(_ done: Int, to error: MMUError) -> MMUError {
        var e = error
        e.completed = (e.completed ?? 0) + done
        return e
    }

    static func simConfig(_ c: MachineConfig) -> SimConfig {
        SimConfig(
            physicalBytes: Int(c.physicalBytes),
            tlbEntries: c.tlbEntries,
            tlbWays: c.tlbWays,
            pcid: c.pcid,
            addressBits: c.addressBits,
            hugePages: c.hugePages,
            addressing: c.addressing == .physical ? .physical : .virtual,
            panicOnOom: c.panicOnOom,
            swapBytes: Int(c.swapBytes)
        )
    }

    /// A simulated mapping as the one `Mapping` the wire encoder knows (Experiments' `Mapping(simulated:)`).
    static func mapping(_ info: MappingInfo) -> Mapping { Mapping(simulated: info) }

    /// `sim.touch`'s result (also the fault part of read/write), with the process's rss after.
    static func faults(_ r: TouchResult, _ m: Machine, pid: Int) -> SimFaults {
        SimFaults(
            pagesTouched: r.pagesTouched,
            minorFaults: r.minorFaults,
            majorFaults: r.majorFaults,
            cowFaults: r.cowFaults,
            segv: r.segv.map { SimSegv(address: $0.address, reason: $0.reason) },
            oomKilled: r.oomKilled,
            rss: (try? m.processStats(pid: pid)).map { Int($0.rss) }
        )
    }
}
