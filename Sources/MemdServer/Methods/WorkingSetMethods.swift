import JSONRPC
import MemdProtocol
import ProcFS

/// `workingSet` and `workingSet.stop`: per interval, the process's bits cleared through
/// /proc/PID/clear_refs, the interval given to it, then the pages it touched (smaps'
/// `Referenced:`) or wrote (pagemap's soft-dirty bit) counted; each sample sent as
/// `workingSet.sample` when taken, all of them in the response.
///
/// Rights: reading follows `maps`' rule (``Access``); clearing the bits is a write, allowed only
/// when the client could write clear_refs itself (``ProcFS/ProcessFiles/clearRefs(_:)`` checks the
/// owner on the descriptor it writes through). One measurement per process at a time, at most
/// four calls per uid other than root (``WorkingSetRegistry``).
enum WorkingSetMethods {
    static func register(into table: inout MethodTable<CallContext>) {
        let registry = WorkingSetRegistry()
        // Found out once, at start, on memd's own pages.
        let softDirty = SoftDirty.isTracked()
        table.async(WorkingSetMethod.self) { params, context in
            try await run(params, context: context, registry: registry, softDirty: softDirty)
        }
        table.inline(WorkingSetStopMethod.self) { params, context in
            WorkingSetStopMethod.Result(stopped: registry.stop(context.peer, id: params.id))
        }
    }

    static let noSoftDirty =
        "this kernel does not track soft-dirty bits (CONFIG_MEM_SOFT_DIRTY is not set: bit 55 of "
        + "/proc/PID/pagemap never shows a write), so kind \"written\" cannot be measured; kind "
        + "\"referenced\" can"

    static func run(
        _ params: WorkingSetMethod.Params,
        context: CallContext,
        registry: WorkingSetRegistry,
        softDirty: Bool
    ) async throws -> WorkingSetMethod.Result {
        if params.kind == .written, !softDirty { throw RPCError.unsupported(noSoftDirty) }
        let clock = ContinuousClock()
        let start = clock.now
        let (pid, peer) = (params.pid, context.peer)
        let target = try await context.work.run { _ in try WorkingSetTarget(pid: pid, peer: peer) }
        let stop = try registry.start(peer, id: context.requestID)
        defer { registry.end(peer, id: context.requestID) }
        try await registry.acquire(pid)
        defer { registry.release(pid) }

        var samples: [WorkingSetMethod.Sample] = []
        var endedBy = WorkingSetMethod.EndedBy.count
        for seq in 0..<params.count {
            try Task.checkCancellation()
            if stop.isStopped {
                endedBy = .stop
                break
            }
            let clear = { @Sendable (target: WorkingSetTarget) throws(ProcError) in
                try target.clear(params.kind, clock: clock)
            }
            guard let cleared = try await target.step(context.work, clear) else {
                endedBy = .exit
                break
            }
            await stop.sleep(until: cleared + .milliseconds(params.intervalMs))
            try Task.checkCancellation()
            if stop.isStopped {
                endedBy = .stop
                break
            }
            let read = try await target.step(context.work) { (target) throws(ProcError) in
                try target.read(params.kind, perMapping: params.mappings)
            }
            guard let figures = read, figures.mappingCount > 0 else {
                endedBy = .exit
                break
            }
            let now = clock.now
            let sample = WorkingSetMethod.Sample(
                seq: seq,
                elapsedMs: WatchMethods.milliseconds(now - start),
                intervalMs: WatchMethods.milliseconds(now - cleared),
                kind: params.kind,
                figures: figures
            )
            samples.append(sample)
            // A client that is not reading misses the notification, not the sample: it is in the result.
            if context.canSend {
                var notification: JSONObject = ["requestId": context.requestID]
                notification.members.append(contentsOf: sample.members.members)
                context.notify(WorkingSetMethod.sampleNotification, .object(notification))
            }
        }
        return WorkingSetMethod.Result(pid: pid, kind: params.kind, samples: samples, endedBy: endedBy)
    }
}

/// The process a `workingSet` measures, its /proc files opened once for the client (the /proc/PID
/// descriptor pins the process: a pid reused after it exits is never reached). Used by one call,
/// one step at a time on a `WaitingWork` thread, hence `@unchecked Sendable`.
final class WorkingSetTarget: @unchecked Sendable {
    let pid: Int32
    let peer: PeerCredentials
    private var files: ProcessFiles

    init(pid: Int32, peer: PeerCredentials) throws(ProcessReadError) {
        (self.pid, self.peer) = (pid, peer)
        files = try Access.open(pid: pid, peer: peer, capacity: 256 * 1024)
    }

    /// Runs one step where waiting is allowed; nil when the process has exited.
    func step<T: Sendable>(
        _ work: WaitingWork,
        _ body: @escaping @Sendable (WorkingSetTarget) throws(ProcError) -> T
    ) async throws -> T? {
        try await work.run { _ in
            do throws(ProcError) {
                return try body(self)
            } catch .notFound {
                return nil
            } catch .permissionDenied(let path) where path.hasSuffix("/clear_refs") {
                throw self.writeRefused()
            } catch {
                throw ProcessReadError(pid: self.pid, peer: self.peer, error)
            }
        }
    }

    /// Clears the bits; the instant they were cleared.
    func clear(_ kind: WorkingSetKind, clock: ContinuousClock) throws(ProcError) -> ContinuousClock.Instant {
        try files.clearRefs(kind)
        return clock.now
    }

    func read(_ kind: WorkingSetKind, perMapping: Bool) throws(ProcError) -> WorkingSetFigures {
        try files.workingSet(kind, perMapping: perMapping)
    }

    /// -32002 with the reason: clear_refs belongs to someone else, or to root because the process is
    /// not dumpable (then the client's own process included: the kernel would refuse it too).
    func writeRefused() -> RPCError {
        let owner = try? processOwner(pid: pid)
        let reason =
            owner == peer.uid
            ? "process \(pid) is not dumpable (a setuid program, or it changed its credentials), so the kernel "
                + "makes its clear_refs root's: uid \(peer.uid) could not clear its bits either"
            : "process \(pid) belongs to uid \(owner.map(String.init) ?? "?"), not to you (uid \(peer.uid)): "
                + "clearing its page bits (/proc/\(pid)/clear_refs) is its owner's or root's"
        return .permissionDenied(pid: Int(pid), reason: reason)
    }
}
