/// A sparkline: one block character per value, scaled between the smallest and largest shown.
enum Sparkline {
    static let blocks: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    /// The last `width` values; all equal draws the lowest block.
    static func render(_ values: [Int], width: Int) -> String {
        let shown = values.suffix(max(0, width))
        guard let low = shown.min(), let high = shown.max() else { return "" }
        let span = Double(high - low)
        return String(
            shown.map { value -> Character in
                guard span > 0 else { return blocks[0] }
                let level = Int((Double(value - low) / span * Double(blocks.count - 1)).rounded())
                return blocks[min(blocks.count - 1, max(0, level))]
            }
        )
    }
}
