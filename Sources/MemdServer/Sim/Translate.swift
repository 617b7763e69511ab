import JSONRPC
import MMU
import MemdProtocol
import ProcFS

typealias TranslateParams = SimulateTranslationMethod.Params

/// The addresses of a request, generated lazily: a list, or a pattern through the simulator's own
/// streams (MMU's `StrideStream` for sequential and stride, `XorshiftStream` for random).
struct AddressGenerator {
    private enum Mode { case list, stride, random }
    private let mode: Mode
    private let list: [UInt64]
    // Both streams stored plainly (the unused one idle): the 10M-access loop calls `next` with no
    // optional or enum payload to unwrap.
    private var stride: StrideStream
    private var random: XorshiftStream
    private(set) var index = 0
    let count: Int

    init(_ addresses: SimulateTranslationMethod.Addresses) {
        switch addresses {
        case .list(let a):
            (mode, list, count) = (.list, a, a.count)
            stride = StrideStream(start: 0, length: 1, step: 1)
            random = XorshiftStream(start: 0, length: 1, seed: 0)
        case .pattern(let p):
            (mode, list, count) = (p.order == .random ? .random : .stride, [], p.count)
            stride = StrideStream(start: p.start, length: p.length, step: p.order == .stride ? p.stride : Page.size)
            random = XorshiftStream(start: p.start, length: p.length, seed: p.seed)
        }
    }

    var remaining: Int { count - index }

    /// Appends the next `count` addresses: one choice of stream, then a tight loop.
    mutating func fill(_ buffer: inout [UInt64], count: Int) {
        switch mode {
        case .list: buffer.append(contentsOf: list[index..<index + count])
        case .random: for _ in 0..<count { buffer.append(random.next()) }
        case .stride: for _ in 0..<count { buffer.append(stride.next()) }
        }
        index += count
    }

    @inline(__always) mutating func next() -> UInt64 {
        defer { index += 1 }
        switch mode {
        case .list: return list[index]
        case .random: return random.next()
        case .stride: return stride.next()
        }
    }
}

/// Outcome counts in the wire's order, every outcome present.
struct OutcomeCounts {
    static let names = [
        "translated", "tlbHit", "minorFault", "majorFault", "cowFault", "notPresent", "swapped", "segv",
    ]
    var counts: [String: Int] = [:]
    mutating func add(_ name: String, _ n: Int = 1) { counts[name, default: 0] += n }
    var pairs: [(key: String, value: Int)] {
        Self.names.map { ($0, counts[$0] ?? 0) }
            + counts.filter { !Self.names.contains($0.key) }.map { ($0.key, $0.value) }
    }
}

func indicesJSON(_ address: UInt64) -> JSON {
    let i = PageIndices(address: address)
    return [
        "pml4": .int(i.pml4), "pdpt": .int(i.pdpt), "pd": .int(i.pd), "pt": .int(i.pt), "offset": .int(i.offset),
    ]
}

/// Accesses between cancellation checks.
let cancelCheckInterval = 65_536

/// Watches the size of a `translations` list as it is built, so a call whose response would clearly
/// pass `--max-response-bytes` stops early with `-32003 responseBytes` instead of building it.
struct ResponseSizeGuard {
    let limit: Int
    let total: Int
    private(set) var bytes = 256
    private var built = 0
    private var smallest = Int.max

    init(limit: Int, total: Int) {
        self.limit = limit
        self.total = total
    }

    /// Counts one entry; throws once what is built plus the smallest entry seen for each entry still
    /// to come (an estimate from below) passes the limit.
    mutating func add(_ entry: JSON) throws {
        var writer = JSONWriter(capacity: 512)
        writer.write(entry)
        let size = writer.bytes.count + 1
        bytes += size
        built += 1
        smallest = min(smallest, size)
        let projected = bytes + (total - built) * smallest
        if projected > limit {
            throw RPCError.resourceLimit("responseBytes", limit: limit, requested: projected)
        }
    }
}

/// `simulateTranslation` with `machine` + `pid`: walks the simulated tables (faults handled unless dryRun).
enum SimTranslate {
    static func simulated(
        _ p: TranslateParams,
        _ sim: SimMachine,
        context: CallContext
    ) async throws -> SimulateTranslationMethod.Result {
        let access: MMU.Access = p.access == .write ? .write : p.access == .exec ? .exec : .read
        let mode: Mode = p.mode == .kernel ? .kernel : .user
        let id = sim.id
        let maxResponseBytes = context.maxResponseBytes
        return try await sim.run(context) { m, shouldStop in
            var gen = AddressGenerator(p.addresses)
            var outcomes = OutcomeCounts()
            let hits0 = m.tlbHits
            let misses0 = m.tlbMisses
            var summary = SimulateTranslationMethod.Summary(count: 0, outcomes: [], tlbHits: 0, tlbMisses: 0)
            var translations: [JSON] = []
            if p.summaryOnly {
                var sum: UInt64 = 0
                var killed: [Int] = []
                var buffer: [UInt64] = []
                buffer.reserveCapacity(cancelCheckInterval)
                var count = 0
                while gen.remaining > 0 {
                    if shouldStop() { throw CancellationError() }
                    buffer.removeAll(keepingCapacity: true)
                    gen.fill(&buffer, count: min(cancelCheckInterval, gen.remaining))
                    let s: TranslationSummary
                    do {
                        s = try m.translateBatch(
                            pid: p.pid,
                            pattern: .addresses(buffer),
                            access: access,
                            mode: mode,
                            dryRun: p.dryRun,
                            shouldStop: shouldStop
                        )
                    } catch let error as MMUError {
                        throw error.resource == nil ? error : SimMethods.adding(count, to: error)
                    }
                    for (outcome, n) in s.outcomes where n > 0 { outcomes.add(outcome.rawValue, n) }
                    sum &+= s.physicalAddressSum
                    count += s.count
                    if !s.oomKilled.isEmpty {
                        killed = s.oomKilled
                        break
                    }
                }
                (summary.count, summary.physicalAddressSum, summary.oomKilled) = (count, sum, killed)
            } else {
                var size = ResponseSizeGuard(limit: maxResponseBytes, total: gen.count)
                translations.reserveCapacity(gen.count)
                while gen.remaining > 0 {
                    if translations.count % 4096 == 4095, shouldStop() { throw CancellationError() }
                    let t: Translation
                    do {
                        t = try m.translate(
                            pid: p.pid,
                            address: gen.next(),
                            access: access,
                            mode: mode,
                            dryRun: p.dryRun,
                            trace: p.trace
                        )
                    } catch let error as MMUError {
                        throw error.resource == nil ? error : SimMethods.adding(translations.count, to: error)
                    }
                    outcomes.add(t.outcome.rawValue)
                    let entry = json(t)
                    try size.add(entry)
                    translations.append(entry)
                    if !m.pids.contains(p.pid) { break }  // OOM-killed: nothing more to translate
                }
                summary.count = translations.count
            }
            summary.outcomes = outcomes.pairs
            summary.tlbHits = Int(m.tlbHits &- hits0)
            summary.tlbMisses = Int(m.tlbMisses &- misses0)
            return SimulateTranslationMethod.Result(
                source: .sim,
                machine: id,
                pid: p.pid,
                translations: p.summaryOnly ? nil : translations,
                summary: summary
            )
        }
    }

    static func json(_ t: Translation) -> JSON {
        var o: JSONObject = [
            "address": .hex(t.address), "vpn": .int(Int(t.vpn)), "indices": indicesJSON(t.address),
            "mapping": t.mapping.map { SimMethods.mapping($0).json(detail: false) } ?? .null,
            "present": .bool(t.isPresent), "pfn": t.pfn.map { .int(Int($0)) } ?? .null,
            "physicalAddress": t.physicalAddress.map(JSON.hex) ?? .null, "outcome": .string(t.outcome.rawValue),
        ]
        if let size = t.pageSize { o["pageSize"] = .int(Int(size)) }
        if let s = t.segv { o["segv"] = ["address": .hex(s.address), "reason": .string(s.reason)] }
        if !t.oomKilled.isEmpty { o["oomKilled"] = .array(t.oomKilled.map { .int($0) }) }
        if let owner = t.physicalOwner { o["physicalOwner"] = .int(owner) }
        if let walk = t.walk {
            o["walk"] = .array(
                walk.map { step in
                    [
                        "level": .string(step.level.description), "index": .int(step.index),
                        "tableFrame": .int(Int(step.tableFrame)), "entry": .hex(step.entry),
                        "flags": .array(step.flags.names.map { .string($0) }),
                    ]
                }
            )
        }
        return .object(o)
    }
}

/// `simulateTranslation` with `pid` alone: a real process, from its maps and /proc/PID/pagemap.
/// No TLB is visible (tlbHits/tlbMisses 0); PFNs only for a root client.
enum RealTranslate {
    /// Runs on the waiting-work pool (pagemap reads wait on the process's mmap lock).
    static func translate(_ p: TranslateParams, context: CallContext) async throws -> SimulateTranslationMethod.Result {
        let peer = context.peer
        let maxResponseBytes = context.maxResponseBytes
        return try await context.work.run { flag in
            try translate(p, peer: peer, maxResponseBytes: maxResponseBytes, shouldStop: { flag.isCancelled })
        }
    }

    static func translate(
        _ p: TranslateParams,
        peer: PeerCredentials,
        maxResponseBytes: Int,
        shouldStop: () -> Bool
    ) throws -> SimulateTranslationMethod.Result {
        let pid = Int32(p.pid)  // 1…Int32.max, checked where the params are decoded
        // maps and pagemap are opened through /proc/PID's descriptor and judged on what was opened
        // (limits.md §5): a process that exec'd a setuid program meanwhile is never shown.
        var files = try Access.open(pid: pid, peer: peer, capacity: 256 * 1024)
        let mappings: [Mapping]
        var pagemap: PagemapReader
        do {
            mappings = try files.maps()
            pagemap = try files.pagemap()
        } catch {
            throw ProcessReadError(pid: pid, peer: peer, error)
        }
        let mappingJSON = mappings.map { $0.json(detail: false) }
        var gen = AddressGenerator(p.addresses)
        var outcomes = OutcomeCounts()
        var translations: [JSON] = []
        if !p.summaryOnly { translations.reserveCapacity(gen.count) }
        var size = ResponseSizeGuard(limit: maxResponseBytes, total: gen.count)
        var sinceCheck = 0
        while gen.remaining > 0 {
            sinceCheck += 1
            if sinceCheck == cancelCheckInterval {
                sinceCheck = 0
                if shouldStop() { throw CancellationError() }
            }
            let address = gen.next()
            let index = mappingIndex(mappings, address)
            var entry = PagemapEntry(rawValue: 0)
            if index != nil {
                do { entry = try pagemap.entry(address: address) } catch { throw ProcessReadError(pid: pid, error) }
            }
            let outcome: String
            if let index {
                let perms = Array(mappings[index].perms.utf8)
                let allowed: Bool
                switch p.access {
                case .read: allowed = perms[0] == UInt8(ascii: "r")
                case .write: allowed = perms[1] == UInt8(ascii: "w")
                case .exec: allowed = perms[2] == UInt8(ascii: "x")
                }
                if !allowed && p.mode == .user {
                    outcome = "segv"
                } else if entry.isPresent {
                    outcome = "translated"
                } else if entry.isSwapped {
                    outcome = "swapped"
                } else {
                    outcome = "notPresent"
                }
            } else {
                outcome = "segv"
            }
            outcomes.add(outcome)
            guard !p.summaryOnly else { continue }
            let pfn = peer.isRoot ? entry.pfn : nil
            var o: JSONObject = [
                "address": .hex(address), "vpn": .int(Int(address >> 12)), "indices": indicesJSON(address),
                "mapping": index.map { mappingJSON[$0] } ?? .null, "present": .bool(entry.isPresent),
                "pfn": pfn.map { .int(Int($0)) } ?? .null,
                "physicalAddress": pfn.map { .hex($0 << 12 | (address & 0xfff)) } ?? .null,
                "outcome": .string(outcome), "swapped": .bool(entry.isSwapped),
                "fileOrSharedAnon": .bool(entry.contains(.fileOrSharedAnon)),
                "exclusive": .bool(entry.contains(.exclusive)), "softDirty": .bool(entry.contains(.softDirty)),
            ]
            if p.trace {
                // The page tables of a real process are not visible; the pagemap entry is the one level shown.
                let raw = peer.isRoot ? entry.rawValue : entry.rawValue & ~PagemapEntry.pfnMask
                o["walk"] = [
                    [
                        "level": "pagemap", "index": .int(Int(address >> 12)), "entry": .hex(raw),
                        "flags": .array(entry.names.map { .string($0) }),
                    ]
                ]
            }
            try size.add(.object(o))
            translations.append(.object(o))
        }
        return SimulateTranslationMethod.Result(
            source: .proc,
            machine: nil,
            pid: p.pid,
            translations: p.summaryOnly ? nil : translations,
            summary: .init(count: gen.count, outcomes: outcomes.pairs, tlbHits: 0, tlbMisses: 0)
        )
    }

    /// The mapping covering `address` (binary search: maps is in address order).
    static func mappingIndex(_ mappings: [Mapping], _ address: UInt64) -> Int? {
        var lo = 0
        var hi = mappings.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if mappings[mid].end <= address { lo = mid + 1 } else { hi = mid }
        }
        return lo < mappings.count && mappings[lo].start <= address ? lo : nil
    }
}
