import ArgumentParser
import JSONRPC

/// `memctl call METHOD --name value ...`: any method; values typed by the
/// method's param schema from rpc.discover.
struct CallCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call",
        abstract: "Call a method and print its result as JSON.",
        discussion: """
            Params are given as --name value; their JSON types come from the method's schema \
            (rpc.discover). A boolean param may be given alone (--detail). --params '{...}' \
            gives them all as one JSON object. Example: memctl call maps --pid 1234 --detail
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The method, e.g. meminfo, maps, pageStats.")
    var method: String

    @Option(name: .long, help: "All params as one JSON object.")
    var params: String?

    @Argument(parsing: .allUnrecognized, help: "--name value pairs.")
    var pairs: [String] = []

    func run() throws {
        var object = JSONObject()
        if let params {
            let parsed: JSON
            do {
                parsed = try JSONParser.parse(params)
            } catch {
                throw ValidationError("--params is not valid JSON: \(error)")
            }
            guard case .object(let given) = parsed else {
                throw ValidationError("--params must be a JSON object, like '{\"pid\":1}', not an array or a value")
            }
            object = given
        }
        try global.session { client in
            if !pairs.isEmpty {
                let schemas = try ParamSchemas(client.call("rpc.discover"), method: method)
                for (name, value) in try parsePairs(pairs, schemas: schemas) { object[name] = value }
            }
            printJSON(try client.call(method, object))
        }
    }

    func parsePairs(_ words: [String], schemas: ParamSchemas) throws -> [(String, JSON)] {
        var result: [(String, JSON)] = []
        var index = 0
        while index < words.count {
            let word = words[index]
            guard word.hasPrefix("--"), word.count > 2 else {
                throw ValidationError("expected --name value, got '\(word)'")
            }
            var name = String(word.dropFirst(2))
            var value: String?
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            let type = schemas.type(of: name)
            if value == nil {
                if index + 1 < words.count, !(words[index + 1].hasPrefix("--") && type == "boolean") {
                    value = words[index + 1]
                    index += 1
                } else if type == "boolean" {
                    value = "true"
                } else {
                    throw ValidationError("--\(name) needs a value")
                }
            }
            result.append((name, try convert(value!, type: type, name: name)))
            index += 1
        }
        return result
    }

    func convert(_ text: String, type: String?, name: String) throws -> JSON {
        switch type {
        case "integer":
            if let int = Int(text) { return .int(int) }
            if text.hasPrefix("0x") { return .string(text) }  // addresses: hex accepted as is
            throw ValidationError("--\(name) must be an integer, not '\(text)'")
        case "number":
            guard let double = Double(text) else { throw ValidationError("--\(name) must be a number, not '\(text)'") }
            return .double(double)
        case "boolean":
            guard let bool = Bool(text) else { throw ValidationError("--\(name) must be true or false, not '\(text)'") }
            return .bool(bool)
        case "string":
            return .string(text)
        default:
            // Unknown or composite type (object, array, integer-or-string): JSON if it parses, else a string.
            return (try? JSONParser.parse(text)) ?? .string(text)
        }
    }
}

/// The JSON types of a method's params, from the OpenRPC document.
struct ParamSchemas {
    var types: [String: String] = [:]

    init(_ document: JSON, method: String) {
        guard let methods = document["methods"]?.arrayValue,
            let entry = methods.first(where: { $0["name"]?.stringValue == method }),
            let params = entry["params"]?.arrayValue
        else { return }
        for param in params {
            guard let name = param["name"]?.stringValue else { continue }
            types[name] = Self.type(param["schema"], document: document)
        }
    }

    static func type(_ schema: JSON?, document: JSON) -> String? {
        guard let schema else { return nil }
        if case .string(let ref)? = schema["$ref"], ref.hasPrefix("#/components/schemas/") {
            let name = String(ref.dropFirst("#/components/schemas/".count))
            return type(document["components"]?["schemas"]?[name], document: document)
        }
        if case .string(let type)? = schema["type"] { return type }
        if schema["enum"] != nil { return "string" }
        return nil
    }

    func type(of name: String) -> String? { types[name] }
}

/// `memctl methods`: what memd answers, from rpc.discover.
struct MethodsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "methods", abstract: "List memd's methods.")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        try global.session { client in
            let document = try client.call("rpc.discover")
            let rows = (document["methods"]?.arrayValue ?? []).map { method -> [String] in
                let params = (method["params"]?.arrayValue ?? []).map { param -> String in
                    let name = param["name"]?.stringValue ?? "?"
                    return param["required"]?.boolValue == true ? name : name + "?"
                }
                return [
                    method["name"]?.stringValue ?? "?", params.joined(separator: " "),
                    method["summary"]?.stringValue ?? "",
                ]
            }
            // The names as wide as the longest; the params wrapped at 40 columns onto lines of
            // their own, so every summary starts in the same column however long the list.
            let nameWidth = rows.map { $0[0].count }.max() ?? 0
            let paramsWidth = 40
            for row in rows {
                var chunks: [String] = []
                for word in row[1].split(separator: " ") {
                    if let last = chunks.last, last.count + 1 + word.count <= paramsWidth {
                        chunks[chunks.count - 1] = last + " " + word
                    } else {
                        chunks.append(String(word))
                    }
                }
                for (index, chunk) in (chunks.isEmpty ? [""] : chunks).enumerated() {
                    let line =
                        Format.pad(index == 0 ? row[0] : "", nameWidth, right: false) + "  "
                        + Format.pad(chunk, paramsWidth, right: false) + "  " + (index == 0 ? row[2] : "")
                    print(String(line.reversed().drop { $0 == " " }.reversed()))
                }
            }
        }
    }
}
