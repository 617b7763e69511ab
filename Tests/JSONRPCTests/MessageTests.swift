import Testing

@testable import JSONRPC

/// The examples section of the JSON-RPC 2.0 specification, classified.
@Suite struct MessageTests {
    func single(_ text: String) throws -> Entry {
        guard case .single(let entry) = Message.parse(Array(text.utf8)) else {
            Issue.record("not a single entry: \(text)")
            throw CancellationError()
        }
        return entry
    }

    @Test func positionalParamsAreInvalidParams() throws {
        guard case .request(let request) = try single(#"{"jsonrpc":"2.0","method":"subtract","params":[42,23],"id":1}"#)
        else {
            Issue.record("not a request")
            return
        }
        #expect(request.id == .int(1))
        #expect(throws: RPCError.self) { try ParamReader(request.params) }
    }

    @Test func notificationHasNoID() throws {
        guard case .notification(let request) = try single(#"{"jsonrpc":"2.0","method":"update","params":[1,2,3,4,5]}"#)
        else {
            Issue.record("not a notification")
            return
        }
        #expect(request.method == "update")
    }

    @Test func nullIDIsARequest() throws {
        guard case .request(let request) = try single(#"{"jsonrpc":"2.0","method":"m","id":null}"#) else {
            Issue.record("not a request")
            return
        }
        #expect(request.id == .null)
    }

    @Test func parseErrorIsNotInvalidRequest() {
        guard
            case .parseError(let error) = Message.parse(
                Array(#"{"jsonrpc":"2.0","method":"foobar,"params":"bar","baz]"#.utf8)
            )
        else {
            Issue.record("expected a parse error")
            return
        }
        #expect(error.code == .parseError)
        #expect(error.kind == "parseError")
    }

    @Test(arguments: [
        (#"{"jsonrpc":"2.0","method":1,"params":"bar"}"#, JSON.null),
        (#"{"jsonrpc":"1.0","method":"m","id":7}"#, JSON.int(7)),
        (#"{"method":"m","id":"a"}"#, JSON.string("a")),
        (#"{"jsonrpc":"2.0","method":"m","params":"x","id":2}"#, JSON.int(2)),
        (#"{"jsonrpc":"2.0","method":"m","id":{"a":1}}"#, JSON.null),
        (#"{"jsonrpc":"2.0","method":"m","id":3,"extra":true}"#, JSON.int(3)),
        ("1", JSON.null),
    ])
    func invalidRequestsKeepTheirID(text: String, id: JSON) throws {
        guard case .invalid(let gotID, let error) = try single(text) else {
            Issue.record("expected invalid: \(text)")
            return
        }
        #expect(gotID == id)
        #expect(error.code == .invalidRequest)
    }

    @Test func emptyBatchAndInvalidBatches() {
        guard case .emptyBatch = Message.parse(Array("[]".utf8)) else {
            Issue.record("[] not empty batch")
            return
        }
        guard case .batch(let entries) = Message.parse(Array("[1,2,3]".utf8)) else {
            Issue.record("not a batch")
            return
        }
        #expect(entries.count == 3)
        for entry in entries {
            guard case .invalid(.null, let error) = entry else {
                Issue.record("not invalid")
                continue
            }
            #expect(error.code == .invalidRequest)
        }
    }

    @Test func mixedBatch() {
        let text = """
            [{"jsonrpc":"2.0","method":"sum","params":[1,2,4],"id":"1"},{"jsonrpc":"2.0","method":"notify_hello","params":[7]},\
            {"jsonrpc":"2.0","method":"subtract","params":[42,23],"id":"2"},{"foo":"boo"},\
            {"jsonrpc":"2.0","method":"foo.get","params":{"name":"myself"},"id":"5"},{"jsonrpc":"2.0","method":"get_data","id":"9"}]
            """
        guard case .batch(let entries) = Message.parse(Array(text.utf8)) else {
            Issue.record("not a batch")
            return
        }
        let kinds = entries.map { entry -> String in
            switch entry {
            case .request: return "request"
            case .notification: return "notification"
            case .invalid: return "invalid"
            }
        }
        #expect(kinds == ["request", "notification", "request", "invalid", "request", "request"])
    }

    @Test func responsesAreOneLine() throws {
        let result = Response.result(id: "x", ["a": 1])
        #expect(result.last == UInt8(ascii: "\n"))
        #expect(result.dropLast().contains(UInt8(ascii: "\n")) == false)
        let error = Response.error(id: .null, .methodNotFound("nope"))
        let parsed = try JSONParser.parse(Array(error.dropLast()))
        #expect(parsed["error"]?["code"] == .int(-32601))
        #expect(parsed["error"]?["data"]?["kind"] == .string("methodNotFound"))
        let batch = Response.batch([result, error])
        #expect(try JSONParser.parse(Array(batch.dropLast())).arrayValue?.count == 2)
    }
}

@Suite struct ParamReaderTests {
    @Test func readsTypedParamsAndRejectsUnknown() throws {
        var params = ParamReader(["pid": 12, "detail": true, "address": "0x7F00", "pdi": 1])
        #expect(try params.int("pid", min: 1) == 12)
        #expect(try params.bool("detail") == true)
        #expect(try params.address("address") == 0x7f00)
        #expect(throws: RPCError.self) { try params.finish() }
    }

    @Test(arguments: [JSON.string("12"), .double(1.5), .bool(true), .int(-1)])
    func rejectsWrongTypes(value: JSON) {
        var params = ParamReader(["pid": value])
        #expect(throws: RPCError.self) { _ = try params.int("pid", min: 0) }
    }

    @Test(arguments: ["0x", "zz", "0x10000000000000000", "-1"])
    func rejectsBadAddresses(text: String) {
        var params = ParamReader(["address": .string(text)])
        #expect(throws: RPCError.self) { _ = try params.address("address") }
    }
}
