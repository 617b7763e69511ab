import JSONRPC
import MMU
import MemdProtocol
import ProcFS

/// The same steps as memlab's, on a fresh simulated machine (`backend: "sim"`).
///
/// Figures come from the machine's own counters (processStats, mappings with
/// detail, meminfo), the way the real ones come from /proc. The machine is made
/// for the call and thrown away with it.
struct SimExperiment {
    let request: ExperimentRequest

    /// Bytes of simulated RAM: room for the experiment twice over (cow) and the
    /// machine's own pages; `oom` gets exactly its size, as the cgroup limit.
    var physicalBytes: UInt64 {
        let size = UInt64(request.sizeBytes)
        if request.name == .oom { return max(4 << 20, (size + Page.size - 1) / Page.size * Page.size) }
        let wanted = 2 * size + (64 << 20)
        return min(64 << 30, (wanted + (1 << 20) - 1) / (1 << 20) * (1 << 20))
    }

    func run() throws(ExperimentError) -> JSONObject {
        do {
            switch request.name {
            case .demandPaging: return try demandPaging()
            case .cow: return try cow()
            case .mmap: return try mmap()
            case .segv: return try segv()
            case .filemap: return try filemap()
            case .vmExhaustion: return try vmExhaustion()
            case .oom: return try oom()
            case .malloc:
                throw ExperimentError.unsupported(
                    "malloc has no simulator counterpart: a simulated process has no C library"
                )
            }
        } catch let error as ExperimentError {
            throw error
        } catch {
            throw .internalError("simulator: \(error)")
        }
    }

    private func machine(addressBits: Int = 47) throws -> Machine {
        try Machine(
            config: MachineConfig(
                physicalBytes: physicalBytes,
                addressBits: addressBits,
                hugePages: request.hugePages
            )
        )
    }

    private func spawn(_ m: Machine, _ command: String) throws -> Int {
        guard let pid = try m.spawn(command: command).pid else {
            throw ExperimentError.internalError("the simulated machine could not start a process")
        }
        return pid
    }

    private func checkCancelled() throws {
        if Task.isCancelled { throw ExperimentError.timeout("experiment \(request.name.rawValue) cancelled") }
    }

    /// `MemTotal − MemAvailable` of the simulated meminfo, as for the real machine.
    private func systemUsed(_ m: Machine) throws -> Int {
        let entries = try m.meminfo().map { Meminfo.Entry(key: $0.key, value: Int($0.bytes), isBytes: true) }
        return FreeFigures(Meminfo(entries: entries)).used
    }

    private func memAvailable(_ m: Machine) throws -> Int {
        Int(try m.meminfo().first { $0.key == "MemAvailable" }?.bytes ?? 0)
    }

    private func base(_ pid: Int) -> JSONObject { ["pid": .int(pid), "uid": .null, "durationMs": .int(0)] }

    private func demandPaging() throws -> JSONObject {
        let m = try machine()
        let pid = try spawn(m, "demand-paging")
        var samples: [JSON] = []
        func sample(_ phase: String, _ touched: Int) throws -> ProcessStats {
            let s = try m.processStats(pid: pid)
            samples.append([
                "phase": .string(phase), "touchedBytes": .int(touched), "vsz": .int(Int(s.vsz)),
                "rss": .int(Int(s.rss)), "minflt": .int(Int(s.minflt)), "majflt": .int(Int(s.majflt)),
            ])
            return s
        }
        _ = try sample("beforeAlloc", 0)
        guard
            let address = try m.mmap(pid: pid, length: UInt64(request.sizeBytes), protection: [.read, .write]).address
        else { throw ExperimentError.internalError("simulated mmap failed") }
        let start = try sample("allocated", 0)
        var done = 0
        var last = start
        while done < request.sizeBytes {
            try checkCancelled()
            let next = min(done + request.stepBytes, request.sizeBytes)
            _ = try m.touch(pid: pid, address: address + UInt64(done), length: UInt64(next - done), access: .write)
            done = next
            last = try sample("touched", done)
        }
        var fields = base(pid)
        fields.members += [
            ("size", .int(request.sizeBytes)), ("step", .int(request.stepBytes)),
            ("thp", .string(request.hugePages ? "always" : "never")), ("hugePages", .bool(request.hugePages)),
            ("samples", .array(samples)),
            ("faultsDuringTouch", .int(Int(last.minflt + last.majflt) - Int(start.minflt + start.majflt))),
        ]
        return fields
    }

    private func cow() throws -> JSONObject {
        let m = try machine()
        let parent = try spawn(m, "cow")
        let size = UInt64(request.sizeBytes)
        guard let address = try m.mmap(pid: parent, length: size, protection: [.read, .write]).address else {
            throw ExperimentError.internalError("simulated mmap failed")
        }
        _ = try m.touch(pid: parent, address: address, length: size, access: .write)
        let usedBeforeFork = try systemUsed(m)
        let parentRss = Int(try m.processStats(pid: parent).rss)
        let child = try m.fork(pid: parent)
        let usedAfterFork = try systemUsed(m)
        func figures() throws -> (JSON, Int) {
            let s = try m.processStats(pid: child)
            let d = try m.mappings(pid: child, detail: true).first { $0.start == address }?.detail ?? MappingDetail()
            let json: JSON = [
                "rss": .int(Int(s.rss)), "shared": .int(Int(d.sharedClean + d.sharedDirty)),
                "private": .int(Int(d.privateClean + d.privateDirty)), "minflt": .int(Int(s.minflt)),
            ]
            return (json, Int(s.minflt + s.majflt))
        }
        let (before, faultsBefore) = try figures()
        try checkCancelled()
        _ = try m.touch(pid: child, address: address, length: size, access: .write)
        let (after, faultsAfter) = try figures()
        var fields = base(parent)
        fields.members += [
            ("size", .int(request.sizeBytes)),
            ("beforeFork", ["systemUsed": .int(usedBeforeFork), "parentRss": .int(parentRss)]),
            ("systemUsedAfterFork", .int(usedAfterFork)),
            ("child", ["pid": .int(child), "beforeWrite": before, "afterWrite": after]),
            ("systemUsedAfterWrite", .int(try systemUsed(m))),
            ("faultsDuringWrite", .int(faultsAfter - faultsBefore)),
        ]
        return fields
    }

    /// A simulated mapping in the `maps` shape.
    static func json(_ info: MappingInfo) -> JSON { Mapping(simulated: info).json(detail: false) }

    private func mmap() throws -> JSONObject {
        let m = try machine()
        let pid = try spawn(m, "mmap")
        let before = try m.mappings(pid: pid)
        guard
            let address = try m.mmap(pid: pid, length: UInt64(request.sizeBytes), protection: [.read, .write]).address
        else { throw ExperimentError.internalError("simulated mmap failed") }
        let after = try m.mappings(pid: pid)
        var fields = base(pid)
        fields.members += [
            ("address", .hex(address)), ("size", .int(request.sizeBytes)),
            ("mapsBefore", .array(before.map(Self.json))), ("mapsAfter", .array(after.map(Self.json))),
            ("added", .array(after.filter { !before.contains($0) }.map(Self.json))),
            ("removed", .array(before.filter { !after.contains($0) }.map(Self.json))),
        ]
        return fields
    }

    private func segv() throws -> JSONObject {
        let m = try machine()
        let pid = try spawn(m, "segv")
        let result = try m.touch(pid: pid, address: 0, length: 4, access: .write)
        var fields = base(pid)
        fields.members += [
            ("terminatedBy", result.segv == nil ? .null : "SIGSEGV"), ("signal", result.segv == nil ? .null : 11),
            ("output", ["Before invalid access"]), ("faultAddress", result.segv.map { .hex($0.address) } ?? .null),
        ]
        if let reason = result.segv?.reason { fields["reason"] = .string(reason) }
        return fields
    }

    private func filemap() throws -> JSONObject {
        let m = try machine()
        let pid = try spawn(m, "filemap")
        let path = "/tmp/memd-filemap-sim"
        try m.writeFile(name: path, offset: 0, bytes: Array("hello\n".utf8))
        let size = UInt64(request.sizeBytes)
        guard
            let address = try m.mmap(
                pid: pid,
                length: size,
                protection: [.read, .write],
                shared: true,
                file: (path, 6)
            ).address
        else { throw ExperimentError.internalError("simulated mmap failed") }
        let mapping = try m.mappings(pid: pid).first { $0.start == address }.map(Self.json) ?? .null
        let before = try m.read(pid: pid, address: address, length: 5).bytes
        _ = try m.write(pid: pid, address: address, bytes: Array("HELLO".utf8))
        let after = try m.read(pid: pid, address: address, length: 5).bytes
        _ = try m.munmap(pid: pid, address: address, length: size)
        let file = try m.fileContents(name: path, offset: 0, length: 6)
        var fields = base(pid)
        fields.members += [
            ("path", .string(path)), ("mapping", mapping),
            ("before", .string(String(decoding: before, as: UTF8.self))),
            ("after", .string(String(decoding: after, as: UTF8.self))),
            ("fileAfter", .string(String(decoding: file, as: UTF8.self))),
        ]
        return fields
    }

    /// No RLIMIT_AS in the simulator: a 32-bit address space (4 GiB) is the limit instead.
    private func vmExhaustion() throws -> JSONObject {
        let m = try machine(addressBits: 32)
        let pid = try spawn(m, "vm-exhaustion")
        let limit = 1 << 32
        let result = try m.mmap(pid: pid, length: UInt64(limit), protection: [.read, .write])
        var fields = base(pid)
        fields.members += [
            ("limitBytes", .int(limit)), ("attemptBytes", .int(limit)),
            ("errno", result.errno.map(JSON.string) ?? .null), ("memAvailable", .int(try memAvailable(m))),
        ]
        return fields
    }

    /// The whole simulated machine is the size of the real experiment's cgroup limit.
    private func oom() throws -> JSONObject {
        let m = try machine()
        let pid = try spawn(m, "oom")
        let before = Int(m.summary().oomKills)
        let size = UInt64(request.sizeBytes) * 2
        guard let address = try m.mmap(pid: pid, length: size, protection: [.read, .write]).address else {
            throw ExperimentError.internalError("simulated mmap failed")
        }
        var killed = false
        var done: UInt64 = 0  // touched before the step that ends in the kill
        while done < size, !killed {
            try checkCancelled()
            let next = min(done + UInt64(request.stepBytes), size)
            let result = try m.touch(pid: pid, address: address + done, length: next - done, access: .write)
            killed = result.oomKilled.contains(pid)
            if !killed { done = next }
        }
        var fields = base(pid)
        fields.members += [
            ("limitBytes", .int(Int(physicalBytes))), ("killedBy", killed ? "SIGKILL" : .null),
            ("touchedBytes", .int(Int(done))),
            ("oomKillsBefore", .int(before)), ("oomKillsAfter", .int(Int(m.summary().oomKills))),
            ("cgroup", .null),
        ]
        return fields
    }
}

/// `comparison` for `backend: "both"`: the figures that matter, side by side, and why they differ.
func compare(_ name: ExperimentName, real: JSONObject, sim: JSONObject, hugePages: Bool) -> JSONObject {
    func pair(_ key: String, _ pick: (JSONObject) -> JSON?) -> (key: String, value: JSON) {
        (key, ["real": pick(real) ?? .null, "sim": pick(sim) ?? .null])
    }
    func first(_ o: JSONObject, _ key: String) -> JSON? { o["samples"]?.arrayValue?.first?[key] }
    func last(_ o: JSONObject, _ key: String) -> JSON? { o["samples"]?.arrayValue?.last?[key] }
    var c = JSONObject()
    let thpNote =
        hugePages
        ? "With hugePages the real kernel backs the region with 2 MiB pages only where its THP mode (\(real["thp"]?.stringValue ?? "?")) and free huge pages allow; the simulator always does for aligned ranges."
        : "Both use 4 KiB pages (the real region is madvised MADV_NOHUGEPAGE)."
    switch name {
    case .demandPaging:
        c.members = [
            pair("faultsDuringTouch") { $0["faultsDuringTouch"] },
            pair("rssBeforeAlloc") { first($0, "rss") },
            pair("rssAfterTouch") { last($0, "rss") },
            pair("vszAfterTouch") { last($0, "vsz") },
            (
                "note",
                .string(
                    "The real process starts with the C library's and the program's own pages resident and mapped (its vsz and rss before the allocation); the simulated one maps only text, data, heap and stack and has nothing resident until touched. \(thpNote) Page-table pages are not in rss on either side."
                )
            ),
        ]
    case .cow:
        c.members = [
            pair("faultsDuringWrite") { $0["faultsDuringWrite"] },
            pair("usedGrowthAtFork") { o in
                guard let a = o["systemUsedAfterFork"]?.intValue, let b = o["beforeFork"]?["systemUsed"]?.intValue
                else { return nil }
                return .int(a - b)
            },
            pair("usedGrowthAtWrite") { o in
                guard let a = o["systemUsedAfterWrite"]?.intValue, let b = o["systemUsedAfterFork"]?.intValue else {
                    return nil
                }
                return .int(a - b)
            },
            pair("privateAfterWrite") { $0["child"]?["afterWrite"]?["private"] },
            (
                "note",
                .string(
                    "The simulated machine's used memory moves only with this experiment: the fork costs exactly its page-table pages and the write exactly the copied pages. The real host's MemAvailable also moves with everything else running, the C library's pages and the kernel's per-CPU counter batching, so its growth is close to, not exactly, the size. \(thpNote)"
                )
            ),
        ]
    case .mmap:
        c.members = [
            pair("address") { $0["address"] },
            pair("mappingsBefore") { o in o["mapsBefore"]?.arrayValue.map { .int($0.count) } },
            pair("added") { o in o["added"]?.arrayValue.map { .int($0.count) } },
            (
                "note",
                .string(
                    "Addresses differ: the real kernel randomises mmap_base (ASLR) and the real process already maps the C library, the loader, vdso and vvar; the simulated process maps only its program, heap and stack, top-down from a fixed mmap_base."
                )
            ),
        ]
    default:
        for key in sim.keys where !["pid", "uid", "durationMs"].contains(key) {
            let value = sim[key]!
            if case .array = value { continue }
            if case .object = value { continue }
            c.members.append(pair(key) { $0[key] })
        }
        c.members.append(
            (
                "note",
                .string(
                    "The simulator runs the same steps on a machine of its own, without the C library, other processes or (for oom) cgroups: the simulated machine's whole memory plays the limit."
                )
            )
        )
    }
    return c
}

extension Mapping {
    /// A simulated mapping as the one `Mapping` the wire encoder knows (no device or inode):
    /// for `sim.*`, `maps` of a simulated machine and the experiments' simulated side alike.
    public init(simulated info: MappingInfo) {
        var detail: SmapsDetail?
        if let d = info.detail {
            // Bytes of a simulated machine: at most its physical memory (MachineConfig caps it) or
            // its swap (≤ 1 TiB), far below Int.max, so these conversions cannot trap.
            var s = SmapsDetail()
            s.rss = Int(d.rss)
            s.pss = Int(d.pss)
            s.sharedClean = Int(d.sharedClean)
            s.sharedDirty = Int(d.sharedDirty)
            s.privateClean = Int(d.privateClean)
            s.privateDirty = Int(d.privateDirty)
            s.referenced = Int(d.referenced)
            s.anonymous = Int(d.anonymous)
            s.swap = Int(d.swap)
            s.locked = Int(d.locked)
            s.anonHugePages = Int(d.anonHugePages)
            detail = s
        }
        self.init(
            start: info.start,
            end: info.end,
            perms: info.perms,
            offset: info.offset,
            device: "00:00",
            inode: 0,
            path: info.path,
            kind: ProcFS.MappingKind(rawValue: info.kind.rawValue) ?? .other,
            detail: detail
        )
    }
}
