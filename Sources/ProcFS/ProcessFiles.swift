#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Who a /proc read is done for: the client's uid and gid (SO_PEERCRED), not memd's, and its
/// process (its own thread group is always its own to read).
public struct ProcClient: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    /// The client's own process (SO_PEERCRED's pid, a thread group id); nil when not known.
    public var pid: Int32?

    public init(uid: UInt32, gid: UInt32, pid: Int32? = nil) {
        self.uid = uid
        self.gid = gid
        self.pid = pid
    }

    public var isRoot: Bool { uid == 0 }
}

/// The files of one process, opened for a client and judged on what was actually read.
///
/// The one place where memd, usually root, reads a process's /proc files on a client's
/// behalf (maps, smaps, smaps_rollup, stat, status, pagemap, and whatever comes later).
/// `setfsuid` alone would not do: /proc/PID/maps asks `ptrace_may_access(…,
/// PTRACE_MODE_READ_FSCREDS)` (fs/proc/base.c, kernel/ptrace.c), which compares the
/// fsuid but then accepts `CAP_SYS_PTRACE`, and root keeps that capability after setfsuid.
/// So the rule is *open first, then verify on the opened descriptors*:
///
/// 1. `/proc/PID` is opened once as a directory descriptor. It pins the `struct pid`:
///    if the process dies and its number is reused, every `openat` through it fails
///    with ESRCH, never reaching the new process.
/// 2. Each file is opened with `openat` on that descriptor and read (or, for
///    pagemap, opened: the kernel binds the file to the process's `mm` at open,
///    `proc_mem_open`).
/// 3. Then the owner is taken again through the directory descriptor (`fstatat` of
///    `status`: the kernel recomputes it with `task_dump_owner` at that moment), so a
///    task that exec'd a setuid program, or is otherwise not dumpable, shows root.
///    Unless the client is root, an owner other than the client is a refusal; a task
///    that is gone fails the lookup (ESRCH/ENOENT). The one exception is the client's own
///    process, dumpable or not, as `ptrace_may_access` allows one's own thread group.
///
/// Both orders of the race are covered: exec before the verification shows root and
/// is refused; exec after it leaves the descriptor on the old `mm` (it reads as
/// empty: the mm is gone), and the text files were read before the check.
public struct ProcessFiles: ~Copyable {
    public let pid: Int32
    public let client: ProcClient
    /// The /proc root, e.g. "/proc": used for paths in errors only.
    public let root: String
    /// The owner seen by the last verification (`task_dump_owner`), nil before one.
    public private(set) var owner: UInt32?
    let directory: Int32
    var file: ProcFile
    /// Inside ``verifyingOnce(_:)``: reads leave the verification to its end.
    private var isVerifyingOnce = false

    /// Opens `/proc/PID` for `client` and verifies it once (a refused or missing
    /// process fails here, before any file is read). Root may read every process: for root
    /// there is nothing to judge, and a missing process already failed the open.
    public init(
        pid: Int32,
        client: ProcClient,
        root: String = "/proc",
        capacity: Int = 64 * 1024
    )
        throws(ProcError)
    {
        self.pid = pid
        self.client = client
        self.root = root
        let path = "\(root)/\(pid)"
        guard pid > 0 else { throw .notFound(path: path) }
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw ProcFile.error(path, errno) }
        if !client.isRoot {
            do {
                owner = try Self.verify(directory: fd, pid: pid, client: client, path: path)
            } catch {
                close(fd)
                throw error
            }
        }
        directory = fd
        file = ProcFile(capacity: capacity)
    }

    deinit { close(directory) }

    /// Path of a file of this process, for messages.
    public func path(_ name: String) -> String { "\(root)/\(pid)/\(name)" }

    /// Checks, now, that the client may see this process: root, or the current owner
    /// (see ``verify(directory:client:path:)``) is the client. A process that is gone is
    /// `.notFound`; another owner `.permissionDenied`.
    public mutating func verify() throws(ProcError) {
        owner = try Self.verify(directory: directory, pid: pid, client: client, path: "\(root)/\(pid)")
    }

    /// The owner of the process's files now, if `client` may see it.
    ///
    /// `fstatat(directory, "status")` looks the file up again, so `pid_revalidate`
    /// recomputes its owner with `task_dump_owner`: the effective uid, or root when the
    /// task is not dumpable (a setuid exec, PR_SET_DUMPABLE 0). The directory itself
    /// always shows the euid, so a client's own non-dumpable process — which the kernel
    /// would not let the client read — would pass a check on it.
    ///
    /// The client's own process (`pid` is the client's pid) is its own whether dumpable or not
    /// (`ptrace_may_access`: `same_thread_group`, kernel/ptrace.c). It is recognised by the pid
    /// *and* the directory's owner: `fstat` of a /proc/PID directory always computes the effective
    /// uid now (`pid_getattr` → `task_dump_owner`, which leaves directories alone), so a pid
    /// reused by another user's process does not pass.
    static func verify(directory: Int32, pid: Int32, client: ProcClient, path: String) throws(ProcError) -> UInt32 {
        var info = Glibc.stat()
        guard fstatat(directory, "status", &info, 0) == 0 else { throw ProcFile.error(path + "/status", errno) }
        if client.isRoot || info.st_uid == client.uid { return info.st_uid }
        if client.pid == pid {
            var own = Glibc.stat()
            guard fstat(directory, &own) == 0 else { throw ProcFile.error(path, errno) }
            if own.st_uid == client.uid { return own.st_uid }
        }
        throw .permissionDenied(path: path)
    }

    /// Opens a file of the process, verifies, and hands back the descriptor (the caller closes it).
    public mutating func open(_ name: String) throws(ProcError) -> Int32 {
        let fd = openat(directory, name, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ProcFile.error(path(name), errno) }
        do {
            try verify()
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// Reads a file of the process to EOF, then verifies (unless inside ``verifyingOnce(_:)``);
    /// the bytes are valid until the next read.
    mutating func read(_ name: String) throws(ProcError) {
        let fd = openat(directory, name, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ProcFile.error(path(name), errno) }
        defer { Glibc.close(fd) }
        try file.read(descriptor: fd, path: path(name), isOneRecord: Self.oneRecordFiles.contains(name))
        if !isVerifyingOnce { try verify() }
    }

    /// Files the kernel builds whole in one `show` (seq_file's `single_open`: fs/proc/base.c's
    /// `ONE()` entries, smaps_rollup_open, comm_open): a read that leaves room in the buffer got
    /// all of it, so the read(2) that would return 0 is not made.
    static let oneRecordFiles: Set<String> = ["stat", "statm", "status", "smaps_rollup", "cgroup", "comm"]

    /// Runs `reads` — several reads of this process's files — and verifies once, after the last,
    /// before any of it is handed out: the same rule as verifying after each read (an owner change
    /// before the verification shows in it, and no figure leaves before it), at one `fstatat` per
    /// process instead of one per file (`usage` reads status, smaps_rollup and cgroup of every
    /// process). A process that turned setuid and back between two reads made itself dumpable by
    /// the client again (PR_SET_DUMPABLE), which lets the client ptrace it anyway. For root there
    /// is nothing to judge: a process gone before a read failed that read.
    public mutating func verifyingOnce<T>(
        _ reads: (inout ProcessFiles) throws(ProcError) -> T
    ) throws(ProcError) -> T {
        isVerifyingOnce = true
        let result: T
        do {
            result = try reads(&self)
        } catch {
            isVerifyingOnce = false
            throw error
        }
        isVerifyingOnce = false
        if !client.isRoot { try verify() }
        return result
    }

    mutating func parse<T>(
        _ name: String,
        _ body: (UnsafeBufferPointer<UInt8>) throws(ProcError) -> T
    )
        throws(ProcError) -> T
    {
        try read(name)
        return try file.withBytes { buffer throws(ProcError) in try body(buffer) }
    }

    /// /proc/PID/stat.
    public mutating func stat() throws(ProcError) -> ProcessStat {
        let path = path("stat")
        return try parse("stat") { bytes throws(ProcError) in try ProcessStat.parse(bytes, path: path) }
    }

    /// /proc/PID/status.
    public mutating func status() throws(ProcError) -> ProcessStatus {
        try parse("status") { bytes in ProcessStatus.parse(bytes) }
    }

    /// /proc/PID/maps. An empty file means the process is a zombie, a kernel thread, or
    /// exec'd after the file was opened.
    public mutating func maps() throws(ProcError) -> [Mapping] {
        var mappings: [Mapping] = []
        try forEachMapping(detail: false) { mappings.append($0) }
        return mappings
    }

    /// /proc/PID/smaps: every mapping with its smaps figures.
    public mutating func smaps() throws(ProcError) -> [Mapping] {
        var mappings: [Mapping] = []
        try forEachMapping(detail: true) { mappings.append($0) }
        return mappings
    }

    /// Reads maps (or, with `detail`, smaps) a piece at a time, handing each mapping to `body`
    /// as soon as it is parsed; verifies the owner at the end, before the caller lets any of
    /// it out (a setuid exec while reading shows as `.permissionDenied`, like ``read(_:)``).
    public mutating func forEachMapping(
        detail: Bool,
        _ body: (Mapping) throws(ProcError) -> Void
    ) throws(ProcError) {
        try forEachMapping(reading: detail ? .smaps : .maps, body)
    }

    /// The same, keeping what `reading` says (with `.smapsFields`, every smaps line).
    public mutating func forEachMapping(
        reading: MapsParser.Reading,
        _ body: (Mapping) throws(ProcError) -> Void
    ) throws(ProcError) {
        try forEachLine(reading: reading) { line, detail, fields throws(ProcError) in
            try body(Mapping(line, detail: detail, smaps: fields))
        }
    }

    /// The same, handing on each mapping as its header line where it lies (valid during the
    /// call) with its smaps figures and lines: nothing allocated per mapping. With `totals`, also
    /// smaps_rollup's (nil if it cannot be read); the owner verified after every read.
    ///
    /// `alongside`, if given, may run jobs on other threads: for a file larger than one piece it
    /// gets the reading ahead (``PieceReader/readAhead()``), so the kernel formats the next pieces
    /// while this thread parses, and the read of smaps_rollup (a second walk of every page table).
    /// Nothing waits for such a job to start (``HelpedJob``).
    @discardableResult
    public mutating func forEachLine(
        reading: MapsParser.Reading,
        totals: Bool = false,
        alongside: ((@escaping @Sendable () -> Void) -> Void)? = nil,
        _ body: (MapsLine, SmapsDetail?, SmapsFields?) throws(ProcError) -> Void
    ) throws(ProcError) -> SmapsDetail? {
        let name = reading == .maps ? "maps" : "smaps"
        let fd = openat(directory, name, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ProcFile.error(path(name), errno) }
        let reader = PieceReader(descriptor: fd, path: path(name))
        let rollup = totals ? rollupJob() : nil
        var stream = MapsParser.Stream(reading: reading)
        let helpers = alongside.map { alongside in
            {
                alongside { reader.readAhead() }
                if let rollup { alongside { rollup.run() } }
            }
        }
        do {
            try reader.forEachPiece(startingHelper: helpers) { lines throws(ProcError) in
                try stream.feedLines(lines, body)
            }
            try stream.finishLines(body)
        } catch {
            rollup?.cancel()
            throw error
        }
        let figures = rollup?.result() ?? nil
        try verify()
        return figures
    }

    /// A read of smaps_rollup any thread may do (its own descriptor and buffer): nil if the file
    /// cannot be opened or read (Linux before 4.14).
    func rollupJob() -> HelpedJob<SmapsDetail?> {
        let rollup = Descriptor(openat(directory, "smaps_rollup", O_RDONLY | O_CLOEXEC))
        let path = path("smaps_rollup")
        return HelpedJob {
            guard rollup.fd >= 0 else { return nil }
            var file = ProcFile(capacity: 4096)
            guard (try? file.read(descriptor: rollup.fd, path: path, isOneRecord: true)) != nil else { return nil }
            return file.withBytes { MapsParser.parseRollup($0) }
        }
    }

    /// /proc/PID/smaps_rollup: the totals the kernel sums (Linux 4.14+).
    public mutating func smapsRollup() throws(ProcError) -> SmapsDetail {
        try parse("smaps_rollup") { bytes in MapsParser.parseRollup(bytes) }
    }

    /// /proc/PID/pagemap, opened and verified. PFNs in it are whatever the kernel shows
    /// the opener (root: real ones); the caller hides them from a client that is not root.
    public mutating func pagemap() throws(ProcError) -> PagemapReader {
        let fd = try open("pagemap")
        return PagemapReader(descriptor: fd, path: path("pagemap"))
    }
}

extension PagemapReader {
    /// A reader on an already opened (and verified) pagemap descriptor; it closes it.
    init(descriptor: Int32, path: String) {
        self.path = path
        self.fd = descriptor
    }
}
