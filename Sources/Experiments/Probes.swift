import JSONRPC
import MemdProtocol
import ProcFS

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// One probe per experiment: what memd measures from /proc at each of memlab's
// points, and the experiment's fields of `real` (experiments.md, "Result fields").

extension JSONObject {
    func hexAddress(_ key: String) -> UInt64? {
        guard let text = self[key]?.stringValue, text.hasPrefix("0x") else { return nil }
        return UInt64(text.dropFirst(2), radix: 16)
    }

    func int(_ key: String) -> Int? { self[key]?.intValue }
}

/// The name of a signal number, as `kill -l` spells it with the SIG prefix.
func signalName(_ signal: Int32) -> String {
    switch signal {
    case SIGSEGV: return "SIGSEGV"
    case SIGKILL: return "SIGKILL"
    case SIGBUS: return "SIGBUS"
    case SIGABRT: return "SIGABRT"
    case SIGTERM: return "SIGTERM"
    case SIGILL: return "SIGILL"
    case SIGFPE: return "SIGFPE"
    case SIGPIPE: return "SIGPIPE"
    default: return "SIG\(signal)"
    }
}

/// memlab should have run to its end; anything else is an internal error that names why.
func requireCompleted(_ outcome: HelperOutcome) throws(ExperimentError) {
    if let error = outcome.event("error") {
        let what = error["what"]?.stringValue ?? "?"
        let message = error["message"]?.stringValue ?? ""
        throw .internalError(
            "the experiment child failed at \(what): \(message) (\(error["errno"]?.stringValue ?? ""))"
        )
    }
    switch outcome.status {
    case .exited(0) where outcome.event("done") != nil:
        return
    case .exited(let code):
        throw .internalError("the experiment child exited with status \(code): \(outcome.stderr)")
    case .signaled(let signal):
        throw .internalError("the experiment child was killed by \(signalName(signal))")
    }
}

// MARK: - segv

struct SegvProbe: ExperimentProbe {
    mutating func point(_ phase: String, _ event: JSONObject, _ context: inout ProbeContext) throws(ExperimentError) {}

    mutating func finish(_ outcome: HelperOutcome, _ context: inout ProbeContext) throws(ExperimentError) -> JSONObject
    {
        var fields = JSONObject()
        switch outcome.status {
        case .signaled(let signal):
            fields["terminatedBy"] = .string(signalName(signal))
            fields["signal"] = .int(Int(signal))
        case .exited(let code):
            fields["terminatedBy"] = .null
            fields["signal"] = .null
            fields["exitStatus"] = .int(Int(code))
        }
        fields["output"] = .array(outcome.output.map(JSON.string))
        fields["faultAddress"] = outcome.event("fault")?["address"] ?? .null
        return fields
    }
}

// MARK: - mmap

struct MmapProbe: ExperimentProbe {
    var before: [Mapping] = []
    var after: [Mapping] = []
    var address: UInt64?

    mutating func point(_ phase: String, _ event: JSONObject, _ context: inout ProbeContext) throws(ExperimentError) {
        switch phase {
        case "before": before = try context.maps()
        case "mapped":
            after = try context.maps()
            address = event.hexAddress("address")
        default: break
        }
    }

    mutating func finish(_ outcome: HelperOutcome, _ context: inout ProbeContext) throws(ExperimentError) -> JSONObject
    {
        try requireCompleted(outcome)
        guard let address else { throw .internalError("the mmap child reported no address") }
        let added = after.filter { !before.contains($0) }
        let removed = before.filter { !after.contains($0) }
        return [
            "address": .hex(address),
            "size": .int(context.request.sizeBytes),
            "mapsBefore": .array(before.map { $0.json(detail: false) }),
            "mapsAfter": .array(after.map { $0.json(detail: false) }),
            "added": .array(added.map { $0.json(detail: false) }),
            "removed": .array(removed.map { $0.json(detail: false) }),
        ]
    }
}

// MARK: - malloc

struct MallocProbe: ExperimentProbe {
    var heapBefore = 0
    var heapAfter = 0
    var brkBefore: JSON = .null
    var brkAfter: JSON = .null
    var allocations = 0
    var blockBytes = 0

    /// Bytes of `[heap]` plus anonymous read-write mappings: where glibc's arenas live.
    static func heapBytes(_ maps: [Mapping]) -> Int {
        maps.reduce(0) { sum, m in
            m.kind == .heap || (m.kind == .anon && m.perms == "rw-p") ? sum + Int(m.size) : sum
        }
    }

    mutating func point(_ phase: String, _ event: JSONObject, _ context: inout ProbeContext) throws(ExperimentError) {
        switch phase {
        case "before":
            heapBefore = Self.heapBytes(try context.maps())
            brkBefore = event["brk"] ?? .null
        case "allocated":
            heapAfter = Self.heapBytes(try context.maps())
            brkAfter = event["brk"] ?? .null
            allocations = event.int("allocations") ?? 0
            blockBytes = event.int("blockBytes") ?? 0
        default: break
        }
    }

    mutating func finish(_ outcome: HelperOutcome, _ context: inout ProbeContext) throws(ExperimentError) -> JSONObject
    {
        try requireCompleted(outcome)
        let requested = allocations * blockBytes
        let growth = heapAfter - heapBefore
        return [
            "requestedBytes": .int(requested), "allocations": .int(allocations), "blockBytes": .int(blockBytes),
            "heapGrowthBytes": .int(growth), "overheadBytes": .int(growth - requested),
            "brkBefore": brkBefore, "brkAfter": brkAfter,
        ]
    }
}

// MARK: - filemap

struct FilemapProbe: ExperimentProbe {
    /// The experiment's own directory (memd.<pid>.XXXXXX), made by memd for memlab.
    let directory: ExperimentDirectory
    var path: String?
    var mapping: JSON = .null
    var strings = JSONObject()

    init(directory: ExperimentDirectory) { self.directory = directory }

    mutating func point(_ phase: String, _ event: JSONObject, _ context: inout ProbeContext) throws(ExperimentError) {
        switch phase {
        case "created":
            // Only a name directly inside the experiment's directory.
            guard let reported = event["path"]?.stringValue, directory.entryName(of: reported) != nil else {
                throw .untrusted("a filemap path outside the experiment's directory")
            }
            path = reported
        case "mapped":
            let address = event.hexAddress("address")
            mapping = try context.maps().first { $0.start == address }?.json(detail: false) ?? .null
        case "done":
            for key in ["before", "after", "fileAfter"] { strings[key] = event[key] ?? .null }
        default: break
        }
    }

    mutating func finish(_ outcome: HelperOutcome, _ context: inout ProbeContext) throws(ExperimentError) -> JSONObject
    {
        try requireCompleted(outcome)
        // memlab removed its file; the directory goes in cleanUp, through memd's descriptors.
        let removed = path.flatMap { directory.entryName(of: $0) }.map { !directory.contains($0) } ?? false
        cleanUp()
        var fields: JSONObject = ["path": path.map(JSON.string) ?? .null, "mapping": mapping]
        fields.members.append(contentsOf: strings.members)
        fields["tempFileRemoved"] = .bool(removed)
        return fields
    }

    /// Removes the directory and whatever memlab left in it (killed, timed out, cancelled).
    mutating func cleanUp() { directory.remove() }
}

// MARK: - demandPaging

struct DemandPagingProbe: ExperimentProbe {
    var samples: [ProcessStat] = []
    var phases: [(phase: String, touched: Int)] = []

    mutating func point(_ phase: String, _ event: JSONObject, _ context: inout ProbeContext) throws(ExperimentError) {
        samples.append(try context.stat())
        phases.append((phase, event.int("touchedBytes") ?? 0))
    }

    mutating func finish(_ outcome: HelperOutcome, _ context: inout ProbeContext) throws(ExperimentError) -> JSONObject
    {
        try requireCompleted(outcome)
        let rows: [JSON] = zip(phases, samples).map { point, stat in
            [
                "phase": .string(point.phase), "touchedBytes": .int(point.touched), "vsz": .int(stat.vsize),
                "rss": .int(stat.rssPages * pageSize), "minflt": .int(stat.minflt), "majflt": .int(stat.majflt),
            ]
        }
        let allocated = zip(phases, samples).first { $0.0.phase == "allocated" }?.1
        let faults = allocated.flatMap { start in
            samples.last.map { ($0.minflt + $0.majflt) - (start.minflt + start.majflt) }
        }
        return [
            "size": .int(context.request.sizeBytes), "step": .int(context.request.stepBytes),
            "thp": transparentHugePageMode().map(JSON.string) ?? .null,
            "hugePages": .bool(context.request.hugePages),
            "samples": .array(rows), "faultsDuringTouch": faults.map(JSON.int) ?? .null,
        ]
    }
}

/// The bracketed word of /sys/kernel/mm/transparent_hugepage/enabled (`always`,
/// `madvise` or `never`), nil where the kernel has no THP.
func transparentHugePageMode() -> String? {
    var proc = ProcReader()
    guard let text = try? proc.text("/sys/kernel/mm/transparent_hugepage/enabled"),
        let open = text.firstIndex(of: "["), let close = text[open...].firstIndex(of: "]")
    else { return nil }
    return String(text[text.index(after: open)..<close])
}

// MARK: - cow

struct CowProbe: ExperimentProbe {
    var address: UInt64?
    var systemUsedBeforeFork = 0
    var parentRss = 0
    var systemUsedAfterFork = 0
    var systemUsedAfterWrite = 0
    var anonPages = (beforeFork: 0, afterFork: 0, afterWrite: 0)
    var beforeWrite: ChildFigures?
    var afterWrite: ChildFigures?
    var childPid: Int32?

    /// The forked child, read from /proc/CHILD/stat and smaps: rss of the process,
    /// shared and private bytes of the region both processes map.
    struct ChildFigures {
        var rss, shared, privateBytes, minflt, majflt: Int

        var json: JSON {
            ["rss": .int(rss), "shared": .int(shared), "private": .int(privateBytes), "minflt": .int(minflt)]
        }
    }

    /// The child's figures, read through one /proc/CHILD directory descriptor (which
    /// pins the process: a pid reused behind it fails) after checking, through that
    /// same descriptor, that it is memlab's child.
    mutating func child(_ pid: Int32, _ context: inout ProbeContext) throws(ExperimentError) -> ChildFigures {
        let (stat, mappings) = try context.child(pid) { files throws(ProcError) in
            (try files.stat(), try files.smaps())
        }
        let region = mappings.first { $0.start == address }?.detail ?? SmapsDetail()
        return ChildFigures(
            rss: stat.rssPages * pageSize,
            shared: region.sharedClean + region.sharedDirty,
            privateBytes: region.privateClean + region.privateDirty,
            minflt: stat.minflt,
            majflt: stat.majflt
        )
    }

    mutating func point(_ phase: String, _ event: JSONObject, _ context: inout ProbeContext) throws(ExperimentError) {
        switch phase {
        case "beforeFork":
            address = event.hexAddress("address")
            (systemUsedBeforeFork, anonPages.beforeFork) = try context.systemMemory()
            parentRss = try context.stat().rssPages * pageSize
        case "beforeWrite":
            // HelperLine.parse checked it: in range, and memlab's own descendant.
            guard let pid = event.int("childPid").flatMap(Int32.init(exactly:)) else {
                throw .internalError("the cow child reported no pid")
            }
            childPid = pid
            (systemUsedAfterFork, anonPages.afterFork) = try context.systemMemory()
            beforeWrite = try child(pid, &context)
        case "afterWrite":
            guard let childPid else { return }
            afterWrite = try child(childPid, &context)
            (systemUsedAfterWrite, anonPages.afterWrite) = try context.systemMemory()
        default: break
        }
    }

    mutating func finish(_ outcome: HelperOutcome, _ context: inout ProbeContext) throws(ExperimentError) -> JSONObject
    {
        try requireCompleted(outcome)
        guard let beforeWrite, let afterWrite else { throw .internalError("the cow child did not report back") }
        return [
            "size": .int(context.request.sizeBytes),
            "beforeFork": ["systemUsed": .int(systemUsedBeforeFork), "parentRss": .int(parentRss)],
            "systemUsedAfterFork": .int(systemUsedAfterFork),
            "child": ["pid": .int(Int(childPid ?? 0)), "beforeWrite": beforeWrite.json, "afterWrite": afterWrite.json],
            "systemUsedAfterWrite": .int(systemUsedAfterWrite),
            "anonPages": [
                "beforeFork": .int(anonPages.beforeFork), "afterFork": .int(anonPages.afterFork),
                "afterWrite": .int(anonPages.afterWrite),
            ],
            "faultsDuringWrite": .int(afterWrite.minflt + afterWrite.majflt - beforeWrite.minflt - beforeWrite.majflt),
        ]
    }
}

// MARK: - vmExhaustion

struct VMExhaustionProbe: ExperimentProbe {
    var fields = JSONObject()

    mutating func point(_ phase: String, _ event: JSONObject, _ context: inout ProbeContext) throws(ExperimentError) {
        guard phase == "attempted" else { return }
        let vsz = try context.stat().vsize
        fields = [
            "limitBytes": event["limitBytes"] ?? .null, "attemptBytes": event["attemptBytes"] ?? .null,
            "errno": event["failed"]?.boolValue == true ? event["errno"] ?? .null : .null,
            "memAvailable": .int(FreeFigures(try context.meminfo()).available),
            "vsz": .int(vsz),
        ]
    }

    mutating func finish(_ outcome: HelperOutcome, _ context: inout ProbeContext) throws(ExperimentError) -> JSONObject
    {
        try requireCompleted(outcome)
        return fields
    }
}

// MARK: - oom

struct OOMProbe: ExperimentProbe {
    var cgroup: MemoryCgroup
    var oomKillsBefore = 0
    var attached = false
    /// The bytes the child had touched at its last point: how far it got before the kill.
    var touched = 0

    mutating func point(_ phase: String, _ event: JSONObject, _ context: inout ProbeContext) throws(ExperimentError) {
        touched = max(touched, event.int("touchedBytes") ?? 0)
        guard phase == "ready" else { return }
        try cgroup.attach(context.pid)
        attached = true
        oomKillsBefore = try cgroup.oomKills()
    }

    mutating func finish(_ outcome: HelperOutcome, _ context: inout ProbeContext) throws(ExperimentError) -> JSONObject
    {
        if let error = outcome.event("error") {
            throw .internalError(
                "the oom child failed at \(error["what"]?.stringValue ?? "?"): \(error["message"]?.stringValue ?? "")"
            )
        }
        guard attached else { throw .internalError("the oom child ended before it was put in its cgroup") }
        let killedBy: JSON
        if case .signaled(let signal) = outcome.status {
            killedBy = .string(signalName(signal))
        } else {
            killedBy = .null
        }
        return [
            "limitBytes": .int(cgroup.limitBytes), "killedBy": killedBy, "touchedBytes": .int(touched),
            "oomKillsBefore": .int(oomKillsBefore), "oomKillsAfter": .int(try cgroup.oomKills()),
            "cgroup": .string(cgroup.version.rawValue),
        ]
    }

    mutating func cleanUp() { cgroup.remove() }
}
