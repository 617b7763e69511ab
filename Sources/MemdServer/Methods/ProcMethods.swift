import JSONRPC
import MemdProtocol
import ProcFS

/// `meminfo`, `maps` and `pageStats` for the real machine, from /proc.
enum ProcMethods {
    static func meminfo() throws(HostReadError) -> MeminfoResult {
        var reader = ProcReader(capacity: 8 * 1024)
        let meminfo: Meminfo
        do {
            meminfo = try reader.meminfo()
        } catch {
            throw HostReadError(error)
        }
        var result = MeminfoResult(meminfo, source: .proc)
        result.pressure = .some(try pressure(&reader))
        return result
    }

    static let pressurePath = "/proc/pressure/memory"

    /// /proc/pressure/memory as `meminfo.pressure`; null where the kernel has no PSI.
    static func pressure(_ reader: inout ProcReader) throws(HostReadError) -> Pressure? {
        do {
            return try reader.memoryPressure()
        } catch {
            if isWithoutPSI(error) { return nil }
            throw HostReadError(error)
        }
    }

    /// Reads /proc/pressure/memory (or `path`) into `file`; false where the kernel has no PSI (reading fails
    /// only for the reasons ``isWithoutPSI(_:)`` names: it is parsing that finds text malformed).
    static func readPressure(_ path: String = pressurePath, into file: inout ProcFile) -> Bool {
        (try? file.read(path)) != nil
    }

    /// What failing to read /proc/pressure/memory means: no PSI (no file without CONFIG_PSI;
    /// EOPNOTSUPP when booted with psi=0), unless the text was not the kernel's.
    static func isWithoutPSI(_ error: ProcError) -> Bool {
        switch error {
        case .notFound, .io, .permissionDenied: return true
        case .malformed: return false
        }
    }

    /// `maps` of a real process: each mapping written as it is read (no list of them, no copy of
    /// the file) into `result`, the buffer that is sent; stops at `maxBytes` of result (-32003
    /// `responseBytes`).
    static func maps(
        pid: Int32,
        detail: Bool,
        smaps: Bool = false,
        peer: PeerCredentials,
        maxBytes: Int,
        into result: ResultBuffer
    ) throws -> MapsMethod.Result {
        var tooLong = 0  // the bytes written when the limit was passed: a lower bound of the result
        let answer = try Access.read(pid: pid, peer: peer) { files throws(ProcError) -> MapsMethod.Result? in
            let stat = try files.stat()
            let cmdline = try files.commandLine()
            // 64 KiB to start, grown by doubling: past glibc's mmap threshold (256 KiB, Heap) the
            // buffer is its own mapping and grows by mremap, without copying. (Reserving 64 MiB
            // per call made a maps of a small process cost ~64 ms in page faults and unmapping.)
            result.start(capacity: min(maxBytes, 64 * 1024))
            var writer = MapsMethod.Writer(
                source: .proc,
                pid: pid,
                command: stat.comm,
                cmdline: cmdline,
                detail: detail,
                smaps: smaps
            ) { result.window(committing: $0, atLeast: $1) }
            let reading: MapsParser.Reading = smaps ? .smapsFields : detail ? .smaps : .maps
            let rollup = try files.forEachLine(reading: reading, totals: detail, alongside: FairPool.alongside) {
                guard tooLong == 0 else { return }
                writer.append($0, detail: $1, smaps: $2)
                if writer.byteCount > maxBytes { tooLong = writer.byteCount }
            }
            guard tooLong == 0 else { return nil }
            let totals = detail ? (rollup ?? writer.sum) : nil
            return writer.finish(vsz: stat.vsize, totals: totals)
        }
        guard let answer else {
            throw RPCError.resourceLimit("responseBytes", limit: maxBytes, requested: tooLong)
        }
        return answer
    }

    /// A process's smaps totals (rss, pss, uss, swap, …): smaps_rollup (Linux 4.14+) is the
    /// kernel's own sum; else the mappings of smaps added up.
    static func detailTotals(_ files: inout ProcessFiles) throws(ProcError) -> SmapsDetail {
        if let rollup = try? files.smapsRollup() { return rollup }
        var sum = SmapsDetail()
        try files.forEachMapping(detail: true) { sum = sum + ($0.detail ?? SmapsDetail()) }
        return sum
    }

    static func systemCounters() throws(HostReadError) -> (PagingCounters, Vmstat) {
        var reader = ProcReader(capacity: 16 * 1024)
        do {
            let vmstat = try reader.vmstat()
            return (PagingCounters(vmstat), vmstat)
        } catch {
            throw HostReadError(error)
        }
    }

    /// A process's `ps` row: /proc/PID/stat, and VmRSS from /proc/PID/status as ps reads it.
    static func processRow(_ files: inout ProcessFiles) throws(ProcError) -> PageStatsMethod.ProcessRow {
        let stat = try files.stat()
        let status = try files.status()
        return stat.row(rss: status.rss)
    }

    static func processRow(
        pid: Int32,
        peer: PeerCredentials
    ) throws(ProcessReadError) -> PageStatsMethod.ProcessRow {
        try Access.read(pid: pid, peer: peer, capacity: 4096) { files throws(ProcError) in try processRow(&files) }
    }

    /// pageStats without an interval: counters now.
    static func pageStats(_ params: PageStatsMethod.Params, peer: PeerCredentials) throws -> PageStatsMethod.Result {
        if let pid = params.pid { return .process(.init(source: .proc, row: try processRow(pid: pid, peer: peer))) }
        if params.all { return .processes(source: .proc, processes(peer: peer)) }
        let (counters, vmstat) = try systemCounters()
        return .system(.init(source: .proc, counters: counters, raw: vmstat))
    }

    /// pageStats with an interval: two samples `intervalMs` apart, and the rates.
    static func pageStats(
        sampling params: PageStatsMethod.Params,
        peer: PeerCredentials
    ) async throws -> PageStatsMethod.Result {
        let seconds = Double(params.intervalMs) / 1000
        if let pid = params.pid {
            let first = try processRow(pid: pid, peer: peer)
            let clock = ContinuousClock()
            let start = clock.now
            try await Task.sleep(for: .milliseconds(params.intervalMs))
            let second = try processRow(pid: pid, peer: peer)
            let elapsed = (clock.now - start).seconds
            return .process(
                .init(
                    source: .proc,
                    row: second,
                    since: first,
                    intervalMs: params.intervalMs,
                    seconds: max(elapsed, seconds)
                )
            )
        }
        let clock = ContinuousClock()
        let (first, _) = try systemCounters()
        let start = clock.now
        try await Task.sleep(for: .milliseconds(params.intervalMs))
        let (second, vmstat) = try systemCounters()
        let elapsed = (clock.now - start).seconds
        let rates = PagingRates(from: first, to: second, seconds: elapsed)
        return .system(.init(source: .proc, counters: second, raw: vmstat, interval: (params.intervalMs, rates)))
    }

    /// Every process the caller may see; one that exits (or changes owner) while being read is skipped.
    static func processes(peer: PeerCredentials) -> [PageStatsMethod.ProcessRow] {
        (try? processIDs())?.compactMap { pid in try? processRow(pid: pid, peer: peer) } ?? []
    }
}

extension Duration {
    var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
