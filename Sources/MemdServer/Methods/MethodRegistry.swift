import JSONRPC
import MemdProtocol

/// Every method memd answers, and which of them run inline (a /proc file or
/// two, microseconds) or as tasks (long, cancellable).
public enum MethodRegistry {
    public static func table(config: ServerConfig, openRPC: JSON) -> MethodTable<CallContext> {
        var table = MethodTable<CallContext>()
        table.inline(DiscoverMethod.self) { _, _ in openRPC }
        let sim = SimMethods.register(into: &table, config: config)
        // meminfo with source "sim" waits for its machine: a task, never inline on the event loop.
        table.async(MeminfoMethod.self) { params, context in
            switch params.target.source {
            case .proc: return try ProcMethods.meminfo()
            case .sim: return try await SimMethods.meminfo(params.target, registry: sim, context: context)
            }
        }
        table.async(MapsMethod.self) { params, context in
            switch params.target.source {
            case .proc: return try ProcMethods.maps(pid: params.pid, detail: params.detail, peer: context.peer)
            case .sim:
                return try await SimMethods.maps(
                    pid: params.pid, detail: params.detail, target: params.target, registry: sim, context: context)
            }
        }
        table.async(PageStatsMethod.self) { params, context in
            guard params.target.source == .proc else {
                return try await SimMethods.pageStats(params, registry: sim, context: context)
            }
            if params.intervalMs > 0 { return try await ProcMethods.pageStats(sampling: params, peer: context.peer) }
            return try ProcMethods.pageStats(params, peer: context.peer)
        }
        ExperimentMethods.register(into: &table, config: config)
        return table
    }
}
