import JSONRPC

/// Small text helpers for the human views.
enum Format {
    static func pad(_ text: String, _ width: Int, right: Bool = true) -> String {
        let count = text.count
        guard count < width else { return text }
        let spaces = String(repeating: " ", count: width - count)
        return right ? spaces + text : text + spaces
    }

    /// Like `free -h`: 3 significant figures with binary units (`23Gi`, `1.2Gi`, `512Mi`).
    static func human(_ bytes: Int) -> String {
        let units = ["B", "Ki", "Mi", "Gi", "Ti", "Pi"]
        var value = Double(bytes)
        var unit = 0
        while abs(value) >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(bytes)B" }
        if abs(value) < 10 { return fixed(value, 1) + units[unit] }
        return "\(Int(value.rounded()))" + units[unit]
    }

    static func fixed(_ value: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (value * scale).rounded()
        let negative = scaled < 0
        let magnitude = Int(abs(scaled))
        let whole = magnitude / Int(scale)
        let fraction = magnitude % Int(scale)
        guard digits > 0 else { return (negative ? "-" : "") + "\(whole)" }
        let fractionText = String(fraction)
        let padded = String(repeating: "0", count: digits - fractionText.count) + fractionText
        return (negative ? "-" : "") + "\(whole).\(padded)"
    }

    static func int(_ json: JSON?) -> Int { json?.intValue ?? 0 }
    static func double(_ json: JSON?) -> Double { json?.doubleValue ?? 0 }

    /// The local time of day, as sar prints it.
    static func clock() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
    }

    /// Pretty JSON for a terminal: two-space indent.
    static func pretty(_ json: JSON, indent: String = "") -> String {
        let inner = indent + "  "
        switch json {
        case .array(let elements) where !elements.isEmpty:
            return "[\n" + elements.map { inner + pretty($0, indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
        case .object(let object) where !object.isEmpty:
            return "{\n"
                + object.members.map { inner + JSONWriter.string(.string($0.key)) + ": " + pretty($0.value, indent: inner) }
                .joined(separator: ",\n") + "\n\(indent)}"
        default:
            return JSONWriter.string(json)
        }
    }
}

#if canImport(Glibc)
    import Glibc
#endif
