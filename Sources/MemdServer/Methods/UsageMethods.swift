import JSONRPC
import MemdMetrics
import MemdProtocol
import ProcFS
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What `usage` and `cgroups` share: the memory cgroup hierarchy (resolved once, at
/// start), and how many reads of processes run at once. The blocking reads run on
/// `WaitingWork`, so that neither an event loop nor Swift's cooperative pool waits on
/// a process's mmap lock.
public struct Attribution: Sendable {
    /// The memory cgroup hierarchy: `--cgroup-root`, else the host's; nil when none.
    public let hierarchy: CgroupHierarchy?
    let threads: Int

    public init(config: ServerConfig) {
        if let root = config.cgroupRoot, case .success(let tree) = CgroupHierarchy.inspect(root) {
            hierarchy = tree
        } else {
            hierarchy = config.cgroupRoot == nil ? CgroupHierarchy.detect() : nil
        }
        threads = max(1, min(config.usageThreads, config.waitingThreads))
    }

    /// Why `directory` cannot be memd's `--cgroup-root`, or nil when it is a memory cgroup tree.
    public static func problem(cgroupRoot directory: String) -> String? {
        if case .failure(let why) = CgroupHierarchy.inspect(directory) { return why.message }
        return nil
    }

}

/// One process as `usage` read it.
struct UsageProcess: Sendable {
    var pid: Int32
    var uid: UInt32
    var command: String
    var cgroup: String?
    var cmdline: String?
    var memory: ProcessMemory
}

/// What reading one process gave.
enum UsageSample: Sendable {
    case counted(UsageProcess)
    /// Not this client's, or no memory of its own (a kernel thread, a zombie): not counted.
    case hidden
    /// Gone while being read: `skipped.exited`.
    case exited
    /// The kernel refused a read: `skipped.denied`.
    case denied
}

/// `usage`: smem for the host, from /proc/PID/smaps_rollup + /proc/PID/status.
enum UsageMethods {
    /// Registers `usage` and `cgroups`.
    static func register(into table: inout MethodTable<CallContext>, attribution: Attribution) {
        table.async(UsageMethod.self) { params, context in
            try await usage(params, peer: context.peer, attribution: attribution, work: context.work)
        }
        table.async(CgroupsMethod.self) { params, context in
            try await CgroupMethods.cgroups(params, attribution: attribution, work: context.work)
        }
    }

    /// What `readProcess` reads beside smaps_rollup and the owner.
    struct ReadOptions: Sendable {
        /// The name (comm), for rows by process or by command; else "".
        var command = true
        /// The v1 controller or nil (v2's `0::` line) for /proc/PID/cgroup; nil: not read.
        var cgroupController: String??
        var cmdline: Bool
        /// The cgroups' own lists: a process in them has its cgroup from there, not its own file.
        var members: CgroupMembers? = nil
    }

    /// Reads one process on `peer`'s behalf: the access rule, its name and owner,
    /// /proc/PID/smaps_rollup (fs/proc/task_mmu.c, which takes the mmap lock), and
    /// where asked /proc/PID/cgroup and /proc/PID/cmdline; verified once, after the last read.
    ///
    /// A pid /proc lists (`isListed`) is a thread-group leader: its name comes from comm and its
    /// owner from the directory, and it has no memory of its own (a kernel thread, a zombie) when
    /// smaps_rollup finds no mm. Any other pid may be a thread's (/proc/TID is readable but not
    /// listed): status says whose thread group it is, and whether it has memory.
    ///
    /// Every per-process read `usage` makes for a client goes through here, so that
    /// the reads can be made with the client's own rights in this one place.
    static func readProcess(
        _ pid: Int32,
        isListed: Bool,
        for peer: PeerCredentials,
        options: ReadOptions
    ) -> UsageSample {
        func sample(_ error: ProcError) -> UsageSample {
            switch error {
            case .notFound: return .exited
            // Another user's process is not the client's to see (the access rule, judged on the
            // descriptors by ProcessFiles); for root, a refusal is the kernel's.
            case .permissionDenied: return peer.isRoot ? .denied : .hidden
            case .io, .malformed: return .exited
            }
        }
        do {
            var files = try ProcessFiles(pid: pid, client: Access.client(peer), capacity: 4096)
            return try files.verifyingOnce { files throws(ProcError) in
                let (name, uid): (String, UInt32)
                if isListed {
                    (name, uid) = (options.command ? try files.command() : "", try files.effectiveUID())
                } else {
                    let identity = try files.identity()
                    // A thread's /proc/TID: count each process once.
                    guard identity.hasMemory, identity.tgid == pid else { return .hidden }
                    (name, uid) = (identity.name, identity.effectiveUID)
                }
                let memory: ProcessMemory
                do throws(ProcError) {
                    memory = try files.processMemory()
                } catch {
                    // ESRCH: no mm (smaps_rollup's show), or gone since; still there, it has no memory.
                    guard case .notFound = error, isListed else { throw error }
                    try files.verify()
                    return .hidden
                }
                var process = UsageProcess(pid: pid, uid: uid, command: name, cgroup: nil, cmdline: nil, memory: memory)
                if case .some(let controller) = options.cgroupController {
                    if let listed = options.members?[pid] {
                        process.cgroup = listed
                    } else {
                        process.cgroup = try files.cgroup(controller: controller)
                    }
                }
                if options.cmdline { process.cmdline = try files.commandLine() }
                return .counted(process)
            }
        } catch {
            return sample(error)
        }
    }

    struct Collected: Sendable {
        var processes: [UsageProcess] = []
        var exited = 0
        var denied = 0
    }

    /// Reads `pids` in parallel on `attribution.threads` threads of `work`, each taking the next
    /// pid; `listed`: the pids /proc lists (thread-group leaders).
    static func collect(
        _ pids: [Int32],
        listed: Set<Int32>,
        peer: PeerCredentials,
        options: ReadOptions,
        attribution: Attribution,
        work: WaitingWork
    ) async throws -> Collected {
        let next = Counter()
        let workers = min(attribution.threads, max(1, pids.count / 8))
        let parts = try await work.parallel(workers: workers) { _, flag in
            var part = Collected()
            while !flag.isCancelled {
                let index = next.take()
                guard index < pids.count else { break }
                let pid = pids[index]
                switch readProcess(pid, isListed: listed.contains(pid), for: peer, options: options) {
                case .counted(let process): part.processes.append(process)
                case .hidden: break
                case .exited: part.exited += 1
                case .denied: part.denied += 1
                }
            }
            return part
        }
        var all = Collected()
        for part in parts {
            all.processes += part.processes
            all.exited += part.exited
            all.denied += part.denied
        }
        return all
    }

    static func usage(
        _ params: UsageMethod.Params,
        peer: PeerCredentials,
        attribution: Attribution,
        work: WaitingWork
    )
        async throws -> UsageMethod.Result
    {
        let clock = ContinuousClock()
        let start = clock.now
        if params.by == .cgroup, attribution.hierarchy == nil {
            throw RPCError.unsupported(
                "no memory cgroup hierarchy on this host (v1 memory mount or cgroup2 with memory)"
            )
        }
        let listed: [Int32]
        do {
            listed = try processIDs()
        } catch {
            throw HostReadError(error)
        }
        let pids = params.pids.map { Array(Set($0)).sorted() } ?? listed
        var options = ReadOptions(
            command: params.by == .process || params.by == .command,
            cgroupController: attribution.hierarchy.map { $0.membershipController },
            cmdline: params.cmdline
        )
        let listedSet = Set(listed)
        // The whole host: each cgroup's list, not each process's file (within the uid's share).
        let walk =
            params.pids == nil
            ? try await work.run { _ in CgroupWalk(attribution.hierarchy, processes: listed.count) } : nil
        options.members = walk?.members
        var collected = try await collect(
            pids,
            listed: listedSet,
            peer: peer,
            options: options,
            attribution: attribution,
            work: work
        )
        if let walk {
            // A pid allocated since the walk began may be another process than the one listed there.
            let isAllocated = walk.allocatedSince()
            let suspects = collected.processes.filter { walk.members[$0.pid] != nil && isAllocated($0.pid) }.map(\.pid)
            if !suspects.isEmpty {
                options.members = nil
                let again = try await collect(
                    suspects,
                    listed: listedSet,
                    peer: peer,
                    options: options,
                    attribution: attribution,
                    work: work
                )
                let replaced = Set(suspects)
                collected.processes.removeAll { replaced.contains($0.pid) }
                collected.processes += again.processes
                collected.exited += again.exited
                collected.denied += again.denied
            }
        }
        var rows = UsageRow.group(collected.processes, by: params.by)
        UsageRow.sort(&rows, by: params.sort)
        var totals = UsageRow(count: 0)
        for row in rows { totals.add(row) }
        if let limit = params.limit, rows.count > limit { rows.removeLast(rows.count - limit) }
        var names = UserNames()
        let sums = UsageMethod.Totals(
            count: totals.count,
            rss: totals.memory.rss,
            pss: totals.memory.pss,
            uss: totals.memory.uss,
            swap: params.swap ? totals.memory.swap : nil
        )
        return UsageMethod.Result(
            by: params.by,
            rows: rows.map { $0.row(by: params.by, swap: params.swap, names: &names) },
            totals: sums,
            skipped: (collected.exited, collected.denied),
            durationMs: (clock.now - start).seconds * 1000
        )
    }
}

/// The cgroups' own lists of their processes (``CgroupMembers``) for a `usage` of the whole host,
/// and the last pid allocated before they were read: a process with a pid allocated since may have
/// taken the pid of one the lists named, so its own file is read instead.
struct CgroupWalk: Sendable {
    let members: CgroupMembers
    let lastPID: Int32

    /// nil without a hierarchy, when /proc is not memd's pid namespace (neither the lists' pids nor
    /// the last pid would be /proc's), or when ``CgroupReader/members(ownPath:ownPID:maxCgroups:)``
    /// finds no map. Worth it with at least two processes for each cgroup.
    init?(_ hierarchy: CgroupHierarchy?, processes: Int) {
        guard let hierarchy, LastPID.isOwnNamespace() else { return nil }
        var reader = ProcReader(capacity: 4096)
        guard let lastPID = try? reader.lastPID(),
            let own = try? reader.ownCgroup(controller: hierarchy.membershipController)
        else { return nil }
        var cgroups = CgroupReader(hierarchy)
        guard let members = cgroups.members(ownPath: own, ownPID: getpid(), maxCgroups: processes / 2) else {
            return nil
        }
        (self.members, self.lastPID) = (members, lastPID)
    }

    /// Whether a pid was allocated since the walk began: the pids after its last pid, up to the last
    /// one now (cyclic: pids wrap at pid_max); every pid when that cannot be read. A whole cycle of
    /// pid_max (32,768 or more) allocations during one call would go unseen.
    func allocatedSince() -> (Int32) -> Bool {
        var reader = ProcReader(capacity: 4096)
        guard let now = try? reader.lastPID() else { return { _ in true } }
        let before = lastPID
        if now == before { return { _ in false } }
        if now > before { return { $0 > before && $0 <= now } }
        return { $0 > before || $0 <= now }
    }
}

/// A shared "next index" for the workers of one call.
final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    func take() -> Int { value.wrappingAdd(1, ordering: .relaxed).oldValue }
}

/// One row of `usage`: a process, or the sum over a user's, a command's or a cgroup's.
struct UsageRow: Sendable {
    var pid: Int32?
    var uid: UInt32?
    var command: String?
    var cgroup: String?
    var cmdline: String?
    var count: Int
    var memory = ProcessMemory()

    mutating func add(_ other: UsageRow) {
        count += other.count
        memory.rss += other.memory.rss
        memory.pss += other.memory.pss
        memory.pssAnon += other.memory.pssAnon
        memory.pssFile += other.memory.pssFile
        memory.pssShmem += other.memory.pssShmem
        memory.privateClean += other.memory.privateClean
        memory.privateDirty += other.memory.privateDirty
        memory.swap += other.memory.swap
        memory.swapPss += other.memory.swapPss
    }

    static func group(_ processes: [UsageProcess], by grouping: UsageGrouping) -> [UsageRow] {
        func row(_ p: UsageProcess) -> UsageRow {
            UsageRow(
                pid: p.pid,
                uid: p.uid,
                command: p.command,
                cgroup: p.cgroup,
                cmdline: p.cmdline,
                count: 1,
                memory: p.memory
            )
        }
        switch grouping {
        case .process:
            return processes.map(row)
        case .user:
            return merge(processes) {
                UsageRow(uid: $0.uid, count: 0)
            } key: {
                String($0.uid)
            }
        case .command:
            return merge(processes) {
                UsageRow(command: $0.command, count: 0)
            } key: {
                $0.command
            }
        case .cgroup:
            return merge(processes) {
                UsageRow(cgroup: $0.cgroup, count: 0)
            } key: {
                $0.cgroup ?? ""
            }
        }
    }

    static func merge(
        _ processes: [UsageProcess],
        make: (UsageProcess) -> UsageRow,
        key: (UsageProcess) -> String
    ) -> [UsageRow] {
        var index: [String: Int] = [:]
        var rows: [UsageRow] = []
        for process in processes {
            let k = key(process)
            let position: Int
            if let existing = index[k] {
                position = existing
            } else {
                position = rows.count
                index[k] = position
                rows.append(make(process))
            }
            rows[position].add(
                UsageRow(count: 1, memory: process.memory)
            )
        }
        return rows
    }

    /// Descending by `field`; ties by pid, uid or name, ascending.
    static func sort(_ rows: inout [UsageRow], by field: UsageSortField) {
        func number(_ row: UsageRow) -> Int? {
            switch field {
            case .pid: return row.pid.map { Int($0) }
            case .uid: return row.uid.map { Int($0) }
            case .count: return row.count
            case .rss: return row.memory.rss
            case .pss: return row.memory.pss
            case .uss: return row.memory.uss
            case .swap: return row.memory.swap
            case .swapPss: return row.memory.swapPss
            case .pssAnon: return row.memory.pssAnon
            case .pssFile: return row.memory.pssFile
            case .pssShmem: return row.memory.pssShmem
            case .user, .command, .cgroup: return nil
            }
        }
        func text(_ row: UsageRow) -> String {
            switch field {
            case .user: return row.uid.map { UserNames.lookup($0) } ?? ""
            case .command: return row.command ?? ""
            case .cgroup: return row.cgroup ?? ""
            default: return ""
            }
        }
        func tieKey(_ row: UsageRow) -> (Int, String) {
            (Int(row.pid ?? 0), row.command ?? row.cgroup ?? row.uid.map { String($0) } ?? "")
        }
        if field == .user || field == .command || field == .cgroup {
            let keyed = rows.map { (text($0), $0) }
            rows = keyed.sorted { a, b in
                a.0 != b.0 ? a.0 > b.0 : tieKey(a.1) < tieKey(b.1)
            }.map(\.1)
        } else {
            rows.sort { a, b in
                let (x, y) = (number(a) ?? 0, number(b) ?? 0)
                return x != y ? x > y : tieKey(a) < tieKey(b)
            }
        }
    }

    /// The row on the wire: the members grouping `by` names, swap's with `swap`.
    func row(by grouping: UsageGrouping, swap: Bool, names: inout UserNames) -> UsageMethod.Row {
        var row = UsageMethod.Row(
            count: count,
            rss: memory.rss,
            pss: memory.pss,
            uss: memory.uss,
            pssAnon: memory.pssAnon,
            pssFile: memory.pssFile,
            pssShmem: memory.pssShmem
        )
        row.pid = pid
        if let uid { (row.user, row.uid) = (names.name(uid), uid) }
        if grouping == .process || grouping == .command { row.command = command ?? "" }
        if grouping == .process || grouping == .cgroup { row.cgroup = .some(cgroup) }
        row.cmdline = cmdline
        if swap { (row.swap, row.swapPss) = (memory.swap, memory.swapPss) }
        return row
    }
}

/// `usage` by user for the whole host, as root and in turn on the calling thread: the per-user
/// sums of `/metrics` with `--metrics-usage` (read by the same `readProcess`).
public enum HostUsage {
    public static func byUser() -> [UserMemory] {
        let root = PeerCredentials(pid: 0, uid: 0, gid: 0)
        var sums: [UInt32: UserMemory] = [:]
        var names = UserNames()
        let options = UsageMethods.ReadOptions(command: false, cgroupController: nil, cmdline: false)
        for pid in (try? processIDs()) ?? [] {
            let sample = UsageMethods.readProcess(pid, isListed: true, for: root, options: options)
            guard case .counted(let process) = sample else { continue }
            var sum = sums[process.uid] ?? UserMemory(user: names.name(process.uid))
            sum.pss += process.memory.pss
            sum.uss += process.memory.uss
            sum.rss += process.memory.rss
            sum.swap += process.memory.swap
            sums[process.uid] = sum
        }
        return Array(sums.values)
    }
}

/// User names from the password database (getpwuid_r), or the uid as a string.
struct UserNames {
    private var cache: [UInt32: String] = [:]

    mutating func name(_ uid: UInt32) -> String {
        if let name = cache[uid] { return name }
        let name = Self.lookup(uid)
        cache[uid] = name
        return name
    }

    static func lookup(_ uid: UInt32) -> String {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        let rc = getpwuid_r(uid, &entry, &buffer, buffer.count, &result)
        guard rc == 0, result != nil, let name = entry.pw_name else { return String(uid) }
        return String(cString: name)
    }
}
