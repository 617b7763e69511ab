/// A value that crosses the wire as JSON, with one encoder and one decoder: a method's typed
/// `Result` (the server encodes it, clients decode it).
///
/// The encoder fixes every key, its order, its type, and null against absent; the decoder
/// reads what the encoder writes, so `Self(json: value.json).json` is `value.json`.
public protocol WireValue: Sendable {
    var json: JSON { get }
    init(json: JSON) throws(WireDecodingError)
}

/// The untyped result: a JSON value is its own encoding (`rpc.discover`'s document).
extension JSON: WireValue {
    public var json: JSON { self }
    public init(json: JSON) { self = json }
}

/// A result that does not have the shape its type expects.
public struct WireDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Where in the result, as a path (`result.sar.memFree`).
    public var path: String
    public var reason: String

    public init(path: String, _ reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}

/// Reads the members of one JSON object for a ``WireValue`` decoder: each read names the
/// member, and a missing member or a wrong type throws with its path.
public struct WireReader: Sendable {
    public let object: JSONObject
    public let path: String

    public init(_ json: JSON, path: String = "result") throws(WireDecodingError) {
        guard case .object(let object) = json else {
            throw WireDecodingError(path: path, "expected an object, got \(json.typeName)")
        }
        self.object = object
        self.path = path
    }

    /// The member, present (null included), else an error.
    public func value(_ key: String) throws(WireDecodingError) -> JSON {
        guard let value = object[key] else { throw WireDecodingError(path: "\(path).\(key)", "missing") }
        return value
    }

    /// The member; nil when absent or null.
    public func optional(_ key: String) -> JSON? {
        guard let value = object[key], !value.isNull else { return nil }
        return value
    }

    public func contains(_ key: String) -> Bool { object[key] != nil }

    func typed<T>(_ key: String, _ type: String, _ read: (JSON) -> T?) throws(WireDecodingError) -> T {
        let value = try value(key)
        guard let typed = read(value) else {
            throw WireDecodingError(path: "\(path).\(key)", "expected \(type), got \(value.typeName)")
        }
        return typed
    }

    func optionalTyped<T>(_ key: String, _ type: String, _ read: (JSON) -> T?) throws(WireDecodingError) -> T? {
        guard optional(key) != nil else { return nil }
        return try typed(key, type, read)
    }

    public func int(_ key: String) throws(WireDecodingError) -> Int { try typed(key, "an integer") { $0.intValue } }
    public func double(_ key: String) throws(WireDecodingError) -> Double {
        try typed(key, "a number") { $0.doubleValue }
    }
    public func string(_ key: String) throws(WireDecodingError) -> String {
        try typed(key, "a string") { $0.stringValue }
    }
    public func bool(_ key: String) throws(WireDecodingError) -> Bool { try typed(key, "a boolean") { $0.boolValue } }
    public func array(_ key: String) throws(WireDecodingError) -> [JSON] {
        try typed(key, "an array") { $0.arrayValue }
    }
    public func objectMember(_ key: String) throws(WireDecodingError) -> JSONObject {
        try typed(key, "an object") { $0.objectValue }
    }
    /// A `0x` hex string (an address or offset).
    public func hex(_ key: String) throws(WireDecodingError) -> UInt64 {
        try typed(key, "a 0x hex string") { $0.stringValue.flatMap(parseHex) }
    }

    /// An integer that must fit `T` (a pid in Int32, a uid in UInt32): checked, never truncated.
    public func integer<T: FixedWidthInteger>(_ key: String, as type: T.Type) throws(WireDecodingError) -> T {
        try typed(key, "an integer that fits \(T.self)") { $0.intValue.flatMap(T.init(exactly:)) }
    }

    public func optionalInteger<T: FixedWidthInteger>(_ key: String, as type: T.Type) throws(WireDecodingError) -> T? {
        try optionalTyped(key, "an integer that fits \(T.self)") { $0.intValue.flatMap(T.init(exactly:)) }
    }

    /// A non-negative integer (an inode, a count), checked, never trapped on.
    public func unsigned(_ key: String) throws(WireDecodingError) -> UInt64 { try integer(key, as: UInt64.self) }

    public func optionalInt(_ key: String) throws(WireDecodingError) -> Int? {
        try optionalTyped(key, "an integer") { $0.intValue }
    }
    public func optionalDouble(_ key: String) throws(WireDecodingError) -> Double? {
        try optionalTyped(key, "a number") { $0.doubleValue }
    }
    public func optionalString(_ key: String) throws(WireDecodingError) -> String? {
        try optionalTyped(key, "a string") { $0.stringValue }
    }
    public func optionalBool(_ key: String) throws(WireDecodingError) -> Bool? {
        try optionalTyped(key, "a boolean") { $0.boolValue }
    }
    public func optionalHex(_ key: String) throws(WireDecodingError) -> UInt64? {
        try optionalTyped(key, "a 0x hex string") { $0.stringValue.flatMap(parseHex) }
    }

    /// The nested object `key`, to read on.
    public func nested(_ key: String) throws(WireDecodingError) -> WireReader {
        try WireReader(try value(key), path: "\(path).\(key)")
    }

    /// The member decoded as `T`.
    public func decode<T: WireValue>(_ key: String, as type: T.Type = T.self) throws(WireDecodingError) -> T {
        try T(json: try value(key))
    }

    /// The member decoded as `T`; nil when absent or null.
    public func decodeOptional<T: WireValue>(
        _ key: String,
        as type: T.Type = T.self
    ) throws(WireDecodingError) -> T? {
        guard let value = optional(key) else { return nil }
        return try T(json: value)
    }

    /// The array member, each element decoded as `T`.
    public func decodeArray<T: WireValue>(_ key: String, as type: T.Type = T.self) throws(WireDecodingError) -> [T] {
        var out: [T] = []
        for element in try array(key) { out.append(try T(json: element)) }
        return out
    }

    /// The array member of integers; empty when absent (a list left out when empty).
    public func ints(_ key: String) throws(WireDecodingError) -> [Int] {
        guard optional(key) != nil else { return [] }
        var out: [Int] = []
        for (index, value) in try array(key).enumerated() {
            guard let number = value.intValue else {
                throw WireDecodingError(path: "\(path).\(key)[\(index)]", "expected an integer")
            }
            out.append(number)
        }
        return out
    }

    /// The array member of strings, or nil when absent.
    public func optionalStrings(_ key: String) throws(WireDecodingError) -> [String]? {
        guard optional(key) != nil else { return nil }
        var out: [String] = []
        for (index, value) in try array(key).enumerated() {
            guard let text = value.stringValue else {
                throw WireDecodingError(path: "\(path).\(key)[\(index)]", "expected a string")
            }
            out.append(text)
        }
        return out
    }

    /// The object member as ordered integer pairs (`raw`: every /proc key, known or not).
    public func intPairs(_ key: String) throws(WireDecodingError) -> [(key: String, value: Int)] {
        var out: [(key: String, value: Int)] = []
        for member in try objectMember(key).members {
            guard let value = member.value.intValue else {
                throw WireDecodingError(path: "\(path).\(key).\(member.key)", "expected an integer")
            }
            out.append((member.key, value))
        }
        return out
    }

    /// One of `T`'s raw values.
    public func choice<T: RawRepresentable>(_ key: String, as type: T.Type = T.self) throws(WireDecodingError) -> T
    where T.RawValue == String {
        let text = try string(key)
        guard let value = T(rawValue: text) else {
            throw WireDecodingError(path: "\(path).\(key)", "unexpected value \"\(text)\"")
        }
        return value
    }
}

/// `0x…` as a number; nil when it is not one.
func parseHex(_ text: String) -> UInt64? {
    guard text.hasPrefix("0x") else { return nil }
    return UInt64(text.dropFirst(2), radix: 16)
}

extension JSONObject {
    /// An object of integer members, in order (the encoding of `raw`-like maps).
    public init(ints pairs: [(key: String, value: Int)]) {
        self.init(pairs.map { (key: $0.key, value: JSON.int($0.value)) })
    }
}
