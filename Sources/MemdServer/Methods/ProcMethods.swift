import JSONRPC
import MemdProtocol
import ProcFS

/// `meminfo`, `maps` and `pageStats` for the real machine, from /proc.
enum ProcMethods {
    static func meminfo() throws(RPCError) -> JSON {
        var reader = ProcReader(capacity: 8 * 1024)
        let meminfo: Meminfo
        do {
            meminfo = try reader.meminfo()
        } catch {
            throw .internalError(error.description)
        }
        var result = meminfo.jsonObject(source: "proc")
        result["pressure"] = try pressure(&reader)
        return .object(result)
    }

    /// /proc/pressure/memory as `meminfo.pressure`; null where the kernel has no PSI (no file
    /// without CONFIG_PSI; EOPNOTSUPP when booted with psi=0).
    static func pressure(_ reader: inout ProcReader) throws(RPCError) -> JSON {
        do {
            return try reader.memoryPressure().json
        } catch {
            switch error {
            case .notFound, .io, .permissionDenied: return .null
            case .malformed: throw .internalError(error.description)
            }
        }
    }

    /// `maps` of a real process: each mapping written into the result as it is read (no list of
    /// them, no copy of the file); stops at `maxBytes` of result (-32003 `responseBytes`).
    static func maps(pid: Int32, detail: Bool, peer: PeerCredentials, maxBytes: Int) throws(RPCError) -> JSON {
        var tooLong = 0  // the bytes written when the limit was passed: a lower bound of the result
        let result = try Access.read(pid: pid, peer: peer) { files throws(ProcError) -> [UInt8] in
            let stat = try files.stat()
            // Room for the largest answer, reserved but not touched (the pages come as they are
            // written): the text never grows by copying, and the answer is copied once, to be sent.
            var writer = MapsMethod.Writer(
                source: .proc,
                pid: pid,
                command: stat.comm,
                detail: detail,
                capacity: maxBytes + 64 * 1024
            )
            try files.forEachMapping(detail: detail) { mapping throws(ProcError) in
                guard tooLong == 0 else { return }
                writer.append(mapping)
                if writer.byteCount > maxBytes { tooLong = writer.byteCount }
            }
            guard tooLong == 0 else { return [] }
            let totals = detail ? ((try? files.smapsRollup()) ?? writer.sum) : nil
            return writer.finish(vsz: stat.vsize, totals: totals)
        }
        if tooLong > 0 { throw .resourceLimit("responseBytes", limit: maxBytes, requested: tooLong) }
        return .raw(result)
    }

    /// The `maps` detail totals (rss, pss, uss, swap, …): smaps_rollup (Linux 4.14+) is the kernel's
    /// own sum; else the mappings of smaps added up (read here unless given).
    static func detailTotals(_ files: inout ProcessFiles, mappings: [Mapping]? = nil) throws(ProcError) -> SmapsDetail {
        if let rollup = try? files.smapsRollup() { return rollup }
        let all: [Mapping]
        if let mappings { all = mappings } else { all = try files.smaps() }
        return all.reduce(SmapsDetail()) { $0 + ($1.detail ?? SmapsDetail()) }
    }

    static func systemCounters() throws(RPCError) -> (PagingCounters, Vmstat) {
        var reader = ProcReader(capacity: 16 * 1024)
        do {
            let vmstat = try reader.vmstat()
            return (PagingCounters(vmstat), vmstat)
        } catch {
            throw .internalError(error.description)
        }
    }

    /// A process's `ps` row: /proc/PID/stat, and VmRSS from /proc/PID/status as ps reads it.
    static func processRow(_ files: inout ProcessFiles) throws(ProcError) -> PageStatsMethod.ProcessRow {
        let stat = try files.stat()
        let status = try files.status()
        return stat.row(rss: status.rss)
    }

    static func processRow(pid: Int32, peer: PeerCredentials) throws(RPCError) -> PageStatsMethod.ProcessRow {
        try Access.read(pid: pid, peer: peer, capacity: 4096) { files throws(ProcError) in try processRow(&files) }
    }

    /// pageStats without an interval: counters now.
    static func pageStats(_ params: PageStatsMethod.Params, peer: PeerCredentials) throws(RPCError) -> JSON {
        if let pid = params.pid { return try processRow(pid: pid, peer: peer).result(source: .proc) }
        if params.all { return processes(peer: peer) }
        let (counters, vmstat) = try systemCounters()
        return ["source": "proc", "scope": "system", "counters": counters.json(raw: vmstat)]
    }

    /// pageStats with an interval: two samples `intervalMs` apart, and the rates.
    static func pageStats(sampling params: PageStatsMethod.Params, peer: PeerCredentials) async throws -> JSON {
        let seconds = Double(params.intervalMs) / 1000
        if let pid = params.pid {
            let first = try processRow(pid: pid, peer: peer)
            let clock = ContinuousClock()
            let start = clock.now
            try await Task.sleep(for: .milliseconds(params.intervalMs))
            let second = try processRow(pid: pid, peer: peer)
            let elapsed = (clock.now - start).seconds
            return second.result(
                source: .proc,
                since: first,
                intervalMs: params.intervalMs,
                seconds: max(elapsed, seconds)
            )
        }
        let clock = ContinuousClock()
        let (first, _) = try systemCounters()
        let start = clock.now
        try await Task.sleep(for: .milliseconds(params.intervalMs))
        let (second, vmstat) = try systemCounters()
        let elapsed = (clock.now - start).seconds
        return [
            "source": "proc", "scope": "system", "intervalMs": .int(params.intervalMs),
            "counters": second.json(raw: vmstat),
            "rates": PagingRates(from: first, to: second, seconds: elapsed).json,
        ]
    }

    /// Every process the caller may see; one that exits (or changes owner) while being read is skipped.
    static func processes(peer: PeerCredentials) -> JSON {
        var rows: [JSON] = []
        for pid in (try? processIDs()) ?? [] {
            guard let row = try? processRow(pid: pid, peer: peer) else { continue }
            rows.append(.object(row.json))
        }
        return ["source": "proc", "scope": "processes", "processes": .array(rows)]
    }
}

extension Duration {
    var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
