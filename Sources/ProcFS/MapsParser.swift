/// Parses /proc/PID/maps and /proc/PID/smaps text into ``Mapping``s.
public enum MapsParser {
    /// One mapping a line. Paths are decoded exactly: spaces kept, ` (deleted)`
    /// recorded, the kernel's `\012` escape for a newline undone (seq_file_path
    /// escapes only `\n`).
    public static func parseMaps(_ bytes: UnsafeBufferPointer<UInt8>) throws(ProcError) -> [Mapping] {
        try parse(bytes, reading: .maps, expected: bytes.count / 80 + 1)
    }

    /// Header lines as in maps, each followed by `Key: N kB` lines (and VmFlags).
    /// With `fields`, every line of each mapping too (``Mapping/smaps``).
    public static func parseSmaps(
        _ bytes: UnsafeBufferPointer<UInt8>,
        fields: Bool = false
    ) throws(ProcError)
        -> [Mapping]
    {
        try parse(bytes, reading: fields ? .smapsFields : .smaps, expected: bytes.count / 600 + 1)
    }

    /// What a read of maps or smaps keeps.
    public enum Reading: Sendable {
        /// /proc/PID/maps: the header lines.
        case maps
        /// /proc/PID/smaps, the figures of ``SmapsDetail`` (the `detail` of `maps`).
        case smaps
        /// /proc/PID/smaps, those figures and every line as named (``SmapsFields``, pmap -X):
        /// a copy of each key, so only when asked for.
        case smapsFields
    }

    static func parse(
        _ bytes: UnsafeBufferPointer<UInt8>,
        reading: Reading,
        expected: Int
    ) throws(ProcError)
        -> [Mapping]
    {
        var mappings: [Mapping] = []
        mappings.reserveCapacity(expected)
        var stream = Stream(reading: reading)
        try stream.feed(bytes) { mappings.append($0) }
        try stream.finish { mappings.append($0) }
        return mappings
    }

    /// The parser of maps or smaps text that comes in pieces of whole lines (a read at a
    /// time, see ``PieceReader``): each mapping is handed on as
    /// soon as it is complete, so no list of 60,000 mappings needs to exist.
    public struct Stream {
        let smaps: Bool
        let keepsFields: Bool
        /// smaps: the header line of the mapping whose `Key: N kB` lines are being read (a copy:
        /// the read buffer moves on under it), and its figures and lines so far (kept apart: a
        /// field line must not copy the whole mapping in and out).
        var pending: [UInt8] = []
        var isPending = false
        var detail = SmapsDetail()
        var fields = SmapsFields()

        public init(reading: Reading) {
            smaps = reading != .maps
            keepsFields = reading == .smapsFields
        }

        /// Parses whole lines, handing each completed mapping to `emit`.
        public mutating func feed(
            _ lines: UnsafeBufferPointer<UInt8>,
            _ emit: (Mapping) throws(ProcError) -> Void
        ) throws(ProcError) {
            try feedLines(lines) { line, detail, fields throws(ProcError) in
                try emit(Mapping(line, detail: detail, smaps: fields))
            }
        }

        /// At EOF: hands on the mapping being read, with its figures.
        public mutating func finish(_ emit: (Mapping) throws(ProcError) -> Void) throws(ProcError) {
            try finishLines { line, detail, fields throws(ProcError) in
                try emit(Mapping(line, detail: detail, smaps: fields))
            }
        }

        /// Parses whole lines, handing each completed mapping to `emit` as its header line where
        /// it lies (valid during the call), with its smaps figures (reading smaps) and lines
        /// (``Reading/smapsFields``): nothing is allocated per mapping.
        public mutating func feedLines(
            _ lines: UnsafeBufferPointer<UInt8>,
            _ emit: (MapsLine, SmapsDetail?, SmapsFields?) throws(ProcError) -> Void
        ) throws(ProcError) {
            var scanner = ByteScanner(lines)
            // The figures so far in a local: a field line touches nothing else.
            var figures = detail
            defer { detail = figures }
            while !scanner.isAtEnd {
                let line = scanner.line()
                guard let first = line.first else { continue }
                if !smaps {
                    try emit(try MapsLine(line), nil, nil)
                } else if isLowerHex(first) {
                    detail = figures
                    try finishLines(emit)
                    figures = SmapsDetail()
                    pending.removeAll(keepingCapacity: true)
                    pending.append(contentsOf: UnsafeBufferPointer(rebasing: line))
                    isPending = true
                } else {
                    addField(line, to: &figures)
                    if keepsFields { fields.add(line) }
                }
            }
        }

        /// At EOF (and at each smaps header): hands on the mapping being read, with its figures.
        public mutating func finishLines(
            _ emit: (MapsLine, SmapsDetail?, SmapsFields?) throws(ProcError) -> Void
        ) throws(ProcError) {
            guard isPending else {
                detail = SmapsDetail()  // figures before any header belong to no mapping
                fields = SmapsFields()
                return
            }
            isPending = false
            let figures = detail
            detail = SmapsDetail()
            var lines: SmapsFields? = nil
            if keepsFields {
                lines = fields
                fields = SmapsFields()
            }
            try pending.withUnsafeBufferPointer { header throws(ProcError) in
                try emit(try MapsLine(header[...]), figures, lines)
            }
        }
    }

    /// /proc/PID/smaps_rollup: one header, then the totals.
    public static func parseRollup(_ bytes: UnsafeBufferPointer<UInt8>) -> SmapsDetail {
        var scanner = ByteScanner(bytes)
        var detail = SmapsDetail()
        while !scanner.isAtEnd {
            let line = scanner.line()
            guard let first = line.first, !isLowerHex(first) else { continue }
            addField(line, to: &detail)
        }
        return detail
    }

    static func isLowerHex(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66)
    }

    /// Adds a `Key:  N kB` line of smaps to `detail`; a key it does not keep (13 of smaps' 24
    /// lines a mapping) is passed over before its figure is read.
    static func addField(_ line: Slice<UnsafeBufferPointer<UInt8>>, to detail: inout SmapsDetail) {
        let text = UnsafeBufferPointer(rebasing: line)
        guard let colon = ByteScanner.find(UInt8(ascii: ":"), in: text, from: 0),
            let figure = SmapsDetail.Figure(key: UnsafeBufferPointer(rebasing: text[..<colon]))
        else { return }
        var value = ByteScanner(UnsafeBufferPointer(rebasing: text[(colon + 1)...]))
        guard let bytes = value.kibibytes() else { return }
        value.skipSpaces()
        guard value.hasPrefix("kB") else { return }
        detail.set(figure, bytes: bytes)
    }

    static let newlineEscape = Array("\\012".utf8)

    /// Undoes seq_file's `\012` (newline) escape.
    static func decodeEscapes(_ name: Slice<UnsafeBufferPointer<UInt8>>) -> String {
        guard name.contains(UInt8(ascii: "\\")) else { return String(name) }
        var out: [UInt8] = []
        out.reserveCapacity(name.count)
        var i = name.startIndex
        while i < name.endIndex {
            if name[i] == UInt8(ascii: "\\"), name.endIndex - i >= 4, name[i..<(i + 4)].elementsEqual(newlineEscape) {
                out.append(0x0A)
                i += 4
            } else {
                out.append(name[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
