/// One line as the client sent it, classified once: a single entry, a batch, or
/// unreadable JSON.
///
/// The envelope is decoded once and each member checked in turn, so a parse
/// error (-32700) and an invalid request (-32600) are always told apart.
public enum Message: Sendable {
    case single(Entry)
    case batch([Entry])
    case parseError(RPCError)
    /// `[]`: one -32600 error with id null.
    case emptyBatch
    /// A batch of more than `maxBatch` entries, found while parsing (the rest is never built).
    case batchTooLarge(limit: Int)

    public static func parse(_ line: UnsafeBufferPointer<UInt8>, maxBatch: Int = .max) -> Message {
        let json: JSON
        do {
            json = try JSONParser.parse(line, maxTopLevelElements: maxBatch)
        } catch {
            if error.isOverElementLimit { return .batchTooLarge(limit: maxBatch) }
            return .parseError(.parseError(error.description))
        }
        switch json {
        case .array(let elements):
            return elements.isEmpty ? .emptyBatch : .batch(elements.map(Entry.init))
        default:
            return .single(Entry(json))
        }
    }

    public static func parse(_ line: [UInt8], maxBatch: Int = .max) -> Message {
        line.withUnsafeBufferPointer { parse($0, maxBatch: maxBatch) }
    }
}

/// One member of a message: a request to answer, a notification never answered,
/// or something invalid that gets -32600 (with its id when the id is usable).
public enum Entry: Sendable {
    case request(Request)
    case notification(Request)
    case invalid(id: JSON, RPCError)

    static let members: Set<String> = ["jsonrpc", "method", "params", "id"]

    public init(_ json: JSON) {
        guard case .object(let object) = json else {
            self = .invalid(id: .null, .invalidRequest("a request must be a JSON object, not \(json.typeName)"))
            return
        }
        let rawID = object["id"]
        let id: JSON?
        switch rawID {
        case nil: id = nil
        // `.raw`: a number kept as its text by the parser (JSONParser.idNumber), echoed as is.
        case .string?, .int?, .double?, .raw?, .null?: id = rawID
        default: id = nil
        }
        func invalid(_ reason: String) -> Entry { .invalid(id: id ?? .null, .invalidRequest(reason)) }

        if let rawID, id == nil {
            self = invalid("id must be a string, number or null, not \(rawID.typeName)")
            return
        }
        if let unknown = object.keys.first(where: { !Entry.members.contains($0) }) {
            self = invalid("unknown member '\(unknown)'")
            return
        }
        guard object["jsonrpc"] == .string("2.0") else {
            self = invalid("\"jsonrpc\" must be \"2.0\"")
            return
        }
        guard case .string(let method)? = object["method"] else {
            self = invalid(object["method"] == nil ? "missing \"method\"" : "\"method\" must be a string")
            return
        }
        let params: Request.Params
        switch object["params"] {
        case nil: params = .none
        case .object(let members)?: params = .byName(members)
        case .array(let elements)?: params = .byPosition(elements)
        case let other?:
            self = invalid("\"params\" must be an object or an array, not \(other.typeName)")
            return
        }
        let request = Request(id: id ?? .null, method: method, params: params)
        self = id == nil ? .notification(request) : .request(request)
    }
}

public struct Request: Sendable {
    public enum Params: Sendable {
        case none
        case byName(JSONObject)
        case byPosition([JSON])
    }

    /// The id exactly as sent (string, number or null); `null` for notifications. A
    /// number whose text is not an `Int`'s is `.raw`, its text as sent.
    public var id: JSON
    public var method: String
    public var params: Params

    public init(id: JSON, method: String, params: Params) {
        self.id = id
        self.method = method
        self.params = params
    }
}

/// Writes response lines: one compact JSON text and `\n`.
public enum Response {
    public static func result(id: JSON, _ result: JSON) -> [UInt8] {
        var writer = JSONWriter(capacity: 512 + result.rawByteCount)
        writeHead(id: id, into: &writer)
        writer.write(result)
        writer.append(resultTail)
        return writer.bytes
    }

    /// The text of a result line before the result: `{"jsonrpc":"2.0","id":ID,"result":`. A
    /// server that holds a result's text already writes this, the text, and ``resultTail``.
    public static func writeHead(id: JSON, into writer: inout JSONWriter) {
        writer.append("{\"jsonrpc\":\"2.0\",\"id\":")
        writer.write(id)
        writer.append(",\"result\":")
    }

    /// The text of a result line after the result.
    public static let resultTail: StaticString = "}\n"

    public static func error(id: JSON, _ error: RPCError) -> [UInt8] {
        var writer = JSONWriter(capacity: 256)
        writer.append("{\"jsonrpc\":\"2.0\",\"id\":")
        writer.write(id)
        writer.append(",\"error\":")
        writer.write(error.json)
        writer.append("}\n")
        return writer.bytes
    }

    /// A batch response: the member lines joined into one array line.
    public static func batch(_ lines: [[UInt8]]) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(ascii: "[")]
        bytes.reserveCapacity(lines.reduce(2) { $0 + $1.count })
        for (offset, line) in lines.enumerated() {
            if offset > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: line.dropLast())  // each member without its "\n"
        }
        bytes.append(contentsOf: [UInt8(ascii: "]"), UInt8(ascii: "\n")])
        return bytes
    }
}
