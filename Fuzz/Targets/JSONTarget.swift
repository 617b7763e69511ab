import JSONRPC

extension FuzzTarget {
    /// JSONParser on any bytes: a value or an error, never a trap; a value written by
    /// JSONWriter and parsed again is the same value (the writer's text is valid JSON).
    static let json = FuzzTarget("json") { bytes in
        guard let value = try? JSONParser.parse(bytes.uint8) else { return }
        let text = JSONWriter.encode(value)
        guard let again = try? JSONParser.parse(text) else {
            fatalError("JSONWriter wrote text JSONParser refuses: \(String(decoding: text, as: UTF8.self))")
        }
        precondition(again == value, "a value changed in a write and a read: \(value) -> \(again)")
    }
}
