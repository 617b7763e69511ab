import JSONRPC
import MemdProtocol

/// Every method memd answers, and which of them answer inline (a /proc file or
/// two, microseconds) or as tasks (long, cancellable; what waits runs on `context.work`).
public enum MethodRegistry {
    public static func table(config: ServerConfig, openRPC: JSON) -> MethodTable<CallContext> {
        var table = MethodTable<CallContext>()
        let attribution = Attribution(config: config)
        // Encoded once: every rpc.discover (a batch may hold a thousand) is a copy of the text.
        let discovered = JSON.raw(JSONWriter.encode(openRPC))
        table.inline(DiscoverMethod.self) { _, _ in discovered }
        let sim = SimMethods.register(into: &table, config: config)
        table.method(MeminfoMethod.self) { params, context -> Outcome<JSON> in
            switch params.target.source {
            case .proc:
                guard params.cgroup != nil else {
                    // The lines of one socket read share one snapshot, encoded once (``SharedReads``).
                    return .now(try context.shared.meminfo())
                }
                // A cgroup's files (memory.stat among them) are read where waiting is allowed.
                return Outcome<MeminfoResult>.later {
                    try await context.work.run { _ in
                        try CgroupMethods.meminfo(cgroup: params.cgroup, attribution: attribution)
                    }
                }.encoded
            // A simulated machine's figures wait for the machine: a task, never on the event loop.
            case .sim:
                return Outcome<MeminfoResult>.later {
                    try await SimMethods.meminfo(params.target, registry: sim, context: context)
                }.encoded
            }
        }
        table.async(MapsMethod.self) { params, context in
            switch params.target.source {
            case .proc:
                // Reading another process's maps takes its mmap lock: a thread that may wait.
                return try await context.work.run { _ in
                    try ProcMethods.maps(
                        pid: params.pid,
                        detail: params.detail,
                        smaps: params.smaps,
                        peer: context.peer,
                        maxBytes: context.maxResponseBytes,
                        into: context.result
                    )
                }
            case .sim:
                return try await SimMethods.maps(
                    pid: params.pid,
                    detail: params.detail,
                    target: params.target,
                    registry: sim,
                    context: context
                )
            }
        }
        table.async(PageStatsMethod.self) { params, context in
            guard params.target.source == .proc else {
                return try await SimMethods.pageStats(params, registry: sim, context: context)
            }
            if let cgroup = params.cgroup {
                return try await CgroupMethods.processes(
                    in: cgroup,
                    peer: context.peer,
                    attribution: attribution,
                    work: context.work
                )
            }
            if params.intervalMs > 0 { return try await ProcMethods.pageStats(sampling: params, peer: context.peer) }
            return try await context.work.run { _ in try ProcMethods.pageStats(params, peer: context.peer) }
        }
        ExperimentMethods.register(into: &table, config: config)
        UsageMethods.register(into: &table, attribution: attribution)
        WatchMethods.register(into: &table, config: config)
        WorkingSetMethods.register(into: &table)
        PageFlagsMethods.register(into: &table)
        return table
    }
}
