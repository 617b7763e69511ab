import JSONRPC
import MMU
import NIOConcurrencyHelpers

/// One simulated machine and the lock that serialises every call on it (`Machine` is not thread-safe).
final class SimMachine: @unchecked Sendable {
    let id: String
    let uid: UInt32
    private let lock = NIOLock()
    private let machine: Machine

    init(id: String, uid: UInt32, machine: Machine) {
        self.id = id
        self.uid = uid
        self.machine = machine
    }

    /// Runs `body` with the machine held; a panicked machine answers -32004 with its reason, the
    /// simulator's errors become JSON-RPC errors.
    func with<T>(allowPanicked: Bool = false, _ body: (Machine) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        do {
            if machine.isPanicked, !allowPanicked { _ = try machine.meminfo() }  // throws the panic's reason
            return try body(machine)
        } catch let error as MMUError {
            throw SimMethods.wire(error, machine: id)
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
    private let state = NIOLockedValueBox(State())

    init(limitPerUID: Int) { self.limitPerUID = limitPerUID }

    func create(uid: UInt32, config: MachineConfig) throws -> SimMachine {
        // Check the limit before building the machine (boot costs a little), and again to insert.
        let count = state.withLockedValue { s in s.machines.values.filter { $0.uid == uid }.count }
        if count >= limitPerUID {
            throw RPCError.resourceLimit("machinesPerUID", limit: limitPerUID, requested: count + 1)
        }
        let machine: Machine
        do {
            machine = try Machine(config: config)
        } catch {
            throw SimMethods.wire(error, machine: nil)
        }
        return try state.withLockedValue { s throws -> SimMachine in
            let count = s.machines.values.filter { $0.uid == uid }.count
            if count >= limitPerUID {
                throw RPCError.resourceLimit("machinesPerUID", limit: limitPerUID, requested: count + 1)
            }
            let id = "m\(s.next)"
            s.next += 1
            let sim = SimMachine(id: id, uid: uid, machine: machine)
            s.machines[id] = sim
            return sim
        }
    }

    func lookup(_ id: String, uid: UInt32) throws -> SimMachine {
        guard let sim = state.withLockedValue({ $0.machines[id] }), sim.uid == uid else {
            throw RPCError.simNotFound("simulated machine \"\(id)\" does not exist", data: ["machine": .string(id)])
        }
        return sim
    }

    func destroy(_ id: String, uid: UInt32) throws {
        _ = try lookup(id, uid: uid)
        state.withLockedValue { _ = $0.machines.removeValue(forKey: id) }
    }

    /// The caller's machines in creation order.
    func list(uid: UInt32) -> [SimMachine] {
        state.withLockedValue { s in s.machines.values.filter { $0.uid == uid } }
            .sorted { (Int($0.id.dropFirst()) ?? 0) < (Int($1.id.dropFirst()) ?? 0) }
    }
}
