import Testing

@testable import JSONRPC

@Suite struct JSONParserTests {
    @Test(arguments: [
        ("null", JSON.null), ("true", .bool(true)), ("false", .bool(false)), ("0", .int(0)), ("-12", .int(-12)),
        ("1.5", .double(1.5)), ("1e3", .double(1000)), ("-0.25E-2", .double(-0.0025)),
        ("\"a\\u00e9\\n\\\"\"", .string("aé\n\"")), ("\"\\ud83d\\ude00\"", .string("😀")),
        ("[1,[2,{}]]", .array([.int(1), .array([.int(2), .object([:])])])),
        (" {\"a\" : 1 , \"b\":[ ]} ", .object(["a": 1, "b": []])),
        ("9223372036854775807", .int(Int.max)), ("9223372036854775808", .double(9_223_372_036_854_775_808)),
    ])
    func parsesValid(text: String, expected: JSON) throws {
        #expect(try JSONParser.parse(text) == expected)
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "+1", "tru", "nul", "\"abc", "\"\\x\"", "\"\\ud800\"",
        "{\"a\" 1}", "[1 2]", "{1:2}", "1 2", "\"\u{01}\"", "NaN", "Infinity", "1e999", "// c\n1",
    ])
    func rejectsInvalid(text: String) {
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse(text) }
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse([0x22, 0xff, 0x22]) }
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse(deep) }
    }

    @Test func keepsMemberOrder() throws {
        let object = try #require(try JSONParser.parse("{\"z\":1,\"a\":2,\"m\":3}").objectValue)
        #expect(object.keys == ["z", "a", "m"])
    }

    @Test(arguments: [
        JSON.object(["s": "tab\tquote\"back\\slash\u{01}é😀", "n": -42, "d": 0.125, "b": true, "z": .null]),
        .array([.int(Int.min), .int(Int.max), .double(1e-7), .double(123456.75)]),
    ])
    func writerRoundTrips(value: JSON) throws {
        let text = JSONWriter.string(value)
        #expect(!text.contains("\n"))
        #expect(try JSONParser.parse(text) == value)
    }

    @Test func writerEscapesControlCharacters() {
        #expect(JSONWriter.string(.string("a\u{1f}b\nc")) == "\"a\\u001fb\\nc\"")
        #expect(JSONWriter.string(.double(.nan)) == "null")
        #expect(JSONWriter.string(.double(2.0)) == "2")
    }

    /// A fixed piece's string is the writer's string: the same escapes, within its stated bound,
    /// read back as the string it was.
    @Test(arguments: [
        "", "MemTotal", "Active(anon)", "a\u{1f}b\nc\r\t", "\"quoted\" \\ back", "\u{0}\u{7f}", "é😀",
        String(repeating: "\u{1}", count: 40),
    ])
    func fixedWriterStringIsTheWritersString(text: String) throws {
        var fixed = JSONWriter()
        let bound = FixedWriter.maxStringBytes(utf8Count: text.utf8.count)
        fixed.writeFixed(maxBytes: bound) { $0.writeString(text) }
        var plain = JSONWriter()
        plain.writeString(text)
        #expect(fixed.bytes == plain.bytes)
        #expect(fixed.bytes.count <= bound)
        #expect(try JSONParser.parse(fixed.bytes) == .string(text))
    }
}
