import JSONRPC
import ProcFS
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A memory cgroup made for one `oom` experiment, so that the OOM killer it wakes
/// is the cgroup's (mm/memcontrol.c, mem_cgroup_out_of_memory) and never the host's.
///
/// cgroup v2 where a writable cgroup2 hierarchy has the memory controller
/// (memory.max, memory.swap.max, memory.events `oom_kill`), else v1
/// (memory.limit_in_bytes, memory.memsw.limit_in_bytes, memory.oom_control
/// `oom_kill`). Made below memd's own cgroup where it may, else at the top.
struct MemoryCgroup {
    enum Version: String { case v1, v2 }

    let version: Version
    let path: String
    let limitBytes: Int
    private(set) var isRemoved = false

    private static let counter = Mutex(0)

    /// Creates and limits the cgroup, or throws -32004 with why none can be made.
    init(limitBytes: Int) throws(ExperimentError) {
        self.limitBytes = limitBytes
        func text(_ path: String) -> String? {
            var proc = ProcReader()
            return try? proc.text(path)
        }
        let mounts = text("/proc/self/mountinfo") ?? ""
        let membership = text("/proc/self/cgroup") ?? ""
        let serial = Self.counter.withLock { count in
            count += 1
            return count
        }
        // memd.<pid>.…: an earlier memd's leftovers are swept at start (Leftovers).
        let name = "\(Leftovers.prefix)oom-\(serial)"
        var reasons: [String] = []

        // v2: a cgroup2 mount whose own cgroup, or top, delegates memory.
        for mount in Self.mountPoints(mounts, type: "cgroup2", option: nil) {
            let own = Self.ownPath(membership, controller: nil)
            for parent in Self.candidates(mount: mount, own: own) {
                let controllers = text(parent + "/cgroup.subtree_control") ?? ""
                if !controllers.split(whereSeparator: { $0 == " " || $0 == "\n" }).contains("memory") {
                    // The top may delegate it on request; an inner cgroup with processes may not.
                    guard Self.write("+memory", to: parent + "/cgroup.subtree_control") == 0 else {
                        reasons.append("\(parent): the memory controller is not enabled for its children")
                        continue
                    }
                }
                let dir = parent + "/" + name
                // No swap to escape to.
                guard
                    Self.create(
                        dir,
                        limit: ("memory.max", String(limitBytes)),
                        swap: ("memory.swap.max", "0"),
                        reasons: &reasons
                    )
                else { continue }
                version = .v2
                path = dir
                return
            }
        }
        // v1: the memory hierarchy.
        for mount in Self.mountPoints(mounts, type: "cgroup", option: "memory") {
            let own = Self.ownPath(membership, controller: "memory")
            for parent in Self.candidates(mount: mount, own: own) {
                let dir = parent + "/" + name
                // Memory + swap at the same limit: no swap to escape to (absent without swap accounting).
                guard
                    Self.create(
                        dir,
                        limit: ("memory.limit_in_bytes", String(limitBytes)),
                        swap: ("memory.memsw.limit_in_bytes", String(limitBytes)),
                        reasons: &reasons
                    )
                else { continue }
                version = .v1
                path = dir
                return
            }
        }
        if reasons.isEmpty { reasons.append("no cgroup hierarchy with the memory controller is mounted") }
        throw .unsupported("no memory cgroup can be made for the oom experiment: " + reasons.joined(separator: "; "))
    }

    /// Puts a process in the cgroup (before it allocates).
    func attach(_ pid: Int32) throws(ExperimentError) {
        let rc = Self.write(String(pid), to: path + "/cgroup.procs")
        guard rc == 0 else {
            throw .internalError("cannot move process \(pid) into \(path): \(String(cString: strerror(rc)))")
        }
    }

    /// The cgroup's oom-kill count: `oom_kill` of memory.events (v2) or memory.oom_control (v1).
    func oomKills() throws(ExperimentError) -> Int {
        var proc = ProcReader()
        let file = path + (version == .v2 ? "/memory.events" : "/memory.oom_control")
        guard let text = try? proc.text(file) else { throw .internalError("cannot read \(file)") }
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ")
            if words.count == 2, words[0] == "oom_kill", let count = Int(words[1]) { return count }
        }
        throw .unsupported("\(file) has no oom_kill count on this kernel")
    }

    /// Removes the cgroup (its processes must be reaped first): `unlinkat(AT_REMOVEDIR)`
    /// on a descriptor of its parent.
    mutating func remove() {
        guard !isRemoved, let slash = path.lastIndex(of: "/") else { return }
        let parent = open(String(path[..<slash]), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard parent >= 0 else { return }
        defer { close(parent) }
        isRemoved = unlinkat(parent, String(path[path.index(after: slash)...]), AT_REMOVEDIR) == 0 || errno == ENOENT
    }

    /// Every directory where memd makes its cgroups (memd's own cgroup, the top of each
    /// hierarchy with the memory controller): where an earlier memd's leftovers are.
    static func parents() -> [String] {
        var proc = ProcReader()
        let mounts = (try? proc.text("/proc/self/mountinfo")) ?? ""
        let membership = (try? proc.text("/proc/self/cgroup")) ?? ""
        var out: [String] = []
        for mount in mountPoints(mounts, type: "cgroup2", option: nil) {
            out += candidates(mount: mount, own: ownPath(membership, controller: nil))
        }
        for mount in mountPoints(mounts, type: "cgroup", option: "memory") {
            out += candidates(mount: mount, own: ownPath(membership, controller: "memory"))
        }
        var seen = Set<String>()
        return out.filter { seen.insert($0).inserted }
    }

    /// Writes `text` to a control file; 0 or the errno.
    /// Makes the cgroup `dir` with its memory limit (and, where the file exists, its swap limit);
    /// on failure records why in `reasons` and leaves nothing behind.
    static func create(
        _ dir: String,
        limit: (file: String, value: String),
        swap: (file: String, value: String),
        reasons: inout [String]
    ) -> Bool {
        guard mkdir(dir, 0o755) == 0 else {
            reasons.append("\(dir): \(String(cString: strerror(errno)))")
            return false
        }
        guard write(limit.value, to: dir + "/" + limit.file) == 0 else {
            rmdir(dir)
            reasons.append("\(dir)/\(limit.file) not writable")
            return false
        }
        _ = write(swap.value, to: dir + "/" + swap.file)
        return true
    }

    static func write(_ text: String, to file: String) -> Int32 {
        let fd = open(file, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        return n == bytes.count ? 0 : (n < 0 ? errno : EIO)
    }

    /// Mount points (field 5 of mountinfo) of filesystems of `type`, with `option` among
    /// the super options where given.
    static func mountPoints(_ mountinfo: String, type: String, option: String?) -> [String] {
        mountinfo.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard let dash = fields.firstIndex(of: "-"), dash + 3 < fields.count + 1, fields.count > dash + 1,
                fields[dash + 1] == type
            else { return nil }
            if let option {
                guard fields.count > dash + 3,
                    fields[dash + 3].split(separator: ",").contains(Substring(option))
                else { return nil }
            }
            return String(fields[4])
        }
    }

    /// memd's own cgroup path in a hierarchy: `0::/path` (v2) or `N:memory:/path` (v1).
    static func ownPath(_ membership: String, controller: String?) -> String {
        for line in membership.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            if let controller {
                if parts[1].split(separator: ",").contains(Substring(controller)) { return String(parts[2]) }
            } else if parts[0] == "0" && parts[1].isEmpty {
                return String(parts[2])
            }
        }
        return "/"
    }

    /// Where to make the cgroup: below memd's own, then at the top of the mount.
    static func candidates(mount: String, own: String) -> [String] {
        let ownDir = own == "/" ? mount : mount + own
        return ownDir == mount ? [mount] : [ownDir, mount]
    }
}
