import JSONRPC
import MemdProtocol
import NIOConcurrencyHelpers
import ProcFS

#if canImport(Glibc)
import Glibc
#endif

/// Takes one watch's samples: the system's figures, the followed processes (found again in the
/// /proc tree each sample), the events since the last sample sent, and the peaks.
///
/// Every figure comes from the readers and encoders of the one-shot methods: `meminfo` without
/// `raw`, pageStats' sar -B rates, pageStats' process row, maps' detail totals. Each process is
/// read through ``Access/read(pid:peer:capacity:_:)`` (opened, then verified on the descriptor).
///
/// Used by one watch, one sample at a time, on a `WaitingWork` thread (reading another process's
/// files can wait on its mmap lock): never from two threads at once, hence `@unchecked Sendable`.
final class WatchSampler: @unchecked Sendable {
    /// Processes one watch keeps track of over its life (exited ones stay in the summary).
    static let maxTracked = 10_000

    let params: WatchMethod.Params
    let peer: PeerCredentials
    private var reader = ProcReader(capacity: 16 * 1024)
    private var previous: (counters: PagingCounters, at: ContinuousClock.Instant)?
    private var previousOOMKills: Int?
    private(set) var tracked: [TrackedProcess] = []
    private var index: [Int32: Int] = [:]
    /// Pids of the last listing of /proc this watch went through (the tree walk reads only new ones).
    private var knownPIDs: Set<Int32> = []
    /// The last pid allocated before the last sample looked for new processes (``ProcessListing``).
    private var seenLastPID: Int32?
    /// Events not yet sent (a skipped sample hands its events to the next one sent).
    private var pendingEvents: [JSON] = []
    private(set) var peaks = WatchPeaks()
    private(set) var oomKills = 0
    private(set) var untracked = 0
    private var isFirstSample = true

    init(params: WatchMethod.Params, peer: PeerCredentials) {
        self.params = params
        self.peer = peer
    }

    /// The access rule for each pid, before the first sample: -32001/-32002 for the first that fails.
    func checkAccess() throws(ProcessReadError) {
        for pid in params.pids { try Access.check(pid: pid, peer: peer) }
    }

    /// Whether every followed process has exited (false when none was ever followed).
    var allExited: Bool { !tracked.isEmpty && tracked.allSatisfy { $0.exitedAtMs != nil } }

    /// One sample, as the `watch.sample` params without `requestId` and `seq` (added when sent).
    func take(elapsedMs: Int, at now: ContinuousClock.Instant) throws(HostReadError) -> JSONObject {
        var sample: JSONObject = ["time": .int(Self.unixMilliseconds()), "elapsedMs": .int(elapsedMs)]
        let vmstat = try systemSample(into: &sample, at: now)
        if let kills = vmstat?["oom_kill"] {
            if let before = previousOOMKills, kills > before {
                oomKills += kills - before
                pendingEvents.append(["kind": "oomKill", "count": .int(kills - before)])
            }
            previousOOMKills = kills
        }
        if !params.pids.isEmpty {
            if tracked.isEmpty {
                for pid in params.pids { track(pid, startTime: nil, isNew: false) }
            }
            if params.children { findDescendants(elapsedMs: elapsedMs, isFirst: isFirstSample) }
            sample["processes"] = .array(processRows(elapsedMs: elapsedMs, at: now))
        } else {
            sample["processes"] = []
        }
        sample["events"] = .array(pendingEvents)
        isFirstSample = false
        return sample
    }

    /// The sample was sent: its events are delivered.
    func sent() { pendingEvents.removeAll(keepingCapacity: true) }

    // MARK: - The system

    /// meminfo (without raw), rates and pressure when `system`; /proc/vmstat in any case (oomKill).
    private func systemSample(
        into sample: inout JSONObject,
        at now: ContinuousClock.Instant
    ) throws(HostReadError) -> Vmstat? {
        let vmstat: Vmstat?
        do {
            vmstat = try reader.vmstat()
        } catch {
            throw HostReadError(error)
        }
        guard params.system else { return vmstat }
        let meminfo: Meminfo
        do {
            meminfo = try reader.meminfo()
        } catch {
            throw HostReadError(error)
        }
        sample["meminfo"] = MeminfoResult(meminfo, source: .proc, raw: false).json
        let counters = vmstat.map(PagingCounters.init)
        if let counters, let previous {
            let seconds = (now - previous.at).seconds
            sample["rates"] = PagingRates(from: previous.counters, to: counters, seconds: seconds).json
        } else {
            sample["rates"] = .null
        }
        if let counters { previous = (counters, now) }
        let pressure = try ProcMethods.pressure(&reader)
        sample["pressure"] = pressure?.json ?? .null
        let free = FreeFigures(meminfo)
        peaks.system(used: free.used, available: free.available, someAvg10: pressure?.some.avg10)
        return vmstat
    }

    // MARK: - The process tree

    /// Adds the descendants of followed processes born since the last sample: the pids allocated
    /// since (or /proc's pids not seen in the last listing, see ``ProcessListing``), read once
    /// each for their parent (a pid's parent changes only when it is orphaned, never into a tree
    /// it was not in).
    private func findDescendants(elapsedMs: Int, isFirst: Bool) {
        // Read before the pids are: a process born after it has a later pid, seen next time.
        let lastPID = ProcessListing.shared.lastPID(&reader)
        guard let born = try? ProcessListing.shared.born(since: isFirst ? nil : seenLastPID, now: lastPID) else {
            return
        }
        seenLastPID = lastPID
        var parents: [(pid: Int32, ppid: Int32, startTime: Int)] = []
        // A listing's pids were looked at when the last listing was (a pid's parent does not change
        // into the tree); pids allocated since are new.
        for pid in born.pids where !(born.isListing && knownPIDs.contains(pid)) && index[pid] == nil {
            // Through the access rule: a process the client may not read is not followed, nor its children.
            guard let stat = try? Access.stat(pid: pid, peer: peer, reader: &reader),
                !stat.isThread  // a pid allocated since may be a thread's
            else { continue }
            parents.append((pid, stat.ppid, stat.startTime))
        }
        if born.isListing {
            knownPIDs = Set(born.pids)
        } else {
            for pid in born.pids { knownPIDs.remove(pid) }  // allocated again: another process now
        }
        // Parents first where they are new too: repeat until no new descendant is found.
        var found = true
        while found {
            found = false
            for candidate in parents where index[candidate.pid] == nil {
                guard let parent = index[candidate.ppid], tracked[parent].exitedAtMs == nil else { continue }
                guard tracked.count < Self.maxTracked else {
                    untracked += 1
                    continue
                }
                track(candidate.pid, startTime: candidate.startTime, isNew: !isFirst)
                if !isFirst {
                    pendingEvents.append([
                        "kind": "spawn", "pid": .int(Int(candidate.pid)), "ppid": .int(Int(candidate.ppid)),
                    ])
                }
                found = true
            }
        }
    }

    private func track(_ pid: Int32, startTime: Int?, isNew: Bool) {
        index[pid] = tracked.count
        tracked.append(TrackedProcess(pid: pid, startTime: startTime, isBornWatched: isNew))
    }

    /// One row per followed process alive now; exit events for the ones that are gone.
    private func processRows(elapsedMs: Int, at now: ContinuousClock.Instant) -> [JSON] {
        var rows: [JSON] = []
        var treeRss = 0
        var treePss = 0
        for slot in tracked.indices where tracked[slot].exitedAtMs == nil {
            guard let reading = read(slot) else {
                tracked[slot].exitedAtMs = elapsedMs
                release(slot)
                pendingEvents.append(["kind": "exit", "pid": .int(Int(tracked[slot].pid))])
                continue
            }
            // pageStats' row; rss from statm, which is VmRSS (see ProcessStatm).
            var row = reading.stat.row(rss: reading.rss).jsonObject
            row.members.insert(("ppid", .int(Int(reading.stat.ppid))), at: 1)
            if let detail = reading.detail {
                row["pss"] = .int(detail.pss)
                row["uss"] = .int(detail.uss)
                row["swap"] = .int(detail.swap)
            }
            let rates = tracked[slot].update(reading, elapsedMs: elapsedMs, at: now)
            row["minfltPerSec"] = .double(rates.minor)
            row["majfltPerSec"] = .double(rates.major)
            rows.append(.object(row))
            treeRss += reading.rss
            treePss += reading.detail?.pss ?? 0
        }
        if !rows.isEmpty { peaks.tree(rss: treeRss, pss: params.pss ? treePss : nil) }
        return rows
    }

    /// Reads one followed process: its stat and statm, kept open between samples while the
    /// ``DescriptorBudget`` allows and shared with the client's other watches of it (see
    /// ``KeptProcessFiles``: they stay on that process, so a reused pid reads as gone; and
    /// ``KeptHandles``). Nil when it is gone, a zombie, another process, or no longer the client's
    /// to read.
    private func read(_ slot: Int) -> ProcessReading? {
        let process = tracked[slot]
        if process.kept == nil, let startTime = process.startTime {
            let key = KeptHandles.Key(peer: peer, pid: process.pid, startTime: startTime)
            if let shared = KeptHandles.shared.borrow(key) { tracked[slot].kept = (shared, key) }
        }
        let handle: ProcessHandle
        let isOpened: Bool
        if let kept = tracked[slot].kept {
            (handle, isOpened) = (kept.handle, false)
        } else {
            guard let files = try? Access.open(pid: process.pid, peer: peer, capacity: 2048),
                let opened = try? ProcessHandle(files)
            else { return nil }
            (handle, isOpened) = (opened, true)
        }
        do {
            let (stat, statm) = try handle.read()
            // A zombie has no memory left; another start time is another process with the same pid.
            guard stat.state != "Z", stat.state != "X", process.startTime == nil || stat.startTime == process.startTime
            else { return nil }
            if isOpened {
                let key = KeptHandles.Key(peer: peer, pid: process.pid, startTime: stat.startTime)
                if let kept = KeptHandles.shared.keep(handle, for: key) { tracked[slot].kept = (kept, key) }
            }
            let detail = params.pss ? try handle.detailTotals() : nil
            return ProcessReading(stat: stat, rss: statm.resident * pageSize, detail: detail)
        } catch {
            return nil
        }
    }

    /// Closes every kept descriptor (the watch ended).
    func close() {
        for slot in tracked.indices { release(slot) }
    }

    private func release(_ slot: Int) {
        guard let kept = tracked[slot].kept else { return }
        tracked[slot].kept = nil
        KeptHandles.shared.release(kept.key)
    }

    static func unixMilliseconds() -> Int {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return now.tv_sec * 1000 + now.tv_nsec / 1_000_000
    }
}

/// What one read of a followed process gives.
struct ProcessReading {
    var stat: ProcessStat
    /// Resident bytes (VmRSS).
    var rss: Int
    var detail: SmapsDetail?
}

/// Descriptors all watches together may keep open between samples: a quarter of memd's
/// RLIMIT_NOFILE (at most 16,384), so watches never take the descriptors connections need; and
/// a quarter of that per uid, so one uid's watches never take every other uid's share (limits.md
/// §3). A process beyond it is opened anew each sample (slower, the same figures).
final class DescriptorBudget: Sendable {
    static let shared = DescriptorBudget()

    private struct State {
        var available: Int
        var heldByUID: [UInt32: Int] = [:]
    }

    let perUID: Int
    private let state: NIOLockedValueBox<State>

    init() {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let soft = Int(clamping: min(limit.rlim_cur, 65_536))  // RLIM_INFINITY is the largest value
        let total = min(16_384, soft / 4)
        perUID = total / 4
        state = NIOLockedValueBox(State(available: total))
    }

    func take(_ count: Int, uid: UInt32) -> Bool {
        let perUID = self.perUID
        return state.withLockedValue { s in
            let held = s.heldByUID[uid, default: 0]
            guard s.available >= count, held + count <= perUID else { return false }
            s.available -= count
            s.heldByUID[uid] = held + count
            return true
        }
    }

    func give(_ count: Int, uid: UInt32) {
        state.withLockedValue { s in
            s.available += count
            let held = s.heldByUID[uid, default: 0] - count
            s.heldByUID[uid] = held > 0 ? held : nil
        }
    }
}

/// A followed process over the watch: its last figures and its peaks.
struct TrackedProcess {
    let pid: Int32
    /// Its start time once read (a pid given in `pids` is pinned by its first reading).
    var startTime: Int?
    /// Born during the watch: every fault it took was taken while watched.
    let isBornWatched: Bool
    var ppid: Int32 = 0
    var command = ""
    /// Its /proc/PID, open while it is followed (nil: opened anew each sample), and its key in
    /// ``KeptHandles``.
    var kept: (handle: ProcessHandle, key: KeptHandles.Key)?
    var firstFaults: (minor: Int, major: Int)?
    var lastFaults = (minor: 0, major: 0)
    var lastAt: ContinuousClock.Instant?
    var rssMax = 0
    var rssMaxAtMs = 0
    var pssMax: Int?
    var swapMax: Int?
    var vszMax = 0
    var exitedAtMs: Int?

    init(pid: Int32, startTime: Int?, isBornWatched: Bool) {
        self.pid = pid
        self.startTime = startTime
        self.isBornWatched = isBornWatched
    }

    /// Takes a reading into the peaks; the fault rates since the previous one (0 the first time).
    mutating func update(
        _ reading: ProcessReading,
        elapsedMs: Int,
        at now: ContinuousClock.Instant
    )
        -> (minor: Double, major: Double)
    {
        let stat = reading.stat
        let isFirst = lastAt == nil
        if startTime == nil { startTime = stat.startTime }
        ppid = stat.ppid
        command = stat.comm
        if firstFaults == nil { firstFaults = isBornWatched ? (0, 0) : (stat.minflt, stat.majflt) }
        var rates = (minor: 0.0, major: 0.0)
        if let lastAt {
            let seconds = (now - lastAt).seconds
            if seconds > 0 {
                rates = (
                    Double(stat.minflt - lastFaults.minor) / seconds, Double(stat.majflt - lastFaults.major) / seconds
                )
            }
        }
        lastFaults = (stat.minflt, stat.majflt)
        lastAt = now
        let rss = reading.rss
        if isFirst || rss > rssMax {
            rssMax = rss
            rssMaxAtMs = elapsedMs
        }
        vszMax = max(vszMax, stat.vsize)
        if let detail = reading.detail {
            pssMax = max(pssMax ?? 0, detail.pss)
            swapMax = max(swapMax ?? 0, detail.swap)
        }
        return rates
    }

    /// The process's entry in the summary.
    func summary(pss: Bool) -> WatchMethod.ProcessPeaks {
        let first = firstFaults ?? (0, 0)
        return WatchMethod.ProcessPeaks(
            pid: Int(pid),
            ppid: Int(ppid),
            command: command,
            rssMax: rssMax,
            rssMaxAtMs: rssMaxAtMs,
            vszMax: vszMax,
            minflt: max(0, lastFaults.minor - first.minor),
            majflt: max(0, lastFaults.major - first.major),
            exitedAtMs: exitedAtMs,
            pss: pss ? (pssMax, swapMax) : nil
        )
    }
}

/// The system's and the tree's peaks over a watch.
struct WatchPeaks {
    var systemUsed: Int?
    var availableMin: Int?
    var pressureSomeAvg10Max: Double?
    var treeRssMax: Int?
    var treePssMax: Int?

    mutating func system(used: Int, available: Int, someAvg10: Double?) {
        systemUsed = max(systemUsed ?? used, used)
        availableMin = min(availableMin ?? available, available)
        if let someAvg10 { pressureSomeAvg10Max = max(pressureSomeAvg10Max ?? someAvg10, someAvg10) }
    }

    mutating func tree(rss: Int, pss: Int?) {
        treeRssMax = max(treeRssMax ?? rss, rss)
        if let pss { treePssMax = max(treePssMax ?? pss, pss) }
    }
}
