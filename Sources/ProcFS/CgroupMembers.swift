/// Which cgroup of a hierarchy each process is in, from every cgroup's own cgroup.procs: one read
/// per cgroup instead of /proc/PID/cgroup per process.
///
/// /proc/PID/cgroup (kernel/cgroup/cgroup.c, proc_cgroup_show) prints a line per hierarchy — ten
/// on a v1 host — under the css_set lock, for one line wanted: 12% of memd's CPU for `usage` of
/// the whole host. cgroup.procs lists the processes of one cgroup. The paths stand for exactly what
/// /proc/PID/cgroup would print, or the process is not in the map and its own file is read:
///
/// - /proc/PID/cgroup prints a path relative to the reader's cgroup namespace root
///   (cgroup_path_ns); the walk knows paths relative to the hierarchy's directory. Both meet at
///   memd's own process: its line of /proc/self/cgroup must end with its cgroup's path in the walk,
///   and what comes before (the prefix) is then the same for every cgroup below the walk's root.
///   When memd is not in the tree (a `--cgroup-root` elsewhere, a fixture), or its path leaves its
///   namespace (`/..`), there is no map.
/// - v1 lists the thread-group id of every *thread* in the cgroup (cgroup_pidlist_start), so a
///   process whose threads are in several cgroups is in several lists; /proc/PID/cgroup shows its
///   leader's. Such a pid is left out of the map. v2 lists leaders only, but a "domain threaded"
///   cgroup lists the processes of its threaded descendants (cgroup_procs_start): on a v2 tree with
///   a threaded cgroup there is no map.
/// - A name with a newline (the file's line end) is left out: its processes read their own file.
/// - The pids are those of the reader's pid namespace (memd's): the caller checks that /proc shows
///   the same one, and that no pid was reused between the walk and its reads (``LastPID``).
public struct CgroupMembers: Sendable {
    /// pid → the path /proc/PID/cgroup shows in this hierarchy.
    public let paths: [Int32: String]

    public subscript(pid: Int32) -> String? { paths[pid] }
}

extension CgroupReader {
    /// Every process of the hierarchy with its path as /proc/PID/cgroup shows it (see
    /// ``CgroupMembers``); nil when the walk's paths cannot be tied to the kernel's, or when the tree
    /// has more than `maxCgroups` cgroups (then a read per process costs less).
    ///
    /// `ownPath` is memd's own line of /proc/self/cgroup for this hierarchy, `ownPID` its pid.
    public mutating func members(ownPath: String, ownPID: Int32, maxCgroups: Int) -> CgroupMembers? {
        var lists: [(path: CgroupPath, pids: [Int32])] = []
        var isThreaded = false
        var tooMany = false
        func visit(_ path: CgroupPath) {
            guard !tooMany, !isThreaded else { return }
            guard lists.count < maxCgroups else {
                tooMany = true
                return
            }
            if hierarchy.version == .v2, !path.components.isEmpty,
                let type = try? reader.text(hierarchy.directory(of: path) + "/cgroup.type"), type != "domain\n"
            {
                isThreaded = true
                return
            }
            lists.append((path, processIDs(path)))
            for child in children(of: path) { visit(path.appending(child)) }
        }
        visit(CgroupPath(components: []))
        guard !tooMany, !isThreaded else { return nil }
        func relative(_ path: CgroupPath) -> String {
            path.components.isEmpty ? "" : "/" + path.components.joined(separator: "/")
        }
        guard let own = lists.first(where: { $0.pids.contains(ownPID) }),
            let prefix = Self.prefix(ownPath: ownPath, relative: relative(own.path))
        else { return nil }
        var paths: [Int32: String] = [:]
        var doubled: Set<Int32> = []
        for (path, pids) in lists {
            let text = prefix + relative(path)
            let shown = text.isEmpty ? "/" : text
            let isPrintable = !shown.utf8.contains(UInt8(ascii: "\n"))
            for pid in pids {
                if paths.updateValue(shown, forKey: pid) != nil || !isPrintable { doubled.insert(pid) }
            }
        }
        for pid in doubled { paths[pid] = nil }
        return CgroupMembers(paths: paths)
    }

    /// What /proc/PID/cgroup puts before a path of the walk: `ownPath` (memd's line) less memd's
    /// path in the walk (`relative`, "" for the walk's root); nil when it does not end with it, or
    /// names a cgroup outside memd's namespace.
    static func prefix(ownPath: String, relative: String) -> String? {
        let (own, tail) = (Array(ownPath.utf8), Array(relative.utf8))
        guard own.first == UInt8(ascii: "/"), !own.contains(UInt8(ascii: "\n")), !ownPath.contains("/..") else {
            return nil
        }
        if tail.isEmpty { return ownPath == "/" ? "" : ownPath }
        // `relative` starts with "/", so a match ends the prefix at a name's boundary.
        guard own.count >= tail.count, own[(own.count - tail.count)...].elementsEqual(tail) else { return nil }
        let prefix = own[..<(own.count - tail.count)]
        guard prefix.last != UInt8(ascii: "/") else { return nil }
        return String(decoding: prefix, as: UTF8.self)
    }
}

extension ProcReader {
    /// The reader's own cgroup in a hierarchy (/proc/self/cgroup; see ``CgroupMembership``).
    public mutating func ownCgroup(controller: String?) throws(ProcError) -> String? {
        try parse("\(root)/self/cgroup") { bytes in CgroupMembership.path(bytes, controller: controller) }
    }
}
