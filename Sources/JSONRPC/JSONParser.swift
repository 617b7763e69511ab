/// Parses one JSON text from UTF-8 bytes (RFC 8259), strictly: no trailing commas,
/// no comments, no leading zeros, no lone surrogates, no trailing garbage.
///
/// Byte-level and allocation-light: this is on the hot path of every request.
public struct JSONParser {
    public struct Error: Swift.Error, Equatable, CustomStringConvertible {
        public let offset: Int
        public let reason: String
        /// The top-level array had more elements than allowed (the text may be valid JSON).
        public var isOverElementLimit = false
        public var description: String { "\(reason) at byte \(offset)" }
    }

    /// The deepest nesting accepted; deeper input is an error, never a stack overflow.
    public static let maxDepth = 512

    public static func parse(_ bytes: [UInt8]) throws(Error) -> JSON {
        try bytes.withUnsafeBufferPointer { buffer throws(Error) in try parse(buffer) }
    }

    public static func parse(_ text: String) throws(Error) -> JSON {
        try parse(Array(text.utf8))
    }

    /// Parses `buffer`; a top-level array with more than `maxTopLevelElements` elements stops the
    /// parse there (`isOverElementLimit`), before the rest is built.
    public static func parse(
        _ buffer: UnsafeBufferPointer<UInt8>,
        maxTopLevelElements: Int = .max
    ) throws(Error) -> JSON {
        var parser = Cursor(bytes: buffer)
        parser.maxTopLevelElements = maxTopLevelElements
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.index == buffer.count else { throw parser.error("unexpected data after the JSON value") }
        return value
    }

    struct Cursor {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0
        var maxTopLevelElements = Int.max

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        func error(_ reason: String) -> Error { Error(offset: index, reason: reason) }

        mutating func skipSpace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func value(depth: Int) throws(Error) -> JSON {
            guard index < bytes.count else { throw error("unexpected end of input") }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try object(depth: depth + 1)
            case UInt8(ascii: "["): return try array(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"):
                try literal("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try literal("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try literal("null")
                return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw error("unexpected character")
            }
        }

        mutating func literal(_ word: StaticString) throws(Error) {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count else { throw error("invalid literal") }
            let start = word.utf8Start
            for offset in 0..<count where bytes[index + offset] != start[offset] {
                throw error("invalid literal")
            }
            index += count
        }

        mutating func object(depth: Int) throws(Error) -> JSON {
            guard depth <= JSONParser.maxDepth else { throw error("nesting too deep") }
            index += 1
            var members: [(key: String, value: JSON)] = []
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(JSONObject(members))
            }
            while true {
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                    throw error("expected a string key")
                }
                let key = try string()
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':'") }
                index += 1
                skipSpace()
                let member = key == "id" ? try idValue(depth: depth) : try value(depth: depth)
                members.append((key: key, value: member))
                skipSpace()
                guard index < bytes.count else { throw error("unterminated object") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                } else if bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return .object(JSONObject(members))
                } else {
                    throw error("expected ',' or '}'")
                }
            }
        }

        mutating func array(depth: Int) throws(Error) -> JSON {
            guard depth <= JSONParser.maxDepth else { throw error("nesting too deep") }
            index += 1
            var elements: [JSON] = []
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            while true {
                skipSpace()
                if depth == 1, elements.count == maxTopLevelElements {
                    var tooMany = error("more than \(maxTopLevelElements) elements")
                    tooMany.isOverElementLimit = true
                    throw tooMany
                }
                elements.append(try value(depth: depth))
                skipSpace()
                guard index < bytes.count else { throw error("unterminated array") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                } else if bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return .array(elements)
                } else {
                    throw error("expected ',' or ']'")
                }
            }
        }

        /// The value of a member named `id` (a request's id, and the `id` param of
        /// `$/cancelRequest` and `watch.stop`, which name one): a number there keeps its
        /// text (``idNumber()``); anything else is an ordinary value.
        mutating func idValue(depth: Int) throws(Error) -> JSON {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "-") || isDigit(bytes[index]) else {
                return try value(depth: depth)
            }
            return try idNumber()
        }

        /// A number as an id: `.int` when its text is exactly an `Int`'s (`42`, `-7`); any
        /// other number text (`18446744073709551615`, `1.50`, `1e400`, `-0`) is kept as it
        /// came, `.raw`, so the response echoes the same digits (limits.md §5, v3).
        mutating func idNumber() throws(Error) -> JSON {
            let (start, isInteger) = try scanNumber()
            let text = UnsafeBufferPointer(rebasing: bytes[start..<index])
            if isInteger, let integer = Int(String(decoding: text, as: UTF8.self)),
                text.elementsEqual(String(integer).utf8)
            {
                return .int(integer)
            }
            return .raw(Array(text))
        }

        mutating func number() throws(Error) -> JSON {
            let (start, isInteger) = try scanNumber()
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            if isInteger, let integer = Int(text) { return .int(integer) }
            guard let double = Double(text), double.isFinite else { throw error("number out of range") }
            return .double(double)
        }

        /// Moves past a number's text (RFC 8259's grammar): where it starts, and whether it
        /// has neither fraction nor exponent.
        mutating func scanNumber() throws(Error) -> (start: Int, isInteger: Bool) {
            let start = index
            var isInteger = true
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw error("invalid number") }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
                if index < bytes.count, isDigit(bytes[index]) { throw error("leading zero in number") }
            } else {
                while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                isInteger = false
                index += 1
                guard index < bytes.count, isDigit(bytes[index]) else { throw error("invalid number") }
                while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                isInteger = false
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                    index += 1
                }
                guard index < bytes.count, isDigit(bytes[index]) else { throw error("invalid number") }
                while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            }
            return (start, isInteger)
        }

        func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

        mutating func string() throws(Error) -> String {
            index += 1  // opening quote
            let start = index
            // Fast path: no escapes, plain bytes.
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    let slice = UnsafeBufferPointer(rebasing: bytes[start..<index])
                    index += 1
                    return try validated(slice)
                }
                if byte == UInt8(ascii: "\\") || byte < 0x20 { break }
                index += 1
            }
            var scalars = Array(UnsafeBufferPointer(rebasing: bytes[start..<index]))
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    return try scalars.withUnsafeBufferPointer { buffer throws(Error) in try validated(buffer) }
                case UInt8(ascii: "\\"):
                    index += 1
                    guard index < bytes.count else { throw error("unterminated string") }
                    let escape = bytes[index]
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""): scalars.append(0x22)
                    case UInt8(ascii: "\\"): scalars.append(0x5C)
                    case UInt8(ascii: "/"): scalars.append(0x2F)
                    case UInt8(ascii: "b"): scalars.append(0x08)
                    case UInt8(ascii: "f"): scalars.append(0x0C)
                    case UInt8(ascii: "n"): scalars.append(0x0A)
                    case UInt8(ascii: "r"): scalars.append(0x0D)
                    case UInt8(ascii: "t"): scalars.append(0x09)
                    case UInt8(ascii: "u"):
                        var code = try hex4()
                        if (0xD800..<0xDC00).contains(code) {
                            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                                bytes[index + 1] == UInt8(ascii: "u")
                            else { throw error("lone surrogate in string") }
                            index += 2
                            let low = try hex4()
                            guard (0xDC00..<0xE000).contains(low) else { throw error("invalid surrogate pair") }
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00..<0xE000).contains(code) {
                            throw error("lone surrogate in string")
                        }
                        guard let scalar = Unicode.Scalar(code) else { throw error("invalid \\u escape") }
                        scalars.append(contentsOf: UTF8.encode(scalar)!)
                    default:
                        throw error("invalid escape in string")
                    }
                default:
                    guard byte >= 0x20 else { throw error("control character in string") }
                    scalars.append(byte)
                    index += 1
                }
            }
            throw error("unterminated string")
        }

        mutating func hex4() throws(Error) -> UInt32 {
            guard index + 4 <= bytes.count else { throw error("invalid \\u escape") }
            var code: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw error("invalid \\u escape")
                }
                code = code << 4 | UInt32(digit)
                index += 1
            }
            return code
        }

        func validated(_ slice: UnsafeBufferPointer<UInt8>) throws(Error) -> String {
            guard let string = String(validating: slice, as: UTF8.self) else {
                throw error("invalid UTF-8 in string")
            }
            return string
        }
    }
}
