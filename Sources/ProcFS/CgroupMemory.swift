#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A memory cgroup hierarchy: where its root is and which interface it speaks.
///
/// v2 (Documentation/admin-guide/cgroup-v2.rst): a cgroup2 mount whose
/// `cgroup.controllers` lists `memory`; files `memory.current`, `memory.max`, …
/// v1 (Documentation/admin-guide/cgroup-v1/memory.rst): the hierarchy mounted with
/// the `memory` controller; files `memory.usage_in_bytes`, `memory.limit_in_bytes`, …
public struct CgroupHierarchy: Sendable, Equatable {
    public enum Version: Int, Sendable {
        case v1 = 1
        case v2 = 2
    }

    public var version: Version
    /// The directory of the root cgroup, e.g. /sys/fs/cgroup or /sys/fs/cgroup/memory.
    public var root: String

    public init(version: Version, root: String) {
        self.version = version
        self.root = root
    }

    /// The controller name to look for in /proc/PID/cgroup (nil: the v2 `0::` line).
    public var membershipController: String? { version == .v1 ? "memory" : nil }

    /// What the directory is: a v2 root with the memory controller, a v1 memory
    /// hierarchy, or neither (with why).
    public static func inspect(_ directory: String) -> Result<CgroupHierarchy, CgroupTreeError> {
        var reader = ProcReader(capacity: 4096)
        var info = stat()
        guard stat(directory, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            return .failure(.notATree("\(directory) is not a directory"))
        }
        if let controllers = try? reader.text(directory + "/cgroup.controllers") {
            guard controllers.split(whereSeparator: { $0 == " " || $0 == "\n" }).contains("memory") else {
                return .failure(
                    .notATree(
                        "\(directory) is a cgroup v2 tree without the memory controller (cgroup.controllers: "
                            + "\"\(controllers.trimmingSpaces)\")"
                    )
                )
            }
            return .success(CgroupHierarchy(version: .v2, root: directory))
        }
        if access(directory + "/memory.usage_in_bytes", R_OK) == 0, access(directory + "/cgroup.procs", R_OK) == 0 {
            return .success(CgroupHierarchy(version: .v1, root: directory))
        }
        return .failure(
            .notATree(
                "\(directory) is not a memory cgroup tree: it has neither cgroup.controllers (v2) "
                    + "nor memory.usage_in_bytes (v1)"
            )
        )
    }

    /// The host's memory hierarchy, from /proc/self/mountinfo: cgroup v2 where its
    /// root lists the memory controller, else the v1 `memory` mount; nil when neither.
    public static func detect(procRoot: String = "/proc") -> CgroupHierarchy? {
        var reader = ProcReader(capacity: 16 * 1024)
        guard let mountinfo = try? reader.text(procRoot + "/self/mountinfo") else { return nil }
        var v1: String?
        for line in mountinfo.split(separator: "\n") {
            // id parent major:minor root mountpoint options... - type source superoptions
            let fields = line.split(separator: " ")
            guard let dash = fields.firstIndex(of: "-"), dash + 3 < fields.count, fields.count > 4 else { continue }
            let mountPoint = decodeMountEscapes(fields[4])
            if fields[dash + 1] == "cgroup2", case .success(let tree) = inspect(mountPoint) {
                return tree
            }
            if fields[dash + 1] == "cgroup", fields[dash + 3].split(separator: ",").contains("memory") {
                v1 = v1 ?? mountPoint
            }
        }
        return v1.map { CgroupHierarchy(version: .v1, root: $0) }
    }

    /// The absolute directory of a cgroup path that ``CgroupPath`` has checked.
    public func directory(of path: CgroupPath) -> String {
        path.components.isEmpty ? root : root + "/" + path.components.joined(separator: "/")
    }
}

/// Why a cgroup tree or path cannot be used.
public enum CgroupTreeError: Error, Sendable, Equatable {
    case notATree(String)

    public var message: String {
        switch self {
        case .notATree(let message): return message
        }
    }
}

/// A cgroup path inside a hierarchy, `/` for the root: checked so that it can
/// never leave the tree (no `..`, no `.`, no NUL, no empty name but slashes).
public struct CgroupPath: Sendable, Equatable, CustomStringConvertible {
    public let components: [String]

    /// nil with the reason when `text` is not a path inside a tree.
    public static func parse(_ text: String) -> Result<CgroupPath, CgroupTreeError> {
        guard text.hasPrefix("/") else { return .failure(.notATree("must start with \"/\", like \"/user.slice\"")) }
        guard text.utf8.count <= 4096 else { return .failure(.notATree("longer than 4096 bytes")) }
        guard !text.utf8.contains(0) else { return .failure(.notATree("contains a NUL byte")) }
        let components = text.split(separator: "/").map(String.init)
        for component in components where component == ".." || component == "." {
            return .failure(.notATree("\"\(component)\" is not allowed: paths stay inside the cgroup root"))
        }
        return .success(CgroupPath(components: components))
    }

    public init(components: [String]) { self.components = components }

    public var description: String { "/" + components.joined(separator: "/") }

    public func appending(_ name: String) -> CgroupPath { CgroupPath(components: components + [name]) }
}

/// One memory cgroup's figures, in the shape the `cgroups` method reports
/// (shared/brief/attribution.md's table). nil where the file is missing.
public struct CgroupMemory: Sendable, Equatable {
    public struct Events: Sendable, Equatable {
        public var low, high, max, oom, oomKill: Int?
        public var underOom: Bool?
    }

    public var path: CgroupPath
    public var current, max, high, peak, swapCurrent, workingSet: Int?
    public var events: Events?
    /// `memory.pressure` (v2; v1 has none), parsed as /proc/pressure/memory is.
    public var pressure: Pressure?
    /// Lines of cgroup.procs: the processes in this cgroup itself (not its children).
    public var processes: Int?
    /// memory.stat, every key in order, when asked for.
    public var stat: [(key: String, value: Int)]?

    public static func == (a: CgroupMemory, b: CgroupMemory) -> Bool {
        a.path == b.path && a.current == b.current && a.max == b.max && a.high == b.high && a.peak == b.peak
            && a.swapCurrent == b.swapCurrent && a.workingSet == b.workingSet && a.events == b.events
            && a.pressure == b.pressure && a.processes == b.processes
            && a.stat?.map(\.key) == b.stat?.map(\.key) && a.stat?.map(\.value) == b.stat?.map(\.value)
    }

    /// v1's "no limit": the kernel prints PAGE_COUNTER_MAX × page size, near 2^63.
    public static let v1Unlimited = 1 << 62
}

/// Reads memory cgroups: one reused buffer, so not shared between threads.
public struct CgroupReader {
    public let hierarchy: CgroupHierarchy
    var reader = ProcReader(capacity: 16 * 1024)

    public init(_ hierarchy: CgroupHierarchy) { self.hierarchy = hierarchy }

    /// Whether `path` names an existing cgroup (a real directory, not a symlink out).
    public func exists(_ path: CgroupPath) -> Bool {
        var info = stat()
        return lstat(hierarchy.directory(of: path), &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    /// The figures of one cgroup.
    public mutating func read(_ path: CgroupPath, stat withStat: Bool) -> CgroupMemory {
        let dir = hierarchy.directory(of: path)
        return CgroupMemory(path: path, version: hierarchy.version, stat: withStat) { name in
            try? reader.text(dir + "/" + name)
        }
    }

    /// The cgroup at `path` and its descendants, depth-first, children by name;
    /// `depth` levels below `path` (nil: all).
    public mutating func tree(_ path: CgroupPath, depth: Int?, stat: Bool) -> [CgroupMemory] {
        var out: [CgroupMemory] = []
        walk(path, level: 0, depth: depth) { path in out.append(read(path, stat: stat)) }
        return out
    }

    /// Every cgroup at or below `path`, depth-first.
    public func walk(_ path: CgroupPath, level: Int = 0, depth: Int? = nil, _ visit: (CgroupPath) -> Void) {
        visit(path)
        if let depth, level >= depth { return }
        for child in children(of: path) { walk(path.appending(child), level: level + 1, depth: depth, visit) }
    }

    /// Names of the child cgroups (subdirectories), sorted.
    public func children(of path: CgroupPath) -> [String] {
        let dir = hierarchy.directory(of: path)
        guard let handle = opendir(dir) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = directoryEntryString(entry)
            guard name != ".", name != ".." else { continue }
            var isDirectory = entry.pointee.d_type == UInt8(DT_DIR)
            if entry.pointee.d_type == UInt8(DT_UNKNOWN) {
                var info = stat()
                isDirectory = lstat(dir + "/" + name, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
            }
            if isDirectory { names.append(name) }
        }
        return names.sorted()
    }

    /// The pids in cgroup.procs of `path` (that cgroup alone).
    public mutating func processIDs(_ path: CgroupPath) -> [Int32] {
        guard let text = try? reader.text(hierarchy.directory(of: path) + "/cgroup.procs") else { return [] }
        return text.split(separator: "\n").compactMap { Int32($0) }
    }
}

/// Undoes mountinfo's octal escapes (`\040` for a space; fs/proc_namespace.c, mangle).
func decodeMountEscapes(_ field: Substring) -> String {
    guard field.contains("\\") else { return String(field) }
    var out: [UInt8] = []
    let bytes = Array(field.utf8)
    var index = 0
    while index < bytes.count {
        if bytes[index] == UInt8(ascii: "\\"), index + 3 < bytes.count,
            let value = UInt8(String(decoding: bytes[(index + 1)...(index + 3)], as: UTF8.self), radix: 8)
        {
            out.append(value)
            index += 4
        } else {
            out.append(bytes[index])
            index += 1
        }
    }
    return String(decoding: out, as: UTF8.self)
}

extension String {
    var trimmingSpaces: Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return self[first...last]
    }
}
