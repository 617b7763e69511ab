import JSONRPC
import MemdProtocol
import ProcFS

/// `pageFlags`: every present page of a process's mappings counted by its frame's flags
/// (/proc/kpageflags, with page-types' default masking) and map count (/proc/kpagecount).
/// Reading follows `maps`' rule (``Access``); the frame files are root's alone, so a memd that is
/// not root answers -32004. No frame number leaves ``ProcFS/ProcessFiles/scanPageFlags(range:perMapping:frames:isCancelled:)``.
enum PageFlagsMethods {
    static func register(into table: inout MethodTable<CallContext>) {
        table.async(PageFlagsMethod.self) { params, context in
            let peer = context.peer
            return try await context.work.run { flag in try scan(params, peer: peer, flag: flag) }
        }
    }

    static func scan(
        _ params: PageFlagsMethod.Params,
        peer: PeerCredentials,
        flag: CancelFlag
    ) throws
        -> PageFlagsMethod.Result
    {
        let frames = try openFrames()
        do {
            let scan = try Access.read(pid: params.pid, peer: peer) { files throws(ProcError) in
                try files.scanPageFlags(
                    range: params.range,
                    perMapping: params.mappings,
                    frames: frames,
                    isCancelled: { flag.isCancelled }
                )
            }
            return PageFlagsMethod.Result(pid: params.pid, scan: scan, perMapping: params.mappings)
        } catch {
            if flag.isCancelled { throw CancellationError() }
            throw error
        }
    }

    /// The frame files, or -32004 when memd cannot read them (it is not root).
    static func openFrames() throws(RPCError) -> FrameReader {
        do {
            return try FrameReader()
        } catch {
            throw .unsupported(
                "memd cannot read /proc/kpageflags and /proc/kpagecount (\(error)): they are root's alone, "
                    + "and memd does not run as root"
            )
        }
    }
}
