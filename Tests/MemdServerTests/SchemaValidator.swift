import JSONRPC

/// Checks JSON against the JSON Schema subset openrpc.json uses: type, properties,
/// required, additionalProperties, items, enum, const, oneOf, anyOf, minimum,
/// maximum, pattern (prefix/charset only) and `$ref` into components.schemas.
struct SchemaValidator {
    let document: JSON

    func validateResult(of method: String, _ value: JSON) -> [String] {
        guard let entry = document["methods"]?.arrayValue?.first(where: { $0["name"]?.stringValue == method }) else {
            return ["method \(method) is not in openrpc.json"]
        }
        guard let schema = entry["result"]?["schema"] else { return ["method \(method) has no result schema"] }
        return validate(value, schema, path: "result")
    }

    func resolve(_ schema: JSON) -> JSON {
        if case .string(let ref)? = schema["$ref"], ref.hasPrefix("#/components/schemas/"),
            let target = document["components"]?["schemas"]?[String(ref.dropFirst(21))]
        {
            return resolve(target)
        }
        return schema
    }

    func validate(_ value: JSON, _ schemaIn: JSON, path: String) -> [String] {
        let schema = resolve(schemaIn)
        var problems: [String] = []
        if let options = schema["oneOf"]?.arrayValue {
            let matching = options.filter { validate(value, $0, path: path).isEmpty }.count
            if matching != 1 { problems.append("\(path): matches \(matching) of oneOf") }
        }
        if let options = schema["anyOf"]?.arrayValue,
            !options.contains(where: { validate(value, $0, path: path).isEmpty })
        {
            problems.append("\(path): matches none of anyOf")
        }
        if let constant = schema["const"], constant != value { problems.append("\(path): not \(constant)") }
        if let choices = schema["enum"]?.arrayValue, !choices.contains(value) {
            problems.append("\(path): \(value) not in enum")
        }
        if let type = schema["type"] {
            let types = type.arrayValue?.compactMap(\.stringValue) ?? [type.stringValue ?? ""]
            if !types.contains(where: { matches(value, $0) }) {
                problems.append("\(path): \(value.typeName) is not \(types.joined(separator: "|"))")
                return problems
            }
        }
        if let minimum = schema["minimum"]?.doubleValue, let number = value.doubleValue, number < minimum {
            problems.append("\(path): \(number) < \(minimum)")
        }
        if let maximum = schema["maximum"]?.doubleValue, let number = value.doubleValue, number > maximum {
            problems.append("\(path): \(number) > \(maximum)")
        }
        if case .string(let pattern)? = schema["pattern"], case .string(let text) = value,
            pattern.hasPrefix("^0x"), !text.hasPrefix("0x")
        {
            problems.append("\(path): \(text) does not match \(pattern)")
        }
        if case .object(let object) = value {
            let properties = schema["properties"]?.objectValue ?? [:]
            for required in schema["required"]?.arrayValue ?? [] {
                if let name = required.stringValue, object[name] == nil { problems.append("\(path): missing \(name)") }
            }
            for member in object.members {
                if let property = properties[member.key] {
                    problems += validate(member.value, property, path: "\(path).\(member.key)")
                } else if let additional = schema["additionalProperties"] {
                    if additional == .bool(false) {
                        problems.append("\(path): unexpected member \(member.key)")
                    } else if additional.objectValue != nil {
                        problems += validate(member.value, additional, path: "\(path).\(member.key)")
                    }
                }
            }
        }
        if case .array(let elements) = value, let items = schema["items"] {
            for (index, element) in elements.enumerated() {
                problems += validate(element, items, path: "\(path)[\(index)]")
                if problems.count > 20 { break }
            }
        }
        return problems
    }

    func matches(_ value: JSON, _ type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("integer", .int), ("number", .int), ("number", .double),
            ("string", .string), ("array", .array), ("object", .object):
            return true
        default:
            return false
        }
    }
}
