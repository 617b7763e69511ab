import JSONRPC

extension FuzzTarget {
    /// JSONParser on any bytes: a value or an error, never a trap; JSONWriter's text of a value
    /// parses, and is written again the same (a fixed point: `0e1` is read as a double and
    /// written `0`, which reads back as an integer, so values are compared as text).
    static let json = FuzzTarget("json") { bytes in
        guard let value = try? JSONParser.parse(bytes.uint8) else { return }
        let text = JSONWriter.encode(value)
        guard let again = try? JSONParser.parse(text) else {
            fatalError("JSONWriter wrote text JSONParser refuses: \(String(decoding: text, as: UTF8.self))")
        }
        precondition(JSONWriter.encode(again) == text, "a value changed in a write and a read: \(value) -> \(again)")
    }
}
