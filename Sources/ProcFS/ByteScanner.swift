#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A forward cursor over bytes of /proc text: lines, spaces, decimal and hex numbers.
struct ByteScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var index: Int

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        self.index = bytes.startIndex
    }

    var isAtEnd: Bool { index >= bytes.endIndex }

    /// The bytes up to the next `\n` (not included); moves past it.
    mutating func line() -> Slice<UnsafeBufferPointer<UInt8>> {
        let start = index
        index = ByteScanner.find(0x0A, in: bytes, from: start) ?? bytes.endIndex
        let line = bytes[start..<index]
        if index < bytes.endIndex { index += 1 }
        return line
    }

    /// The index of the first `byte` at or after `from` (memchr: a 43 MB smaps is 1.5 million
    /// lines), or nil.
    static func find(_ byte: UInt8, in bytes: UnsafeBufferPointer<UInt8>, from: Int) -> Int? {
        guard from < bytes.endIndex, let base = bytes.baseAddress else { return nil }
        guard let found = memchr(base + from, Int32(byte), bytes.endIndex - from) else { return nil }
        return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
    }

    mutating func skipSpaces() {
        while index < bytes.endIndex, bytes[index] == 0x20 || bytes[index] == 0x09 { index += 1 }
    }

    /// A decimal of at least 0; nil when there is none, or when it does not fit in `Int` (its
    /// digits are passed over either way): no kernel prints such a figure, and a wrapped one would
    /// turn into a negative size further on.
    mutating func unsignedDecimal() -> Int? {
        skipSpaces()
        var value = 0
        var fits = true
        let start = index
        while index < bytes.endIndex, bytes[index] >= 0x30, bytes[index] <= 0x39 {
            let digit = Int(bytes[index] &- 0x30)
            if index - start < 18 {
                value = value &* 10 &+ digit  // 18 digits always fit
            } else {
                let (times, over) = value.multipliedReportingOverflow(by: 10)
                let (sum, carry) = times.addingReportingOverflow(digit)
                fits = fits && !over && !carry
                value = sum
            }
            index += 1
        }
        return index > start && fits ? value : nil
    }

    /// The most KiB a kernel figure read here may be: 2^50 (an exbibyte, beyond any machine), so
    /// that its bytes fit in 2^60 and free's, sar's and ps's sums of a few figures cannot overflow.
    static let maxKibibytes = 1 << 50

    /// A count of KiB (`VmRSS:  1234 kB`, smaps' and meminfo's lines) as bytes; nil when there is
    /// no decimal or it is above ``maxKibibytes``.
    mutating func kibibytes() -> Int? {
        unsignedDecimal().flatMap { $0 <= Self.maxKibibytes ? $0 * 1024 : nil }
    }

    /// A signed decimal (/proc/PID/stat has negative priorities).
    mutating func decimal() -> Int? {
        skipSpaces()
        if index < bytes.endIndex, bytes[index] == UInt8(ascii: "-") {
            index += 1
            return unsignedDecimal().map { -$0 }
        }
        return unsignedDecimal()
    }

    /// A hexadecimal of at most 64 bits (nil beyond: it would lose its top digits).
    mutating func hex() -> UInt64? {
        var value: UInt64 = 0
        let start = index
        while index < bytes.endIndex {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte - 0x30
            case 0x61...0x66: digit = byte - 0x61 + 10
            case 0x41...0x46: digit = byte - 0x41 + 10
            default: return index > start ? value : nil
            }
            guard value >> 60 == 0 else { return nil }
            value = value << 4 | UInt64(digit)
            index += 1
        }
        return index > start ? value : nil
    }

    /// The bytes up to the next space (a field); moves past them, not the space.
    mutating func word() -> Slice<UnsafeBufferPointer<UInt8>> {
        skipSpaces()
        let start = index
        while index < bytes.endIndex, bytes[index] != 0x20, bytes[index] != 0x0A { index += 1 }
        return bytes[start..<index]
    }

    mutating func expect(_ byte: UInt8) -> Bool {
        guard index < bytes.endIndex, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    func hasPrefix(_ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard bytes.endIndex - index >= count else { return false }
        for offset in 0..<count where bytes[index + offset] != text.utf8Start[offset] { return false }
        return true
    }
}

extension String {
    init(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) {
        self = String(decoding: UnsafeBufferPointer(rebasing: bytes), as: UTF8.self)
    }
}
