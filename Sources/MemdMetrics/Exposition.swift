/// The two formats `/metrics` speaks, and the one step between swift-prometheus's
/// output and each.
///
/// swift-prometheus writes the Prometheus text format 0.0.4 (names, labels,
/// escaping, values). Two things it cannot say are adjusted on its `# TYPE` and
/// `# HELP` lines only, never on a sample line:
///
/// - `untyped` families (node_exporter's `node_vmstat_*`): the library knows
///   counters, gauges and histograms; they are registered as gauges and their
///   TYPE line is rewritten;
/// - OpenMetrics 1.0: a counter family is named without its samples' `_total`,
///   `untyped` is `unknown`, and the exposition ends with `# EOF`.
public enum ExpositionFormat: Sendable, Equatable {
    /// `text/plain; version=0.0.4`.
    case prometheusText
    /// `application/openmetrics-text; version=1.0.0`.
    case openMetrics

    public var contentType: String {
        switch self {
        case .prometheusText: return "text/plain; version=0.0.4; charset=utf-8"
        case .openMetrics: return "application/openmetrics-text; version=1.0.0; charset=utf-8"
        }
    }

    /// OpenMetrics when any media range of `Accept` names it with a q above 0
    /// (Prometheus asks for it first); the text format otherwise.
    public static func negotiate(accept: [String]) -> ExpositionFormat {
        for header in accept {
            for range in header.split(separator: ",") {
                let parts = range.split(separator: ";").map { $0.trimmingSpaces.lowercased() }
                guard parts.first == "application/openmetrics-text" else { continue }
                let q = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
                if q > 0 { return .openMetrics }
            }
        }
        return .prometheusText
    }

    /// Turns swift-prometheus's 0.0.4 text into this format; `untyped` names the
    /// families to declare untyped (`unknown`).
    func finish(_ text: [UInt8], untyped: Set<String>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count + 64)
        var pendingHelp: ArraySlice<UInt8>?
        var start = text.startIndex
        while start < text.endIndex {
            let end = text[start...].firstIndex(of: UInt8(ascii: "\n")) ?? text.endIndex
            let line = text[start..<end]
            start = end < text.endIndex ? end + 1 : end
            if line.starts(with: Self.helpPrefix) {
                if let help = pendingHelp { Self.append(help, to: &out) }
                pendingHelp = line
                continue
            }
            guard line.starts(with: Self.typePrefix) else {
                if let help = pendingHelp { Self.append(help, to: &out) }
                pendingHelp = nil
                Self.append(line, to: &out)
                continue
            }
            let fields = line.dropFirst(Self.typePrefix.count).split(separator: UInt8(ascii: " "), maxSplits: 1)
            guard fields.count == 2 else {
                Self.append(line, to: &out)
                continue
            }
            let name = String(decoding: fields[0], as: UTF8.self)
            var type = String(decoding: fields[1], as: UTF8.self)
            var family = name
            if untyped.contains(name) { type = self == .openMetrics ? "unknown" : "untyped" }
            if self == .openMetrics, type == "counter", name.hasSuffix("_total") { family = String(name.dropLast(6)) }
            if let help = pendingHelp {
                let text = help.dropFirst(Self.helpPrefix.count + fields[0].count)
                Self.append(Array("# HELP \(family)".utf8) + text, to: &out)
                pendingHelp = nil
            }
            Self.append(Array("# TYPE \(family) \(type)".utf8), to: &out)
        }
        if let help = pendingHelp { Self.append(help, to: &out) }
        if self == .openMetrics { out.append(contentsOf: "# EOF\n".utf8) }
        return out
    }

    private static let helpPrefix = Array("# HELP ".utf8)
    private static let typePrefix = Array("# TYPE ".utf8)

    private static func append<C: Collection<UInt8>>(_ line: C, to out: inout [UInt8]) {
        out.append(contentsOf: line)
        out.append(UInt8(ascii: "\n"))
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return s
    }
}
