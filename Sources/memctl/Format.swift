import JSONRPC

/// Small text helpers for the human views.
enum Format {
    static func pad(_ text: String, _ width: Int, right: Bool = true) -> String {
        let count = text.count
        guard count < width else { return text }
        let spaces = String(repeating: " ", count: width - count)
        return right ? spaces + text : text + spaces
    }

    /// Exactly what procps 4's `free -h` prints (free.c, scale_size): bytes if that takes at most 4
    /// characters; else, from Ki up, the first of `%.1f` (rounded, of a float) or `%ld` (truncated)
    /// whose number takes at most 3 characters: 25,276,502,016 bytes is `23Gi`, not `24Gi`.
    static func human(_ bytes: Int) -> String {
        if bytes < 1000, bytes >= 0 { return "\(bytes)B" }
        var scale = 1.0
        for unit in ["K", "M", "G", "T", "P"] {
            scale *= 1024
            let value = Double(bytes) / scale
            let rounded = cFormat("%.1f", Double(Float(value)))
            if rounded.utf8.count <= 3 { return rounded + unit + "i" }
            let truncated = String(Int(value))
            if truncated.utf8.count <= 3 { return truncated + unit + "i" }
        }
        return "\(bytes)B"
    }

    /// printf's rendering of one double (its rounding, not Swift's).
    static func cFormat(_ format: String, _ value: Double) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        _ = withVaList([value]) { vsnprintf(&buffer, buffer.count, format, $0) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
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
                + object.members.map {
                    inner + JSONWriter.string(.string($0.key)) + ": " + pretty($0.value, indent: inner)
                }
                .joined(separator: ",\n") + "\n\(indent)}"
        case .raw(let bytes):
            // Text a typed result wrote straight into bytes (its mappings): laid out like the rest.
            guard let parsed = try? JSONParser.parse(bytes) else { return JSONWriter.string(json) }
            return pretty(parsed, indent: indent)
        default:
            return JSONWriter.string(json)
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
