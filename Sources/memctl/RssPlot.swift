/// An SVG line chart of rss over time: one line per process and one for the whole tree.
///
/// Plain SVG 1.1 (no script, no external style); every polyline carries `data-pid` (or
/// `data-series="tree"`) so a program can find each series again.
struct RssPlot {
    struct Series {
        var pid: Int
        var command: String
        /// (milliseconds since the start, rss bytes)
        var points: [(ms: Int, bytes: Int)] = []
    }

    var title: String
    var processes: [Series]
    var tree: [(ms: Int, bytes: Int)]

    static let palette = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
        "#bcbd22", "#17becf",
    ]

    func svg(width: Int = 900, height: Int = 480) -> String {
        let (left, right, top, bottom) = (70.0, 200.0, 40.0, 50.0)
        let plotWidth = Double(width) - left - right
        let plotHeight = Double(height) - top - bottom
        let allPoints = tree + processes.flatMap(\.points)
        let maxMs = max(1, allPoints.map(\.ms).max() ?? 1)
        let maxBytes = max(1, allPoints.map(\.bytes).max() ?? 1)
        let mib = Double(1 << 20)
        let yTop = Self.niceCeiling(Double(maxBytes) / mib)
        func x(_ ms: Int) -> Double { left + Double(ms) / Double(maxMs) * plotWidth }
        func y(_ bytes: Int) -> Double { top + plotHeight - Double(bytes) / mib / yTop * plotHeight }
        func number(_ value: Double) -> String { Format.fixed(value, 1) }

        var out = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="\(width)" height="\(height)" \
            viewBox="0 0 \(width) \(height)" font-family="sans-serif" font-size="12">
            <rect x="0" y="0" width="\(width)" height="\(height)" fill="white"/>
            <text x="\(number(left))" y="24" font-size="14">\(Self.escape(title))</text>

            """
        // Axes with five ticks each: MiB up, seconds across.
        out += "<g stroke=\"#999\" stroke-width=\"1\">"
        out +=
            "<line x1=\"\(number(left))\" y1=\"\(number(top))\" x2=\"\(number(left))\" y2=\"\(number(top + plotHeight))\"/>"
        out +=
            "<line x1=\"\(number(left))\" y1=\"\(number(top + plotHeight))\" x2=\"\(number(left + plotWidth))\" "
            + "y2=\"\(number(top + plotHeight))\"/></g>\n"
        for step in 0...4 {
            let fraction = Double(step) / 4
            let yy = top + plotHeight - fraction * plotHeight
            let xx = left + fraction * plotWidth
            out +=
                "<text x=\"\(number(left - 6))\" y=\"\(number(yy + 4))\" text-anchor=\"end\">"
                + "\(Self.trim(yTop * fraction)) MiB</text>\n"
            out +=
                "<text x=\"\(number(xx))\" y=\"\(number(top + plotHeight + 18))\" text-anchor=\"middle\">"
                + "\(Self.trim(Double(maxMs) / 1000 * fraction)) s</text>\n"
        }
        func polyline(_ points: [(ms: Int, bytes: Int)], color: String, width: Double, data: String) -> String {
            let coordinates = points.map { "\(number(x($0.ms))),\(number(y($0.bytes)))" }.joined(separator: " ")
            return "<polyline \(data) fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(number(width))\" "
                + "points=\"\(coordinates)\"/>\n"
        }
        out += polyline(tree, color: "#000000", width: 2.5, data: "data-series=\"tree\"")
        var legendY = top + 10
        out += "<text x=\"\(number(left + plotWidth + 12))\" y=\"\(number(legendY))\">— tree (sum)</text>\n"
        for (index, series) in processes.enumerated() {
            let color = Self.palette[index % Self.palette.count]
            out += polyline(series.points, color: color, width: 1.5, data: "data-pid=\"\(series.pid)\"")
            legendY += 16
            if legendY < top + plotHeight {
                out +=
                    "<text x=\"\(number(left + plotWidth + 12))\" y=\"\(number(legendY))\" fill=\"\(color)\">"
                    + "— \(series.pid) \(Self.escape(series.command))</text>\n"
            }
        }
        out += "</svg>\n"
        return out
    }

    /// 1, 2 or 5 times a power of ten, at least `value`.
    static func niceCeiling(_ value: Double) -> Double {
        var scale = 1.0
        while scale * 10 <= value { scale *= 10 }
        while scale > value, scale > 0.001 { scale /= 10 }
        for factor in [1.0, 2.0, 5.0, 10.0] where factor * scale >= value { return factor * scale }
        return 10 * scale
    }

    static func trim(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? "\(Int(value))" : Format.cFormat("%.1f", value)
    }

    /// Text as XML character data or an attribute value.
    static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default:
                // Control characters are not allowed in XML 1.0.
                if scalar.value < 0x20 && scalar != "\t" && scalar != "\n" {
                    out += "?"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
