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

    mutating func unsignedDecimal() -> Int? {
        skipSpaces()
        var value = 0
        let start = index
        while index < bytes.endIndex, bytes[index] >= 0x30, bytes[index] <= 0x39 {
            value = value &* 10 &+ Int(bytes[index] &- 0x30)
            index += 1
        }
        return index > start ? value : nil
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
