import JSONRPC
import ProcFS

extension MapsMethod {
    /// Writes a `maps` result as its mappings come (from a /proc read or a simulated machine):
    /// straight into JSON text, one mapping at a time: the one encoder of the result.
    ///
    /// The text is written into windows of memory: its own, or — with ``Windows``, memory the
    /// server hands in — the buffer that is sent, so that a large answer is written once, where it
    /// goes (no piece staged and copied, no Mapping or String per line).
    public struct Writer {
        /// Hands over the window written so far (`used`: its first bytes are text) and returns the
        /// next one, of at least `atLeast` bytes (0: none, the text is done).
        public typealias Windows = (_ used: Int, _ atLeast: Int) -> UnsafeMutableRawBufferPointer

        let detail: Bool
        let smaps: Bool
        /// With `smaps`: the unitless keys seen so far, in their first mapping's order.
        var unitless: [String] = []
        let head: (source: Source, pid: Int32, command: String, cmdline: String)
        public private(set) var count = 0
        /// The smaps figures of the mappings so far, added up (with `detail`).
        public private(set) var sum = SmapsDetail()
        let windows: Windows
        /// The memory being written and the text in it; the bytes of the windows before it.
        var window = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        var used = 0
        var passed = 0
        /// The text's own memory, without a server's.
        let kept: KeptText?
        /// The least size of a window asked for.
        public static let piece = 64 * 1024

        /// A writer that keeps its text (``finish(vsz:totals:)``'s result holds it).
        public init(
            source: Source,
            pid: Int32,
            command: String,
            cmdline: String,
            detail: Bool,
            smaps: Bool = false,
            capacity: Int = 64 * 1024
        ) {
            let kept = KeptText(capacity: capacity)
            self.init(
                source: source,
                pid: pid,
                command: command,
                cmdline: cmdline,
                detail: detail,
                smaps: smaps,
                kept: kept
            ) {
                kept.window(committing: $0, atLeast: $1)
            }
        }

        /// A writer into the windows `windows` hands out; ``finish(vsz:totals:)``'s result then has
        /// no text of its own (its text is in those windows).
        public init(
            source: Source,
            pid: Int32,
            command: String,
            cmdline: String,
            detail: Bool,
            smaps: Bool = false,
            windows: @escaping Windows
        ) {
            self.init(
                source: source,
                pid: pid,
                command: command,
                cmdline: cmdline,
                detail: detail,
                smaps: smaps,
                kept: nil,
                windows: windows
            )
        }

        private init(
            source: Source,
            pid: Int32,
            command: String,
            cmdline: String,
            detail: Bool,
            smaps: Bool,
            kept: KeptText?,
            windows: @escaping Windows
        ) {
            self.detail = detail
            self.smaps = smaps
            self.kept = kept
            self.windows = windows
            head = (source, pid, command, cmdline)
            let most =
                80 + FixedWriter.maxStringBytes(utf8Count: source.rawValue.utf8.count)
                + FixedWriter.maxStringBytes(utf8Count: command.utf8.count)
                + FixedWriter.maxStringBytes(utf8Count: cmdline.utf8.count)
            write(maxBytes: most) { w in
                w.append("{\"source\":")
                w.writeString(source.rawValue)
                w.append(",\"pid\":")
                w.writeInt(Int(pid))
                w.append(",\"command\":")
                w.writeString(command)
                w.append(",\"cmdline\":")
                w.writeString(cmdline)
                w.append(",\"mappings\":[")
            }
        }

        /// Writes at most `maxBytes` where the text goes: in the window, or the next one.
        @inline(__always)
        mutating func write(maxBytes: Int, _ body: (inout FixedWriter) -> Void) {
            if window.count - used < maxBytes {
                passed += used
                window = windows(used, max(maxBytes, Self.piece))
                used = 0
            }
            var w = FixedWriter(
                base: window.baseAddress!.assumingMemoryBound(to: UInt8.self) + used,
                capacity: window.count - used
            )
            body(&w)
            used += w.written
        }

        /// The bytes written so far.
        public var byteCount: Int { passed + used }

        public mutating func append(_ mapping: Mapping) {
            let fields = smaps ? mapping.smaps ?? SmapsFields() : nil
            let comma = count > 0
            mapping.withMembers(detail: detail) { members in
                write(maxBytes: members.maxBytes + (fields?.maxJSONBytes ?? 0)) {
                    $0.write(members, fields: fields, comma: comma)
                }
            }
            count += 1
            if detail, let d = mapping.detail { sum = sum + d }
            if let fields {
                for field in fields.fields where !field.isBytes && !unitless.contains(field.key) {
                    unitless.append(field.key)
                }
            }
        }

        /// A mapping from its kernel line where it lies, with its smaps figures and lines: no
        /// ``Mapping`` made, unless a text field must be decoded (an escape or a byte beyond ASCII
        /// in it) or every smaps line is asked for; the same text either way.
        public mutating func append(_ line: MapsLine, detail figures: SmapsDetail?, smaps fields: SmapsFields?) {
            guard !smaps, line.isPlain else { return append(Mapping(line, detail: figures, smaps: fields)) }
            let members = MappingMembers(line, detail: detail ? figures : nil)
            let comma = count > 0
            write(maxBytes: members.maxBytes) { $0.write(members, comma: comma) }
            count += 1
            if detail, let figures { sum = sum + figures }
        }

        /// The whole result, its mappings in its text.
        public mutating func finish(vsz: Int, totals: SmapsDetail?) -> Result {
            var result = Result(
                source: head.source,
                pid: head.pid,
                command: head.command,
                cmdline: head.cmdline,
                vsz: vsz,
                mappings: [],
                totals: totals,
                smapsUnitless: smaps ? unitless : nil
            )
            result.text = finishText(vsz: vsz, totals: totals)
            return result
        }

        /// The text of the whole result: the mappings, then `totals` (with `detail`: rss, pss, uss
        /// and swap of `totals`). Empty when the text went to the windows handed in.
        mutating func finishText(vsz: Int, totals: SmapsDetail?) -> [UInt8] {
            let count = count
            write(maxBytes: 160) { w in
                w.append("],\"totals\":{\"vsz\":")
                w.writeInt(vsz)
                w.append(",\"count\":")
                w.writeInt(count)
                if let totals {
                    w.append(",\"rss\":")
                    w.writeInt(totals.rss)
                    w.append(",\"pss\":")
                    w.writeInt(totals.pss)
                    w.append(",\"uss\":")
                    w.writeInt(totals.uss)
                    w.append(",\"swap\":")
                    w.writeInt(totals.swap)
                }
                w.append("}")
            }
            if smaps {
                let unitless = unitless
                let most = unitless.reduce(24) { $0 + FixedWriter.maxStringBytes(utf8Count: $1.utf8.count) + 1 }
                write(maxBytes: most) { w in
                    w.append(",\"smapsUnitless\":[")
                    for (index, key) in unitless.enumerated() {
                        if index > 0 { w.append(",") }
                        w.writeString(key)
                    }
                    w.append("]")
                }
            }
            write(maxBytes: 1) { $0.append("}") }
            passed += used
            window = windows(used, 0)
            used = 0
            return kept?.text ?? []
        }
    }

    /// The memory of a ``Writer``'s text when no server hands it one: one block, doubled as it fills.
    final class KeptText {
        private var memory: UnsafeMutableRawBufferPointer
        private var count = 0

        init(capacity: Int) {
            memory = .allocate(byteCount: max(capacity, Writer.piece), alignment: 16)
            HugePages.advise(memory)
        }

        deinit { memory.deallocate() }

        func window(committing used: Int, atLeast: Int) -> UnsafeMutableRawBufferPointer {
            count += used
            if memory.count - count < atLeast {
                let larger = UnsafeMutableRawBufferPointer.allocate(
                    byteCount: max(memory.count * 2, count + atLeast),
                    alignment: 16
                )
                larger.baseAddress!.copyMemory(from: memory.baseAddress!, byteCount: count)
                memory.deallocate()
                memory = larger
                HugePages.advise(memory)
            }
            return UnsafeMutableRawBufferPointer(rebasing: memory[count...])
        }

        var text: [UInt8] { Array(UnsafeRawBufferPointer(rebasing: memory[..<count])) }
    }
}
