import JSONRPC

extension SimulateTranslationMethod {
    /// The `simulateTranslation` result, real (`source: "proc"`) or simulated (`"sim"`, with
    /// `machine`): each translation unless `summaryOnly`, and the summary.
    public struct Result: WireValue {
        public var source: Source
        /// The simulated machine; nil for a real process (no member).
        public var machine: String?
        public var pid: Int
        /// One object per address (the walk with `trace`); nil: summary only (no member). Kept as
        /// JSON: up to 100,000 entries, each built once by its side's encoder.
        public var translations: [JSON]?
        public var summary: Summary

        public init(source: Source, machine: String?, pid: Int, translations: [JSON]?, summary: Summary) {
            (self.source, self.machine, self.pid, self.translations, self.summary) =
                (source, machine, pid, translations, summary)
        }

        public var json: JSON {
            var o: JSONObject = ["source": .string(source.rawValue)]
            if let machine { o["machine"] = .string(machine) }
            o["pid"] = .int(pid)
            if let translations { o["translations"] = .array(translations) }
            o["summary"] = summary.json
            return .object(o)
        }

        public init(json: JSON) throws(WireDecodingError) {
            let r = try WireReader(json)
            self.init(
                source: try r.choice("source"),
                machine: try r.optionalString("machine"),
                pid: try r.int("pid"),
                translations: r.contains("translations") ? try r.array("translations") : nil,
                summary: try Summary(try r.nested("summary"))
            )
        }
    }

    /// How many addresses, each outcome's count, the TLB's hits and misses (0 for a real process).
    public struct Summary: Sendable {
        public var count: Int
        /// A simulated summary-only run: the sum of the physical addresses (a checksum).
        public var physicalAddressSum: UInt64?
        /// Pids the OOM killer killed meanwhile (no member when none).
        public var oomKilled: [Int]
        /// Every outcome in the wire's order (`translated`, `tlbHit`, … `segv`), zeros included.
        public var outcomes: [(key: String, value: Int)]
        public var tlbHits: Int
        public var tlbMisses: Int

        public init(
            count: Int,
            physicalAddressSum: UInt64? = nil,
            oomKilled: [Int] = [],
            outcomes: [(key: String, value: Int)],
            tlbHits: Int,
            tlbMisses: Int
        ) {
            (self.count, self.physicalAddressSum, self.oomKilled) = (count, physicalAddressSum, oomKilled)
            (self.outcomes, self.tlbHits, self.tlbMisses) = (outcomes, tlbHits, tlbMisses)
        }

        var json: JSON {
            var o: JSONObject = ["count": .int(count)]
            if let physicalAddressSum { o["physicalAddressSum"] = .hex(physicalAddressSum) }
            if !oomKilled.isEmpty { o["oomKilled"] = .array(oomKilled.map { .int($0) }) }
            o["outcomes"] = .object(JSONObject(ints: outcomes))
            o["tlbHits"] = .int(tlbHits)
            o["tlbMisses"] = .int(tlbMisses)
            return .object(o)
        }

        init(_ r: WireReader) throws(WireDecodingError) {
            self.init(
                count: try r.int("count"),
                physicalAddressSum: try r.optionalHex("physicalAddressSum"),
                oomKilled: try r.ints("oomKilled"),
                outcomes: try r.intPairs("outcomes"),
                tlbHits: try r.int("tlbHits"),
                tlbMisses: try r.int("tlbMisses")
            )
        }
    }
}

extension SimulateTranslationMethod: ClientMethod {
    public static func encode(_ p: Params) -> JSONObject {
        var o = JSONObject()
        switch p.addresses {
        case .list(let addresses): o["addresses"] = .array(addresses.map(JSON.hex))
        case .pattern(let pattern):
            var object: JSONObject = [
                "start": .hex(pattern.start), "length": .hex(pattern.length), "count": .int(pattern.count),
                "order": .string(pattern.order.rawValue),
            ]
            if pattern.order == .stride { object["stride"] = .hex(pattern.stride) }
            if pattern.order == .random { object["seed"] = .hex(pattern.seed) }
            o["pattern"] = .object(object)
        }
        if p.access != .read { o["access"] = .string(p.access.rawValue) }
        if p.mode != .user { o["mode"] = .string(p.mode.rawValue) }
        if p.trace { o["trace"] = true }
        if p.summaryOnly { o["summaryOnly"] = true }
        if p.dryRun { o["dryRun"] = true }
        o["pid"] = .int(p.pid)
        o.set("machine", p.machine) { .string($0) }
        return o
    }
}
