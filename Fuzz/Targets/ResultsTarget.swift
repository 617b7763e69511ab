import JSONRPC
import MemdProtocol

extension FuzzTarget {
    /// What a client makes of a response line: `<method name>\n<line>`. An error object becomes an
    /// RPCError; a result is decoded by the method's typed `Result` (memctl's decoders), and a
    /// result that decodes is one the encoder writes back as the same value (WireValue's promise).
    static let results = FuzzTarget("results") { bytes in
        guard let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) else { return }
        let name = String(decoding: bytes[..<newline], as: UTF8.self)
        let method = method(named: name) ?? methods[name.utf8.count % methods.count]
        guard let response = try? JSONParser.parse(UnsafeBufferPointer(rebasing: bytes.uint8[(newline + 1)...])),
            case .object(let object) = response
        else { return }
        if let error = object["error"] {
            _ = RPCError.fromWire(error).json
            return
        }
        roundTrip(method, object["result"] ?? .null)
    }

    static func roundTrip<M: MethodDescriptor>(_ method: M.Type, _ json: JSON) {
        guard let value = try? M.Result(json: json) else { return }
        // Compared as text: a result may hold parts already encoded (`.raw`).
        let written = JSONWriter.encode(value.json)
        guard let reparsed = try? JSONParser.parse(written), let again = try? M.Result(json: reparsed) else {
            fatalError("\(M.name): a decoded result, written again, no longer decodes: \(written)")
        }
        precondition(JSONWriter.encode(again.json) == written, "\(M.name): a result changed in a write and a read")
    }
}
