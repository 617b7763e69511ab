import ExperimentsShims
import ProcFS

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Names of everything memd makes outside itself: `memd.<pid>.<anything>`, with memd's
/// own pid, so that the next memd can tell an earlier memd's leftovers from a live
/// one's (limits.md §5, "Leftovers").
public enum Leftovers {
    /// `memd.<our pid>.`: the prefix of every entry this memd makes.
    public static var prefix: String { "memd.\(getpid())." }

    /// The pid in a name of the form `memd.<pid>.<anything>`, nil for any other name.
    public static func pid(inName name: String) -> Int32? {
        let parts = name.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "memd", !parts[2].isEmpty, parts[1].count <= 10,
            parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let pid = Int32(parts[1]), pid > 0
        else { return nil }
        return pid
    }

    /// Whether `pid` is a running memd (this one included): its /proc/PID/comm starts
    /// with `memd` (memd itself, and the test runner `memdPackageTests`, which runs
    /// experiments in-process and must not lose them to a memd starting beside it).
    public static func isRunningMemd(_ pid: Int32) -> Bool {
        if pid == getpid() { return true }
        var proc = ProcReader(capacity: 64)
        guard let comm = try? proc.text("/proc/\(pid)/comm") else { return false }
        return comm.hasPrefix("memd")
    }

    /// The directory for temporary entries: `$TMPDIR`, else `/tmp`.
    public static var temporaryDirectory: String {
        guard let value = getenv("TMPDIR"), value.pointee != 0 else { return "/tmp" }
        return String(cString: value)
    }

    /// Removes, from `directory`, the entries named `memd.<pid>.*` whose pid is not a
    /// running memd and that belong to memd's own uid; keeps every other entry.
    /// Everything is removed relative to directory descriptors (`unlinkat`), never by
    /// a path, and no symlink is followed. Returns the names removed.
    @discardableResult
    public static func sweep(directory: String, isRunning: (Int32) -> Bool = isRunningMemd) -> [String] {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var removed: [String] = []
        for name in entries(fd) {
            guard let pid = pid(inName: name), !isRunning(pid) else { continue }
            var info = stat()
            guard fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0, info.st_uid == geteuid() else { continue }
            if remove(name, in: fd, isDirectory: (info.st_mode & S_IFMT) == S_IFDIR) { removed.append(name) }
        }
        return removed
    }

    /// Sweeps `$TMPDIR` (else /tmp) and the places memd makes cgroups; returns what went.
    @discardableResult
    public static func sweepAll() -> [String] {
        let tmp = temporaryDirectory
        var removed = sweep(directory: tmp).map { tmp + "/" + $0 }
        for parent in MemoryCgroup.parents() {
            removed += sweep(directory: parent).map { parent + "/" + $0 }
        }
        return removed
    }

    /// The names in an open directory (not `.` and `..`).
    static func entries(_ fd: Int32) -> [String] {
        let copy = dup(fd)
        guard copy >= 0, let dir = fdopendir(copy) else {
            if copy >= 0 { close(copy) }
            return []
        }
        defer { closedir(dir) }
        rewinddir(dir)
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = directoryEntryString(entry)
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Removes `name` in the directory `parent`: a file or symlink with `unlinkat`, a
    /// directory with everything in it, whatever its depth (see ``empty(_:window:)``).
    /// A cgroup directory has only control files, which rmdir takes with it.
    @discardableResult
    static func remove(_ name: String, in parent: Int32, isDirectory: Bool) -> Bool {
        guard isDirectory else { return unlinkat(parent, name, 0) == 0 }
        if unlinkat(parent, name, AT_REMOVEDIR) == 0 { return true }  // empty, or a cgroup
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return false }
        empty(fd)
        close(fd)
        return unlinkat(parent, name, AT_REMOVEDIR) == 0
    }

    /// Empties the open directory `top`, whatever the depth of what is in it (limits.md §5,
    /// v3: a client's tree nested 10,000 levels goes too), with at most `window` levels
    /// open at once (descriptors and recursion both bounded): a directory found `window`
    /// levels down is moved up into `top` (`renameat2`, `RENAME_NOREPLACE`) and emptied in
    /// a later pass. Only descriptors are used, never a path; no symlink is followed
    /// (each is removed itself). Stops when a pass changes nothing: what is left then is
    /// not memd's to remove.
    static func empty(_ top: Int32, window: Int = 16) {
        for _ in 0..<maxPasses {
            let names = entries(top)
            guard !names.isEmpty else { return }
            var changed = false
            for name in names where clear(name, in: top, top: top, levelsLeft: window) { changed = true }
            guard changed else { return }
        }
    }

    /// A bound on `empty`'s passes (each goes `window` levels down): a client's process
    /// that keeps adding entries cannot keep memd at it for ever.
    static let maxPasses = 100_000

    /// Removes `name` from the open directory `directory`, emptying a directory first, down
    /// to `levelsLeft` levels; a directory deeper is moved into `top`. Whether anything changed.
    private static func clear(_ name: String, in directory: Int32, top: Int32, levelsLeft: Int) -> Bool {
        var info = stat()
        guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return false }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { return unlinkat(directory, name, 0) == 0 }
        if unlinkat(directory, name, AT_REMOVEDIR) == 0 { return true }
        guard levelsLeft > 0 else { return moveUp(name, from: directory, into: top, inode: UInt64(info.st_ino)) }
        let fd = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return false }
        var changed = false
        for entry in entries(fd) where clear(entry, in: fd, top: top, levelsLeft: levelsLeft - 1) { changed = true }
        close(fd)
        return unlinkat(directory, name, AT_REMOVEDIR) == 0 || changed
    }

    /// Moves the directory `name` into `top` under a new name (`deeper.<inode>`, then
    /// `deeper.<inode>.<n>` if a client took that name): never replacing an entry.
    private static func moveUp(_ name: String, from directory: Int32, into top: Int32, inode: UInt64) -> Bool {
        for attempt in 0..<8 {
            let newName = attempt == 0 ? "deeper.\(inode)" : "deeper.\(inode).\(attempt)"
            let code = memd_rename_noreplace(directory, name, top, newName)
            if code == 0 { return true }
            guard code == EEXIST else { return false }
        }
        return false
    }
}

/// A directory made for one experiment: `$TMPDIR/memd.<pid>.XXXXXX` by `mkdtemp`
/// (mode 0700), handed to the client's uid so memlab can make its file there, and
/// removed through descriptors memd opened (`unlinkat`), whatever memlab or another
/// process of the client put in it.
final class ExperimentDirectory: @unchecked Sendable {
    /// The directory's full path (what memlab gets as `--tmpdir`).
    let path: String
    let name: String
    private let parent: Int32
    private let fd: Int32
    private var isRemoved = false

    init(in directory: String, owner: ClientIdentity?) throws(ExperimentError) {
        parent = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard parent >= 0 else {
            throw .internalError(
                "cannot open the temporary directory \(directory): \(String(cString: strerror(errno)))"
            )
        }
        var template = Array("\(directory)/\(Leftovers.prefix)XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            let code = errno
            close(parent)
            throw .internalError("mkdtemp in \(directory): \(String(cString: strerror(code)))")
        }
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        name = String(path[path.index(after: path.lastIndex(of: "/")!)...])
        fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            unlinkat(parent, name, AT_REMOVEDIR)
            close(parent)
            throw .internalError("cannot open \(path): \(String(cString: strerror(code)))")
        }
        if let owner, fchown(fd, owner.uid, owner.gid) != 0 {
            let code = errno
            unlinkat(parent, name, AT_REMOVEDIR)
            close(fd)
            close(parent)
            throw .internalError("cannot hand \(path) to uid \(owner.uid): \(String(cString: strerror(code)))")
        }
    }

    /// The name of `path` inside this directory, if `path` is directly in it.
    func entryName(of path: String) -> String? {
        guard path.hasPrefix(self.path + "/") else { return nil }
        let entry = String(path.dropFirst(self.path.count + 1))
        guard !entry.isEmpty, !entry.contains("/"), entry != ".", entry != ".." else { return nil }
        return entry
    }

    /// Whether `entry` exists in the directory (a symlink is not followed).
    func contains(_ entry: String) -> Bool {
        var info = stat()
        return fstatat(fd, entry, &info, AT_SYMLINK_NOFOLLOW) == 0
    }

    /// Removes everything in the directory, then the directory.
    func remove() {
        guard !isRemoved else { return }
        Leftovers.empty(fd)
        isRemoved = unlinkat(parent, name, AT_REMOVEDIR) == 0 || errno == ENOENT
    }

    deinit {
        remove()
        close(fd)
        close(parent)
    }
}
