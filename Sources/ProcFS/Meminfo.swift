/// /proc/meminfo as the kernel wrote it: every key, in order, with its value.
///
/// `kB` values are converted to bytes (fs/proc/meminfo.c prints KiB); unitless
/// ones (HugePages_Total, …) stay counts. Keys this code has never heard of are
/// kept like the others.
public struct Meminfo: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var key: String
        /// Bytes for `kB` entries, else the count as printed.
        public var value: Int
        public var isBytes: Bool

        public init(key: String, value: Int, isBytes: Bool) {
            self.key = key
            self.value = value
            self.isBytes = isBytes
        }
    }

    public var entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }

    /// The value of `key`. Lengths are compared first: a `meminfo` call looks up ~25 keys among
    /// ~55, and most keys differ in length (String's `==` on two different keys is its slow path).
    public subscript(key: String) -> Int? {
        let length = key.utf8.count
        for entry in entries where entry.key.utf8.count == length && entry.key == key { return entry.value }
        return nil
    }

    /// Parses `Key:   value kB` lines.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(ProcError) -> Meminfo {
        var entries: [Entry] = []
        entries.reserveCapacity(64)
        var scanner = ByteScanner(bytes)
        while !scanner.isAtEnd {
            let line = scanner.line()
            guard !line.isEmpty else { continue }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
                throw .malformed(path: "/proc/meminfo", reason: "line without ':'")
            }
            let key = String(decoding: UnsafeBufferPointer(rebasing: line[line.startIndex..<colon]), as: UTF8.self)
            var fields = ByteScanner(UnsafeBufferPointer(rebasing: line[(colon + 1)...]))
            guard let value = fields.unsignedDecimal() else {
                throw .malformed(path: "/proc/meminfo", reason: "no number for \(key)")
            }
            fields.skipSpaces()
            let isBytes = fields.hasPrefix("kB")
            guard value <= ByteScanner.maxKibibytes else {
                throw .malformed(path: "/proc/meminfo", reason: "\(key) is beyond any machine (\(value))")
            }
            entries.append(Entry(key: key, value: isBytes ? value * 1024 : value, isBytes: isBytes))
        }
        return Meminfo(entries: entries)
    }

    public static func parse(_ bytes: [UInt8]) throws(ProcError) -> Meminfo {
        try bytes.withUnsafeBufferPointer { buffer throws(ProcError) in try parse(buffer) }
    }
}
