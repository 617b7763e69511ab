import JSONRPC

extension UsageMethod {
    /// The `usage` result: the rows (sorted, cut to `limit`), the totals over every row, the
    /// processes skipped, and how long the reading took.
    public struct Result: WireValue {
        public var by: UsageGrouping
        public var rows: [Row]
        public var totals: Totals
        /// Processes gone while being read, and reads the kernel refused.
        public var skipped: (exited: Int, denied: Int)
        public var durationMs: Double

        public init(
            by: UsageGrouping,
            rows: [Row],
            totals: Totals,
            skipped: (exited: Int, denied: Int),
            durationMs: Double
        ) {
            (self.by, self.rows, self.totals, self.skipped, self.durationMs) = (by, rows, totals, skipped, durationMs)
        }

        public var json: JSON {
            [
                "source": "proc", "by": .string(by.rawValue), "rows": .array(rows.map(\.json)), "totals": totals.json,
                "skipped": ["exited": .int(skipped.exited), "denied": .int(skipped.denied)],
                "durationMs": .double(durationMs),
            ]
        }

        public init(json: JSON) throws(WireDecodingError) {
            let r = try WireReader(json)
            let skipped = try r.nested("skipped")
            let totals = try r.nested("totals")
            self.init(
                by: try r.choice("by"),
                rows: try r.decodeArray("rows"),
                totals: Totals(
                    count: try totals.int("count"),
                    rss: try totals.int("rss"),
                    pss: try totals.int("pss"),
                    uss: try totals.int("uss"),
                    swap: try totals.optionalInt("swap")
                ),
                skipped: (try skipped.int("exited"), try skipped.int("denied")),
                durationMs: try r.double("durationMs")
            )
        }
    }

    /// The sums over every row (before `limit`); `swap` only with `swap: true`.
    public struct Totals: Sendable {
        public var count, rss, pss, uss: Int
        public var swap: Int?

        public init(count: Int, rss: Int, pss: Int, uss: Int, swap: Int?) {
            (self.count, self.rss, self.pss, self.uss, self.swap) = (count, rss, pss, uss, swap)
        }

        var json: JSON {
            var o: JSONObject = ["count": .int(count), "rss": .int(rss), "pss": .int(pss), "uss": .int(uss)]
            if let swap { o["swap"] = .int(swap) }
            return .object(o)
        }
    }

    /// One row: a process, or a user's, a command's or a cgroup's processes summed. Which
    /// identifying members a row has depends on `by`; nil is no member.
    public struct Row: WireValue {
        public var pid: Int32?
        /// The user's name (getpwuid) and uid: rows by process and by user.
        public var user: String?
        public var uid: UInt32?
        /// Rows by process and by command.
        public var command: String?
        /// Rows by process and by cgroup: `.some(nil)` is `null` (no memory cgroup hierarchy).
        public var cgroup: String??
        /// With `cmdline: true`.
        public var cmdline: String?
        public var count, rss, pss, uss: Int
        /// With `swap` (the default): swap and its proportional share.
        public var swap, swapPss: Int?
        public var pssAnon, pssFile, pssShmem: Int

        public init(count: Int, rss: Int, pss: Int, uss: Int, pssAnon: Int, pssFile: Int, pssShmem: Int) {
            (self.count, self.rss, self.pss, self.uss) = (count, rss, pss, uss)
            (self.pssAnon, self.pssFile, self.pssShmem) = (pssAnon, pssFile, pssShmem)
        }

        public var json: JSON {
            var o = JSONObject()
            o.members.reserveCapacity(16)
            if let pid { o.members.append(("pid", .int(Int(pid)))) }
            if let user { o.members.append(("user", .string(user))) }
            if let uid { o.members.append(("uid", .int(Int(uid)))) }
            if let command { o.members.append(("command", .string(command))) }
            if let cgroup { o.members.append(("cgroup", cgroup.map(JSON.string) ?? .null)) }
            if let cmdline { o.members.append(("cmdline", .string(cmdline))) }
            o.members.append(("count", .int(count)))
            o.members.append(("rss", .int(rss)))
            o.members.append(("pss", .int(pss)))
            o.members.append(("uss", .int(uss)))
            if let swap { o.members.append(("swap", .int(swap))) }
            if let swapPss { o.members.append(("swapPss", .int(swapPss))) }
            o.members.append(("pssAnon", .int(pssAnon)))
            o.members.append(("pssFile", .int(pssFile)))
            o.members.append(("pssShmem", .int(pssShmem)))
            return .object(o)
        }

        public init(json: JSON) throws(WireDecodingError) {
            let r = try WireReader(json, path: "row")
            self.init(
                count: try r.int("count"),
                rss: try r.int("rss"),
                pss: try r.int("pss"),
                uss: try r.int("uss"),
                pssAnon: try r.int("pssAnon"),
                pssFile: try r.int("pssFile"),
                pssShmem: try r.int("pssShmem")
            )
            pid = try r.optionalInteger("pid", as: Int32.self)
            user = try r.optionalString("user")
            uid = try r.optionalInteger("uid", as: UInt32.self)
            command = try r.optionalString("command")
            if r.contains("cgroup") { cgroup = .some(try r.optionalString("cgroup")) }
            cmdline = try r.optionalString("cmdline")
            swap = try r.optionalInt("swap")
            swapPss = try r.optionalInt("swapPss")
        }
    }
}
