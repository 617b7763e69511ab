import JSONRPC
import ProcFS

extension WorkingSetMethod {
    /// Why a `workingSet` call ended: its count of samples, the process's exit (the samples so far
    /// are the result), or `workingSet.stop`.
    public enum EndedBy: String, Sendable, CaseIterable {
        case count, exit, stop
    }

    /// One interval: what the process holds (rss, pss) and what it touched in it, in bytes.
    public struct Sample: WireValue, Equatable {
        public var seq: Int
        /// Since the call began (a wait for another measurement of the process included), when read.
        public var elapsedMs: Int
        /// The time really measured: from the clear to the end of the read.
        public var intervalMs: Int
        public var kind: WorkingSetKind
        public var figures: WorkingSetFigures

        public init(seq: Int, elapsedMs: Int, intervalMs: Int, kind: WorkingSetKind, figures: WorkingSetFigures) {
            (self.seq, self.elapsedMs, self.intervalMs, self.kind, self.figures) =
                (seq, elapsedMs, intervalMs, kind, figures)
        }

        /// `referenced` or `written`: the member holding the bytes touched.
        public static func touchedKey(_ kind: WorkingSetKind) -> String { kind.rawValue }

        public var members: JSONObject {
            let key = Self.touchedKey(kind)
            var o: JSONObject = [
                "seq": .int(seq), "elapsedMs": .int(elapsedMs), "intervalMs": .int(intervalMs),
                "rss": .int(figures.rss), "pss": .int(figures.pss),
            ]
            o[key] = .int(figures.touched)
            o["anon"] = .int(figures.anon)
            o["file"] = .int(figures.file)
            if let mappings = figures.mappings {
                o["mappings"] = .array(
                    mappings.map { m in
                        var row: JSONObject = [
                            "start": .hex(m.start), "end": .hex(m.end), "path": .from(m.path, JSON.string),
                            "kind": .string(m.kind.rawValue), "rss": .int(m.rss),
                        ]
                        row[key] = .int(m.touched)
                        return .object(row)
                    }
                )
            }
            return o
        }

        public var json: JSON { .object(members) }

        public init(json: JSON) throws(WireDecodingError) {
            let r = try WireReader(json)
            let kind: WorkingSetKind = r.contains("written") ? .written : .referenced
            let key = Self.touchedKey(kind)
            var figures = WorkingSetFigures(perMapping: r.contains("mappings"))
            (figures.rss, figures.pss) = (try r.int("rss"), try r.int("pss"))
            (figures.touched, figures.anon, figures.file) = (try r.int(key), try r.int("anon"), try r.int("file"))
            if r.contains("mappings") {
                for (index, item) in try r.array("mappings").enumerated() {
                    let m = try WireReader(item, path: "\(r.path).mappings[\(index)]")
                    let path = try m.optionalString("path")
                    figures.mappings?.append(
                        WorkingSetMapping(
                            start: try m.hex("start"),
                            end: try m.hex("end"),
                            path: path,
                            kind: try m.choice("kind"),
                            rss: try m.int("rss"),
                            touched: try m.int(key)
                        )
                    )
                }
            }
            self.init(
                seq: try r.int("seq"),
                elapsedMs: try r.int("elapsedMs"),
                intervalMs: try r.int("intervalMs"),
                kind: kind,
                figures: figures
            )
        }
    }

    /// The `workingSet` result: every sample, and how the call ended.
    public struct Result: WireValue {
        public var pid: Int32
        public var kind: WorkingSetKind
        public var samples: [Sample]
        public var endedBy: EndedBy

        public init(pid: Int32, kind: WorkingSetKind, samples: [Sample], endedBy: EndedBy) {
            (self.pid, self.kind, self.samples, self.endedBy) = (pid, kind, samples, endedBy)
        }

        public var json: JSON {
            [
                "pid": .int(Int(pid)), "kind": .string(kind.rawValue), "samples": .array(samples.map(\.json)),
                "endedBy": .string(endedBy.rawValue),
            ]
        }

        public init(json: JSON) throws(WireDecodingError) {
            let r = try WireReader(json)
            var samples: [Sample] = []
            for (index, item) in try r.array("samples").enumerated() {
                do {
                    samples.append(try Sample(json: item))
                } catch {
                    throw WireDecodingError(path: "result.samples[\(index)]\(error.path.dropFirst(6))", error.reason)
                }
            }
            self.init(
                pid: try r.integer("pid", as: Int32.self),
                kind: try r.choice("kind"),
                samples: samples,
                endedBy: try r.choice("endedBy")
            )
        }
    }
}

extension PageFlagsMethod {
    /// Pages of one flag each, for every flag page-types shows by default, in bit order.
    static func flagCounts(_ tally: PageFlagsTally) -> JSON {
        .object(JSONObject(ints: zip(PageFlagName.wellKnown, tally.perFlag).map { ($0.name, $1) }))
    }

    static func tally(flags r: WireReader, keepsSets: Bool) throws(WireDecodingError) -> PageFlagsTally {
        var tally = PageFlagsTally(keepsSets: keepsSets)
        for (index, flag) in PageFlagName.wellKnown.enumerated() { tally.perFlag[index] = try r.int(flag.name) }
        return tally
    }

    /// The `pageFlags` result: the process's present pages by what they are to the kernel. No
    /// frame number is in it.
    public struct Result: WireValue {
        public var pid: Int32
        public var scan: PageFlagsScan

        public init(pid: Int32, scan: PageFlagsScan, perMapping: Bool) {
            self.pid = pid
            self.scan = scan
            self.perMapping = perMapping
        }

        public var perMapping: Bool

        public var json: JSON {
            let total = scan.total
            var o: JSONObject = [
                "pid": .int(Int(pid)),
                "pages": [
                    "present": .int(total.present), "swapped": .int(total.swapped), "shared": .int(total.shared),
                ],
                "flags": PageFlagsMethod.flagCounts(total),
                "sets": .array(
                    total.sortedSets.map { set in
                        [
                            "flags": .array(set.flags.names.map { .string($0) }), "pages": .int(set.pages),
                            "bytes": .int(set.pages * pageSize),
                        ]
                    }
                ),
            ]
            if perMapping {
                o["mappings"] = .array(
                    scan.mappings.map { entry in
                        let m = entry.mapping
                        return [
                            "start": .hex(m.start), "end": .hex(m.end), "path": .from(m.path, JSON.string),
                            "kind": .string(m.kind.rawValue), "present": .int(entry.tally.present),
                            "flags": PageFlagsMethod.flagCounts(entry.tally),
                        ]
                    }
                )
            }
            return .object(o)
        }

        public init(json: JSON) throws(WireDecodingError) {
            let r = try WireReader(json)
            var scan = PageFlagsScan()
            let pages = try r.nested("pages")
            let flags = try r.nested("flags")
            scan.total = try PageFlagsMethod.tally(flags: flags, keepsSets: true)
            (scan.total.present, scan.total.swapped) = (try pages.int("present"), try pages.int("swapped"))
            scan.total.shared = try pages.int("shared")
            for (index, item) in try r.array("sets").enumerated() {
                let set = try WireReader(item, path: "result.sets[\(index)]")
                let names = try set.array("flags").compactMap(\.stringValue)
                guard let flags = KernelPageFlags(names: names) else {
                    throw WireDecodingError(path: "result.sets[\(index)].flags", "an unknown flag name in \(names)")
                }
                scan.total.sets[flags.rawValue] = try set.int("pages")
            }
            let perMapping = r.contains("mappings")
            if perMapping {
                for (index, item) in try r.array("mappings").enumerated() {
                    let m = try WireReader(item, path: "result.mappings[\(index)]")
                    let start = try m.hex("start")
                    let end = try m.hex("end")
                    guard end >= start else {
                        throw WireDecodingError(path: m.path, "end \(hexString(end)) below start \(hexString(start))")
                    }
                    let mapping = Mapping(
                        start: start,
                        end: end,
                        perms: "",
                        offset: 0,
                        device: "",
                        inode: 0,
                        path: try m.optionalString("path"),
                        kind: try m.choice("kind")
                    )
                    var tally = try PageFlagsMethod.tally(flags: try m.nested("flags"), keepsSets: false)
                    tally.present = try m.int("present")
                    scan.mappings.append((mapping, tally))
                }
            }
            self.init(pid: try r.integer("pid", as: Int32.self), scan: scan, perMapping: perMapping)
        }
    }
}
