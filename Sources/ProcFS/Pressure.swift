/// Pressure stall information (PSI) for one resource: /proc/pressure/memory,
/// /proc/pressure/io, /proc/pressure/cpu, or a cgroup v2 `memory.pressure`.
///
/// kernel/sched/psi.c `psi_show()` writes one line per kind of stall:
///
///     some avg10=0.00 avg60=0.00 avg300=0.00 total=0
///     full avg10=0.00 avg60=0.00 avg300=0.00 total=0
///
/// `some`: at least one task stalled on the resource; `full`: every non-idle
/// task stalled at once. `avg*` are percentages of wall time over 10 s, 60 s,
/// 300 s; `total` is the cumulative stall time in microseconds. The system-wide
/// cpu file has a `full` line only since Linux 5.13; the file is absent without
/// CONFIG_PSI, and reading it fails with EOPNOTSUPP when booted with `psi=0`.
public struct Pressure: Sendable, Equatable {
    /// One line: the three running averages and the cumulative total.
    public struct Stall: Sendable, Equatable {
        /// Percent of the last 10, 60 and 300 seconds spent stalled.
        public var avg10, avg60, avg300: Double
        /// Microseconds stalled since boot (or since the cgroup was created).
        public var totalMicroseconds: Int

        public init(avg10: Double, avg60: Double, avg300: Double, totalMicroseconds: Int) {
            self.avg10 = avg10
            self.avg60 = avg60
            self.avg300 = avg300
            self.totalMicroseconds = totalMicroseconds
        }

        /// `total` in seconds, as node_exporter's pressure collector reports it.
        public var totalSeconds: Double { Double(totalMicroseconds) / 1e6 }
    }

    public var some: Stall
    /// Absent in the system-wide cpu file before Linux 5.13.
    public var full: Stall?

    public init(some: Stall, full: Stall?) {
        self.some = some
        self.full = full
    }

    /// Parses the `some` and `full` lines; unknown lines and unknown `key=value`
    /// fields (a future kernel's) are skipped.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>, path: String) throws(ProcError) -> Pressure {
        var some: Stall?
        var full: Stall?
        var scanner = ByteScanner(bytes)
        while !scanner.isAtEnd {
            var line = ByteScanner(UnsafeBufferPointer(rebasing: scanner.line()))
            let kind = String(line.word())
            guard kind == "some" || kind == "full" else { continue }
            var stall = Stall(avg10: 0, avg60: 0, avg300: 0, totalMicroseconds: 0)
            var sawTotal = false
            while !line.isAtEnd {
                var field = ByteScanner(UnsafeBufferPointer(rebasing: line.word()))
                if field.isAtEnd { break }
                let key = field.key()
                switch key {
                case "avg10": stall.avg10 = try field.fixedPoint(path: path)
                case "avg60": stall.avg60 = try field.fixedPoint(path: path)
                case "avg300": stall.avg300 = try field.fixedPoint(path: path)
                case "total":
                    guard let total = field.unsignedDecimal(), field.isAtEnd else {
                        throw .malformed(path: path, reason: "\(kind): total is not a number")
                    }
                    stall.totalMicroseconds = total
                    sawTotal = true
                default: continue
                }
            }
            guard sawTotal else { throw .malformed(path: path, reason: "\(kind) line without total=") }
            if kind == "some" { some = stall } else { full = stall }
        }
        guard let some else { throw .malformed(path: path, reason: "no 'some' line") }
        return Pressure(some: some, full: full)
    }

    public static func parse(_ bytes: [UInt8], path: String) throws(ProcError) -> Pressure {
        try bytes.withUnsafeBufferPointer { buffer throws(ProcError) in try parse(buffer, path: path) }
    }
}

extension ProcReader {
    /// /proc/pressure/memory: system-wide memory stalls (Linux 4.20+, CONFIG_PSI).
    public mutating func memoryPressure() throws(ProcError) -> Pressure {
        let path = "\(root)/pressure/memory"
        return try parse(path) { bytes throws(ProcError) in try Pressure.parse(bytes, path: path) }
    }

    /// Any PSI file by path, e.g. a cgroup v2 `memory.pressure`.
    public mutating func pressure(path: String) throws(ProcError) -> Pressure {
        try parse(path) { bytes throws(ProcError) in try Pressure.parse(bytes, path: path) }
    }
}

extension ByteScanner {
    /// The bytes before `=` (moves past it), as text; the whole field if it has no `=`.
    fileprivate mutating func key() -> String {
        let start = index
        while index < bytes.endIndex, bytes[index] != UInt8(ascii: "=") { index += 1 }
        let key = String(bytes[start..<index])
        if index < bytes.endIndex { index += 1 }
        return key
    }

    /// `12.34` as psi.c prints it (LOAD_INT "." LOAD_FRAC, two decimals), to the end of the field.
    fileprivate mutating func fixedPoint(path: String) throws(ProcError) -> Double {
        guard let whole = unsignedDecimal() else { throw .malformed(path: path, reason: "average is not a number") }
        // Digits as one integer over a power of ten: one correctly rounded division, so
        // "1.53" is exactly the literal 1.53.
        var scaled = whole
        var divisor = 1
        if expect(UInt8(ascii: ".")) {
            while index < bytes.endIndex, bytes[index] >= 0x30, bytes[index] <= 0x39, divisor < 1_000_000_000 {
                scaled = scaled &* 10 &+ Int(bytes[index] - 0x30)
                divisor *= 10
                index += 1
            }
        }
        let value = Double(scaled) / Double(divisor)
        guard isAtEnd else { throw .malformed(path: path, reason: "average is not a number") }
        return value
    }
}
