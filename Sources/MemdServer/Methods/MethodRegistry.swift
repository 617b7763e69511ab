import JSONRPC
import MemdProtocol

/// Every method memd answers, and which of them run inline (a /proc file or
/// two, microseconds) or as tasks (long, cancellable).
public enum MethodRegistry {
    public static func table(config: ServerConfig, openRPC: JSON) -> MethodTable<CallContext> {
        var table = MethodTable<CallContext>()
        table.inline(DiscoverMethod.self) { _, _ in openRPC }
        table.inline(MeminfoMethod.self) { params, _ in
            switch params.target.source {
            case .proc: return try ProcMethods.meminfo()
            case .sim: throw SimUnavailable.error
            }
        }
        table.async(MapsMethod.self) { params, context in
            switch params.target.source {
            case .proc: return try ProcMethods.maps(pid: params.pid, detail: params.detail, peer: context.peer)
            case .sim: throw SimUnavailable.error
            }
        }
        table.async(PageStatsMethod.self) { params, context in
            guard params.target.source == .proc else { throw SimUnavailable.error }
            if params.intervalMs > 0 { return try await ProcMethods.pageStats(sampling: params, peer: context.peer) }
            return try ProcMethods.pageStats(params, peer: context.peer)
        }
        ExperimentMethods.register(into: &table, config: config)
        return table
    }
}

enum SimUnavailable {
    static let error = RPCError.unsupported("the simulator (source \"sim\") is not available in this build yet")
}
