import JSONRPC
import MMU
import MemdMetrics
import NIOConcurrencyHelpers

/// A value handed to the waiting-work pool although its type is not `Sendable`: the machine's queue
/// guarantees one call at a time, so it is never used from two threads at once.
struct Handed<T>: @unchecked Sendable {
    let value: T
}

/// One simulated machine and the queue that serialises every call on it (`Machine` is not thread-safe).
final class SimMachine: Sendable {
    let id: String
    let uid: UInt32
    let physicalBytes: UInt64
    private let queue = MachineQueue()
    private let machine: Handed<Machine>
    /// The machine's figures as its last finished call left them: what `sim.list` shows, without
    /// waiting behind the calls queued on the machine.
    private let latest: NIOLockedValueBox<MachineSummary>

    init(id: String, uid: UInt32, machine: Machine) {
        self.id = id
        self.uid = uid
        self.machine = Handed(value: machine)
        self.physicalBytes = machine.config.physicalBytes
        self.latest = NIOLockedValueBox(machine.summary())
    }

    var summary: MachineSummary { latest.withLockedValue { $0 } }

    /// Runs `body` with the machine, after the calls queued before it, on the waiting-work pool (never
    /// the event loop or the cooperative pool). `body` gets a stop check: true once the call is
    /// cancelled. A panicked machine fails with its reason; the simulator's errors come out as
    /// ``SimError``s naming this machine; afterwards the machine gives back budget it no longer needs.
    func run<T: Sendable>(
        _ context: CallContext,
        allowPanicked: Bool = false,
        _ body: @escaping @Sendable (Machine, @escaping () -> Bool) throws -> T
    ) async throws -> T {
        try await queue.acquire()
        defer { queue.release() }
        let machine = self.machine
        let id = self.id
        let latest = self.latest
        return try await context.work.run { flag in
            let m = machine.value
            defer {
                m.settleBudget()
                let summary = m.summary()
                latest.withLockedValue { $0 = summary }
            }
            do {
                if m.isPanicked, !allowPanicked { _ = try m.meminfo() }  // throws the panic's reason
                return try body(m, { flag.isCancelled })
            } catch let error as MMUError {
                throw SimError(machine: id, error)
            }
        }
    }
}

/// The machines of every uid: ids `m1`, `m2`, … unique in the server; each visible only to the uid
/// that created it (to anyone else it does not exist: -32005).
final class SimRegistry: Sendable {
    struct State {
        var next = 1
        var machines: [String: SimMachine] = [:]
    }

    let limitPerUID: Int
    /// What every machine may take; `budget` is shared by all of them.
    let limits: MachineLimits
    private let state = NIOLockedValueBox(State())

    /// memd's own counters (`memd_sim_machines` on /metrics); nil: not kept.
    let health: HealthMetrics?

    init(limitPerUID: Int, limits: MachineLimits, health: HealthMetrics? = nil) {
        self.limitPerUID = limitPerUID
        self.limits = limits
        self.health = health
    }

    /// A new machine (booted on the waiting-work pool: a 64 GiB machine's kernel tables take a moment).
    func create(uid: UInt32, config: MachineConfig, context: CallContext) async throws -> SimMachine {
        // Check the limit before building the machine (boot costs a little), and again to insert.
        let count = state.withLockedValue { s in s.machines.values.filter { $0.uid == uid }.count }
        if count >= limitPerUID {
            throw RPCError.resourceLimit("machinesPerUID", limit: limitPerUID, requested: count + 1)
        }
        let limits = self.limits
        let machine = try await context.work.run { _ in
            do {
                return Handed(value: try Machine(config: config, limits: limits))
            } catch let error as MMUError {
                throw SimError(machine: nil, error)
            }
        }
        return try state.withLockedValue { s throws -> SimMachine in
            let count = s.machines.values.filter { $0.uid == uid }.count
            if count >= limitPerUID {
                throw RPCError.resourceLimit("machinesPerUID", limit: limitPerUID, requested: count + 1)
            }
            let id = "m\(s.next)"
            s.next += 1
            let sim = SimMachine(id: id, uid: uid, machine: machine.value)
            s.machines[id] = sim
            health?.machineCreated()
            return sim
        }
    }

    func lookup(_ id: String, uid: UInt32) throws -> SimMachine {
        guard let sim = state.withLockedValue({ $0.machines[id] }), sim.uid == uid else {
            throw RPCError.simNotFound("simulated machine \"\(id)\" does not exist", data: ["machine": .string(id)])
        }
        return sim
    }

    /// Forgets the machine; its memory (and budget) goes when the last call on it ends.
    func destroy(_ id: String, uid: UInt32) throws {
        _ = try lookup(id, uid: uid)
        if state.withLockedValue({ $0.machines.removeValue(forKey: id) }) != nil { health?.machineDestroyed() }
    }

    /// The caller's machines in creation order.
    func list(uid: UInt32) -> [SimMachine] {
        state.withLockedValue { s in s.machines.values.filter { $0.uid == uid } }
            .sorted { (Int($0.id.dropFirst()) ?? 0) < (Int($1.id.dropFirst()) ?? 0) }
    }
}
