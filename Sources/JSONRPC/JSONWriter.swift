/// Writes compact JSON (no spaces, no newlines inside) as UTF-8 bytes.
///
/// Strings are escaped as RFC 8259 requires; non-finite doubles, which JSON
/// cannot carry, are written as `null`.
public struct JSONWriter {
    public var bytes: [UInt8]

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public static func encode(_ value: JSON) -> [UInt8] {
        var writer = JSONWriter()
        writer.write(value)
        return writer.bytes
    }

    public static func string(_ value: JSON) -> String {
        String(decoding: encode(value), as: UTF8.self)
    }

    public mutating func write(_ value: JSON) {
        switch value {
        case .null: append("null")
        case .bool(let b): append(b ? "true" : "false")
        case .int(let i): writeInt(i)
        case .double(let d): writeDouble(d)
        case .string(let s): writeString(s)
        case .array(let elements):
            bytes.append(UInt8(ascii: "["))
            for (offset, element) in elements.enumerated() {
                if offset > 0 { bytes.append(UInt8(ascii: ",")) }
                write(element)
            }
            bytes.append(UInt8(ascii: "]"))
        case .raw(let text):
            bytes.append(contentsOf: text)
        case .object(let object):
            bytes.append(UInt8(ascii: "{"))
            for (offset, member) in object.members.enumerated() {
                if offset > 0 { bytes.append(UInt8(ascii: ",")) }
                writeString(member.key)
                bytes.append(UInt8(ascii: ":"))
                write(member.value)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    /// Appends raw text (a key with its quotes and colon, punctuation).
    @inlinable
    public mutating func append(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    @inlinable
    public mutating func writeInt(_ value: Int) {
        if value == 0 {
            bytes.append(UInt8(ascii: "0"))
            return
        }
        var magnitude = value.magnitude
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var count = 0
            while magnitude > 0 {
                digits[count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            }
            while count > 0 {
                count -= 1
                bytes.append(digits[count])
            }
        }
    }

    mutating func writeDouble(_ value: Double) {
        guard value.isFinite else {
            append("null")
            return
        }
        if value.rounded() == value, abs(value) < 1e15 {
            writeInt(Int(value))
            return
        }
        bytes.append(contentsOf: value.description.utf8)
    }

    @usableFromInline
    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Writes `"0x…"`: an address as the protocol carries it, without building a String.
    @inlinable
    public mutating func writeHex(_ value: UInt64) {
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: "0"), UInt8(ascii: "x")])
        if value == 0 {
            bytes.append(UInt8(ascii: "0"))
        } else {
            var shift = (64 - value.leadingZeroBitCount + 3) / 4 * 4
            while shift > 0 {
                shift -= 4
                bytes.append(JSONWriter.hexDigits[Int((value >> UInt64(shift)) & 0xF)])
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    @inlinable
    public mutating func writeString(_ string: String) {
        bytes.append(UInt8(ascii: "\""))
        if string.utf8.withContiguousStorageIfAvailable({ writeEscaped($0) }) == nil {
            var native = string  // a bridged or lazy string: made contiguous first
            native.withUTF8 { writeEscaped($0) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// The bytes of a string, escaped as RFC 8259 requires (without the quotes).
    @inlinable
    mutating func writeEscaped(_ utf8: UnsafeBufferPointer<UInt8>) {
        var runStart = 0
        for index in 0..<utf8.count {
            let byte = utf8[index]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            if runStart < index { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index])) }
            runStart = index + 1
            bytes.append(UInt8(ascii: "\\"))
            switch byte {
            case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\"))
            case 0x0A: bytes.append(UInt8(ascii: "n"))
            case 0x0D: bytes.append(UInt8(ascii: "r"))
            case 0x09: bytes.append(UInt8(ascii: "t"))
            default:
                bytes.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                bytes.append(JSONWriter.hexDigits[Int(byte >> 4)])
                bytes.append(JSONWriter.hexDigits[Int(byte & 0xF)])
            }
        }
        if runStart < utf8.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...])) }
    }
}

extension JSON: CustomStringConvertible {
    /// Compact JSON text.
    public var description: String { JSONWriter.string(self) }
}

/// Writes a piece of JSON text of known greatest length into memory of that size (a stack buffer
/// appended to a ``JSONWriter`` in one go, or the memory a large result is sent from): for the many
/// small members of a large result (60,000 mappings), where a capacity check per member costs
/// more than the writing. Its small writes are inlined into the writer's caller.
public struct FixedWriter {
    @usableFromInline let base: UnsafeMutablePointer<UInt8>
    @usableFromInline let capacity: Int
    @usableFromInline var count = 0

    /// The bytes written so far.
    @inlinable public var written: Int { count }

    /// A writer of at most `capacity` bytes at `base`.
    @inlinable public init(base: UnsafeMutablePointer<UInt8>, capacity: Int) {
        self.base = base
        self.capacity = capacity
    }

    @inlinable @inline(__always)
    public mutating func append(_ text: StaticString) {
        let n = text.utf8CodeUnitCount
        precondition(count + n <= capacity, "FixedWriter overflow")
        (base + count).update(from: text.utf8Start, count: n)
        count += n
    }

    /// `"0x…"`, lower-case hex without leading zeros (at most 21 bytes).
    @inlinable @inline(__always)
    public mutating func writeHex(_ value: UInt64) {
        precondition(count + 21 <= capacity, "FixedWriter overflow")
        base[count] = UInt8(ascii: "\"")
        base[count + 1] = UInt8(ascii: "0")
        base[count + 2] = UInt8(ascii: "x")
        count += 3
        var shift = value == 0 ? 4 : (64 - value.leadingZeroBitCount + 3) / 4 * 4
        while shift > 0 {
            shift -= 4
            let digit = UInt8((value >> UInt64(shift)) & 0xF)
            base[count] = digit < 10 ? 0x30 + digit : 0x57 + digit
            count += 1
        }
        base[count] = UInt8(ascii: "\"")
        count += 1
    }

    /// The most bytes ``writeString(_:)`` writes for a string of `utf8Count` bytes: each may
    /// become a six-byte `\u00XX`, and the quotes.
    @inlinable
    public static func maxStringBytes(utf8Count: Int) -> Int { utf8Count * 6 + 2 }

    /// A quoted string, escaped as RFC 8259 requires (as ``JSONWriter/writeString(_:)``).
    @inlinable
    public mutating func writeString(_ string: String) {
        var string = string
        string.withUTF8 { writeString(utf8: $0) }
    }

    /// A quoted string of UTF-8 bytes, escaped as RFC 8259 requires (bytes that are not UTF-8
    /// are copied as they are: a String's bytes always are).
    @inlinable
    public mutating func writeString(utf8: UnsafeBufferPointer<UInt8>) {
        precondition(count + FixedWriter.maxStringBytes(utf8Count: utf8.count) <= capacity, "FixedWriter overflow")
        base[count] = UInt8(ascii: "\"")
        count += 1
        for byte in utf8 {
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else {
                base[count] = byte
                count += 1
                continue
            }
            base[count] = UInt8(ascii: "\\")
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): base[count + 1] = byte
            case 0x0A: base[count + 1] = UInt8(ascii: "n")
            case 0x0D: base[count + 1] = UInt8(ascii: "r")
            case 0x09: base[count + 1] = UInt8(ascii: "t")
            default:
                base[count + 1] = UInt8(ascii: "u")
                base[count + 2] = UInt8(ascii: "0")
                base[count + 3] = UInt8(ascii: "0")
                base[count + 4] = JSONWriter.hexDigits[Int(byte >> 4)]
                base[count + 5] = JSONWriter.hexDigits[Int(byte & 0xF)]
                count += 4
            }
            count += 2
        }
        base[count] = UInt8(ascii: "\"")
        count += 1
    }

    /// A decimal integer (at most 20 bytes).
    @inlinable @inline(__always)
    public mutating func writeInt(_ value: Int) {
        precondition(count + 20 <= capacity, "FixedWriter overflow")
        if value < 0 {
            base[count] = UInt8(ascii: "-")
            count += 1
        }
        var magnitude = value.magnitude
        var digits = 1
        var scan = magnitude
        while scan >= 10 {
            scan /= 10
            digits += 1
        }
        var index = count + digits
        count = index
        repeat {
            index -= 1
            base[index] = 0x30 + UInt8(magnitude % 10)
            magnitude /= 10
        } while magnitude > 0
    }
}

extension JSONWriter {
    /// Runs `body` on a ``FixedWriter`` of `maxBytes` and appends what it wrote.
    @inlinable
    public mutating func writeFixed(maxBytes: Int, _ body: (inout FixedWriter) -> Void) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxBytes) { buffer in
            var fixed = FixedWriter(base: buffer.baseAddress!, capacity: maxBytes)
            body(&fixed)
            bytes.append(contentsOf: UnsafeBufferPointer(start: buffer.baseAddress!, count: fixed.count))
        }
    }
}
