/// Reads a method's named params, each checked for type and range, with errors
/// (-32602) that name the param and say why.
///
/// Every member read is remembered; ``finish()`` rejects the ones nobody read,
/// so a misspelt param (`"pdi"`) is an error, not silently ignored.
public struct ParamReader: Sendable {
    public let object: JSONObject
    private var used: Set<String> = []

    public init(_ object: JSONObject) { self.object = object }

    /// Params as a request carries them: by name, or absent. By position is -32602.
    public init(_ params: Request.Params) throws(RPCError) {
        switch params {
        case .none: self.init([:])
        case .byName(let object): self.init(object)
        case .byPosition:
            throw .invalidParams(nil, "params must be an object (by name), not an array")
        }
    }

    /// The raw value of a param (null counts as absent).
    public mutating func value(_ name: String) -> JSON? {
        used.insert(name)
        guard let value = object[name], !value.isNull else { return nil }
        return value
    }

    public mutating func has(_ name: String) -> Bool { value(name) != nil }

    public mutating func finish() throws(RPCError) {
        if let unknown = object.keys.first(where: { !used.contains($0) }) {
            throw .invalidParams(unknown, "unknown param")
        }
    }

    public mutating func int(_ name: String, min: Int? = nil, max: Int? = nil) throws(RPCError) -> Int? {
        guard let value = value(name) else { return nil }
        guard let int = value.intValue else { throw .invalidParams(name, "must be an integer, not \(value.typeName)") }
        if let min, int < min { throw .invalidParams(name, "must be at least \(min), got \(int)") }
        if let max, int > max { throw .invalidParams(name, "must be at most \(max), got \(int)") }
        return int
    }

    public mutating func requiredInt(_ name: String, min: Int? = nil, max: Int? = nil) throws(RPCError) -> Int {
        guard let int = try int(name, min: min, max: max) else { throw .invalidParams(name, "required") }
        return int
    }

    public mutating func bool(_ name: String) throws(RPCError) -> Bool? {
        guard let value = value(name) else { return nil }
        guard let bool = value.boolValue else { throw .invalidParams(name, "must be a boolean, not \(value.typeName)") }
        return bool
    }

    public mutating func string(_ name: String) throws(RPCError) -> String? {
        guard let value = value(name) else { return nil }
        guard let string = value.stringValue else {
            throw .invalidParams(name, "must be a string, not \(value.typeName)")
        }
        return string
    }

    public mutating func requiredString(_ name: String) throws(RPCError) -> String {
        guard let string = try string(name) else { throw .invalidParams(name, "required") }
        return string
    }

    /// One of a fixed set of strings, as an enum.
    public mutating func choice<T: RawRepresentable & CaseIterable>(
        _ name: String,
        as type: T.Type
    )
        throws(RPCError) -> T? where T.RawValue == String
    {
        guard let string = try string(name) else { return nil }
        guard let choice = T(rawValue: string) else {
            let allowed = T.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            throw .invalidParams(name, "must be one of \(allowed), not \"\(string)\"")
        }
        return choice
    }

    /// An address or offset: a `0x` hex string (any case) or a non-negative integer.
    public mutating func address(_ name: String) throws(RPCError) -> UInt64? {
        guard let value = value(name) else { return nil }
        return try ParamReader.address(value, name: name)
    }

    public mutating func requiredAddress(_ name: String) throws(RPCError) -> UInt64 {
        guard let address = try address(name) else { throw .invalidParams(name, "required") }
        return address
    }

    public static func address(_ value: JSON, name: String) throws(RPCError) -> UInt64 {
        switch value {
        case .int(let int) where int >= 0:
            return UInt64(int)
        case .double(let double) where double >= 0 && double.rounded() == double && double < 9.007e15:
            return UInt64(double)
        case .string(let text):
            let digits = text.hasPrefix("0x") || text.hasPrefix("0X") ? text.dropFirst(2) : Substring(text)
            guard !digits.isEmpty, digits.count <= 16, let address = UInt64(digits, radix: 16) else {
                throw .invalidParams(name, "must be a hex string like \"0x7f2b88ca2000\", not \"\(text)\"")
            }
            return address
        default:
            throw .invalidParams(name, "must be a hex string or a non-negative integer, not \(value.typeName)")
        }
    }

    public mutating func objectParam(_ name: String) throws(RPCError) -> JSONObject? {
        guard let value = value(name) else { return nil }
        guard let object = value.objectValue else {
            throw .invalidParams(name, "must be an object, not \(value.typeName)")
        }
        return object
    }

    public mutating func array(_ name: String) throws(RPCError) -> [JSON]? {
        guard let value = value(name) else { return nil }
        guard let array = value.arrayValue else {
            throw .invalidParams(name, "must be an array, not \(value.typeName)")
        }
        return array
    }
}
