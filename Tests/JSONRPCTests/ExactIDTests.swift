import Testing

@testable import JSONRPC

/// A numeric id comes back as the same digits it came with, whatever its size
/// (limits.md §5, v3): any JSON number text is an id, echoed byte for byte.
@Suite struct ExactIDTests {
    static let numbers = [
        "18446744073709551615", "18446744073709551616", "-9223372036854775809", "1.50", "1e400", "-0", "0.1E-7",
        "123456789012345678901234567890", "9223372036854775807", "-9223372036854775808", "5", "1.5e3",
    ]

    func parsedRequest(_ id: String) -> Request? {
        let line = #"{"jsonrpc":"2.0","method":"meminfo","id":"# + id + "}"
        guard case .single(.request(let request)) = Message.parse(Array(line.utf8)) else { return nil }
        return request
    }

    @Test(arguments: numbers) func responseEchoesTheDigits(_ id: String) throws {
        let request = try #require(parsedRequest(id), "\(id) is not accepted as an id")
        let result = String(decoding: Response.result(id: request.id, ["ok": true]), as: UTF8.self)
        #expect(result == #"{"jsonrpc":"2.0","id":"# + id + #","result":{"ok":true}}"# + "\n")
        let error = String(decoding: Response.error(id: request.id, .methodNotFound("x")), as: UTF8.self)
        #expect(error.hasPrefix(#"{"jsonrpc":"2.0","id":"# + id + ","))
    }

    @Test func canonicalIntegersStayIntegers() throws {
        #expect(parsedRequest("42")?.id == .int(42))
        #expect(parsedRequest("-9223372036854775808")?.id == .int(Int.min))
    }

    /// `$/cancelRequest` and `watch.stop` name a call by its id: the same digits name the same call.
    @Test(arguments: numbers) func anIdParamKeepsItsDigits(_ id: String) throws {
        let line = #"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":"# + id + "}}"
        guard case .single(.notification(let cancel)) = Message.parse(Array(line.utf8)),
            case .byName(let params) = cancel.params
        else {
            Issue.record("not a notification with params by name")
            return
        }
        let request = try #require(parsedRequest(id))
        #expect(JSONWriter.string(params["id"] ?? .null) == JSONWriter.string(request.id))
        #expect(JSONWriter.string(request.id) == id)
    }

    /// Only ids keep their text: other numbers are values, as before.
    @Test func otherNumbersAreValues() throws {
        let value = try JSONParser.parse(#"{"size":1.50,"big":18446744073709551615}"#)
        #expect(value["size"] == .double(1.5))
        #expect(value["big"] == .double(18_446_744_073_709_551_615))
    }
}
