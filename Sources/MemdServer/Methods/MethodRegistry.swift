import JSONRPC
import MemdProtocol

/// Every method memd answers, and which of them run inline (a /proc file or
/// two, microseconds) or as tasks (long, cancellable).
public enum MethodRegistry {
    public static func table(config: ServerConfig, openRPC: JSON) -> MethodTable<CallContext> {
        var table = MethodTable<CallContext>()
        let attribution = Attribution(config: config)
        table.inline(DiscoverMethod.self) { _, _ in openRPC }
        SimMethods.register(into: &table, config: config)
        table.inline(MeminfoMethod.self) { params, context in
            switch params.target.source {
            case .proc: return try CgroupMethods.meminfo(cgroup: params.cgroup, attribution: attribution)
            case .sim: return try SimMethods.meminfo(params.target, peer: context.peer)
            }
        }
        table.async(MapsMethod.self) { params, context in
            switch params.target.source {
            case .proc: return try ProcMethods.maps(pid: params.pid, detail: params.detail, peer: context.peer)
            case .sim:
                return try SimMethods.maps(pid: params.pid, detail: params.detail, target: params.target, peer: context.peer)
            }
        }
        table.async(PageStatsMethod.self) { params, context in
            guard params.target.source == .proc else { return try await SimMethods.pageStats(params, peer: context.peer) }
            if let cgroup = params.cgroup {
                return try await CgroupMethods.processes(in: cgroup, peer: context.peer, attribution: attribution)
            }
            if params.intervalMs > 0 { return try await ProcMethods.pageStats(sampling: params, peer: context.peer) }
            return try ProcMethods.pageStats(params, peer: context.peer)
        }
        ExperimentMethods.register(into: &table, config: config)
        UsageMethods.register(into: &table, attribution: attribution)
        return table
    }
}
