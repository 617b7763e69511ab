import JSONRPC
import MemdProtocol
import ProcFS

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// memlab's stdout, split into lines of at most `maxLineBytes`. Everything memlab
/// writes is untrusted input (limits.md §5): a longer line ends the experiment.
struct HelperLines {
    static let maxLineBytes = 64 * 1024

    private var buffer: [UInt8] = []

    /// Adds bytes read from memlab (the buffer never holds more than one line over
    /// the limit plus one read: `next()` is called after each append).
    mutating func append(_ bytes: ArraySlice<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// The next complete line (without its newline), nil when none is complete yet.
    mutating func next() throws(ExperimentError) -> [UInt8]? {
        guard let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) else {
            guard buffer.count <= Self.maxLineBytes else {
                throw .untrusted("a line longer than \(Self.maxLineBytes) bytes")
            }
            return nil
        }
        guard newline <= Self.maxLineBytes else { throw .untrusted("a line longer than \(Self.maxLineBytes) bytes") }
        let line = Array(buffer[..<newline])
        buffer.removeSubrange(...newline)
        return line
    }
}

/// How much of memlab's output memd takes: at most `maxKeptBytes` of what it keeps
/// (program output and events other than measurement points), and at most as many
/// points as the request can make (each is measured and answered, then dropped):
/// 2 × ⌈sizeBytes / stepBytes⌉ + 16 (`oom` touches twice its size).
struct HelperBudget {
    static let maxKeptBytes = 1 << 20

    let maxPoints: Int
    private(set) var keptBytes = 0
    private(set) var points = 0

    init(sizeBytes: Int, stepBytes: Int) {
        let steps = stepBytes > 0 ? sizeBytes / stepBytes + 1 : sizeBytes
        maxPoints = steps > Int.max / 4 ? Int.max : 2 * steps + 16
    }

    /// Counts one line of `bytes` bytes; throws once memlab has written more than it may.
    mutating func admit(_ line: HelperLine, bytes: Int) throws(ExperimentError) {
        if case .event(let event) = line, event["event"]?.stringValue == "point" {
            points += 1
            guard points <= maxPoints else { throw .untrusted("more than \(maxPoints) measurement points") }
            return
        }
        keptBytes += bytes
        guard keptBytes <= Self.maxKeptBytes else {
            throw .untrusted("more than \(Self.maxKeptBytes) bytes of output")
        }
    }
}

/// One line of memlab, checked: either program output, or an event whose every
/// member memd knows and whose every number is in range.
enum HelperLine: Equatable {
    case output(String)
    case event(JSONObject)

    static let events: Set<String> = ["started", "point", "fault", "error", "done"]

    /// Parses and validates `line`. `memlab` is memlab's pid; `sizeBytes` the
    /// experiment's size (no byte count memlab reports may be far beyond it);
    /// `isDescendant` says whether a pid is memlab's own descendant.
    static func parse(
        _ line: [UInt8],
        memlab: Int32,
        sizeBytes: Int,
        isDescendant: (Int32) -> Bool
    ) throws(ExperimentError) -> HelperLine {
        guard line.starts(with: Array(#"{"event":"#.utf8)) else {
            return .output(String(decoding: line, as: UTF8.self))
        }
        let object: JSONObject
        do {
            guard let parsed = try JSONParser.parse(line).objectValue else { throw ExperimentError.untrusted("") }
            object = parsed
        } catch {
            throw .untrusted("a malformed event line: \(String(decoding: line.prefix(200), as: UTF8.self))")
        }
        guard let name = object["event"]?.stringValue, events.contains(name) else {
            throw .untrusted("an unknown event \(object["event"].map { JSONWriter.string($0) } ?? "")")
        }
        // Bytes memlab may report: up to twice the size (oom allocates 2×), with room.
        let maxBytes = sizeBytes > Int.max / 4 ? Int.max : 4 * sizeBytes
        for (key, value) in object.members {
            switch key {
            case "event", "phase", "what", "errno", "message", "before", "after", "fileAfter", "path":
                guard case .string(let text) = value, text.utf8.count <= 4096 else {
                    throw .untrusted("\(key) is not a short string")
                }
            case "address", "brk":
                guard case .string(let text) = value else { throw .untrusted("\(key) is not a string") }
                // %p prints "(nil)" for a null pointer; anything else must be 0x + at most 16 hex digits.
                guard
                    text == "(nil)"
                        || (text.hasPrefix("0x") && text.count <= 18 && UInt64(text.dropFirst(2), radix: 16) != nil)
                else { throw .untrusted("\(key) \(text.prefix(40)) is not an address") }
            case "touchedBytes", "size", "limitBytes", "attemptBytes", "allocations":
                try integer(value, key, 0...maxBytes)
            case "blockBytes":
                try integer(value, key, 1...(1 << 20))
            case "pageSize":
                try integer(value, key, 4096...(1 << 30))
            case "signal":
                try integer(value, key, 1...64)
            case "status":
                try integer(value, key, 0...Int(UInt16.max))
            case "uid", "gid":
                try integer(value, key, 0...Int(UInt32.max))
            case "failed", "removed":
                guard case .bool = value else { throw .untrusted("\(key) is not a boolean") }
            case "pid":
                let pid = try integer(value, key, PID.range)
                guard pid == Int(memlab) else { throw .untrusted("pid \(pid) is not memlab's (\(memlab))") }
            case "childPid":
                let pid = Int32(try integer(value, key, PID.range))  // within Int32 by PID.range
                guard isDescendant(pid) else {
                    throw .untrusted("childPid \(pid) is not a descendant of memlab (\(memlab))")
                }
            default:
                throw .untrusted("an unknown member \(key.prefix(40))")
            }
        }
        if name == "point", object["phase"]?.stringValue == nil { throw .untrusted("a point without a phase") }
        return .event(object)
    }

    @discardableResult
    private static func integer(_ value: JSON, _ key: String, _ range: ClosedRange<Int>) throws(ExperimentError) -> Int
    {
        guard let number = value.intValue, range.contains(number) else {
            throw .untrusted("\(key) \(JSONWriter.string(value).prefix(40)) is out of range \(range)")
        }
        return number
    }
}

/// Whether `pid` is `ancestor` or one of its descendants, by the ppid chain of /proc/PID/stat.
func isDescendant(_ pid: Int32, of ancestor: Int32, proc: inout ProcReader) -> Bool {
    var current = pid
    for _ in 0..<32 {
        if current == ancestor { return true }
        guard current > 1, let stat = try? proc.stat(pid: current) else { return false }
        current = stat.ppid
    }
    return false
}
