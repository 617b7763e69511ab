import ArgumentParser
import MemdProtocol
import ProcFS

/// `memctl free`: the table `free` prints, from `meminfo`, with procps 4's flags.
struct FreeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "free",
        abstract: "Memory in use and free, like free(1).",
        // free's -h is human-readable, as in procps: help is --help only.
        helpNames: [.long]
    )

    @OptionGroup var global: GlobalOptions
    @Flag(name: [.short, .long], help: "Bytes.") var bytes = false
    @Flag(name: [.customShort("k"), .customLong("kibi")], help: "Kibibytes (the default).") var kibi = false
    @Flag(name: [.customShort("m"), .customLong("mebi")], help: "Mebibytes.") var mebi = false
    @Flag(name: [.customShort("g"), .customLong("gibi")], help: "Gibibytes.") var gibi = false
    @Flag(name: .customLong("tebi"), help: "Tebibytes.") var tebi = false
    @Flag(name: .customLong("pebi"), help: "Pebibytes.") var pebi = false
    @Flag(name: .customLong("kilo"), help: "Kilobytes (1000 bytes).") var kilo = false
    @Flag(name: .customLong("mega"), help: "Megabytes.") var mega = false
    @Flag(name: .customLong("giga"), help: "Gigabytes.") var giga = false
    @Flag(name: .customLong("tera"), help: "Terabytes.") var tera = false
    @Flag(name: .customLong("peta"), help: "Petabytes.") var peta = false
    @Flag(name: [.customShort("h"), .customLong("human")], help: "Human-readable (B, Ki, Mi, Gi, …).") var human = false
    @Flag(name: .customLong("si"), help: "Powers of 1000, not 1024.") var si = false
    @Flag(name: [.customShort("l"), .customLong("lohi")], help: "Low and high memory.") var lohi = false
    @Flag(name: [.customShort("t"), .customLong("total")], help: "A Total: line (memory plus swap).") var total = false
    @Flag(name: [.customShort("v"), .customLong("committed")], help: "A Comm: line (the commit limit).")
    var committed = false
    @Flag(name: [.customShort("w"), .customLong("wide")], help: "Buffers and cache in two columns.") var wide = false
    @Option(name: [.customShort("s"), .customLong("seconds")], help: "Repeat every N seconds.") var seconds: Double?
    @Option(name: [.customShort("c"), .customLong("count")], help: "Repeat N times.") var count: Int?
    @Option(name: .long, help: "Read a simulated machine instead.") var machine: String?

    /// free's unit flags as (exponent, SI): 1 bytes, 2 kilo, … 6 peta; 0 the default.
    var unit: (exponent: Int, si: Bool) {
        let choices: [(Bool, Int, Bool)] = [
            (bytes, 1, false), (kibi, 2, false), (mebi, 3, false), (gibi, 4, false), (tebi, 5, false),
            (pebi, 6, false), (kilo, 2, true), (mega, 3, true), (giga, 4, true), (tera, 5, true), (peta, 6, true),
        ]
        let chosen = choices.first { $0.0 }
        return (chosen?.1 ?? 0, (chosen?.2 ?? false) || si)
    }

    func validate() throws {
        let units = [bytes, kibi, mebi, gibi, tebi, pebi, kilo, mega, giga, tera, peta].filter { $0 }.count
        guard units <= 1 else {
            throw ValidationError("give one unit (-b, -k, -m, -g, --tebi, --kilo, …), not \(units)")
        }
        if let seconds, !(seconds > 0 && seconds < 1e9) {
            throw ValidationError("--seconds must be a positive number of seconds, not \(seconds)")
        }
        if let count, count < 1 { throw ValidationError("--count must be at least 1, not \(count)") }
    }

    func run() throws {
        let target = machine.map(Target.sim) ?? .proc
        let options = FreeView.Options(
            exponent: unit.exponent,
            si: unit.si,
            human: human,
            wide: wide,
            lohi: lohi,
            total: total,
            committed: committed
        )
        let repeats = seconds != nil || count != nil
        let interval = seconds ?? 1
        try global.session { client in
            var shown = 0
            while true {
                let info = try client.call(MeminfoMethod.self, .init(target: target))
                print(FreeView.render(info, options))
                fflush(nil)
                shown += 1
                if let count, shown >= count { break }
                guard repeats else { break }
                print("")
                usleep(UInt32(min(interval * 1e6, Double(UInt32.max))))
            }
        }
    }
}

/// procps 4.0's free.c, to the character: the label in 9 columns (print_head_col), the first
/// figure `%11s`, the rest `" %11s"`; figures in kB turned into the unit by scale_size.
enum FreeView {
    struct Options {
        var exponent = 0
        var si = false
        var human = false
        var wide = false
        var lohi = false
        var total = false
        var committed = false
    }

    static func render(_ info: MeminfoResult, _ options: Options) -> String {
        let free = info.free
        func kb(_ bytes: Int) -> Int { bytes / 1024 }
        func raw(_ key: String) -> Int? { info.raw?.first { $0.key == key }.map { $0.value / 1024 } }
        func row(_ label: String, _ figures: [Int]) -> String {
            Format.pad(label, 9, right: false)
                + figures.enumerated().map { ($0.offset == 0 ? "" : " ") + Format.pad(scale($0.element, options), 11) }
                .joined()
        }
        var lines = [
            options.wide
                ? "               total        used        free      shared     buffers       cache   available"
                : "               total        used        free      shared  buff/cache   available"
        ]
        let middle = options.wide ? [kb(free.buffers), kb(free.cache)] : [kb(free.buffers) + kb(free.cache)]
        lines.append(
            row(
                "Mem:",
                [kb(free.total), kb(free.used), kb(free.free), kb(free.shared)] + middle + [kb(free.available)]
            )
        )
        if options.lohi {
            // procps: a kernel without LowTotal (every 64-bit one) has all its memory low.
            var (lowTotal, lowFree) = (raw("LowTotal") ?? 0, raw("LowFree") ?? 0)
            if lowTotal == 0 { (lowTotal, lowFree) = (kb(free.total), kb(free.free)) }
            let (highTotal, highFree) = (raw("HighTotal") ?? 0, raw("HighFree") ?? 0)
            lines.append(row("Low:", [lowTotal, lowFree < lowTotal ? lowTotal - lowFree : 0, lowFree]))
            lines.append(row("High:", [highTotal, highFree < highTotal ? highTotal - highFree : 0, highFree]))
        }
        let swapUsed = free.swapFree < free.swapTotal ? kb(free.swapTotal) - kb(free.swapFree) : 0
        lines.append(row("Swap:", [kb(free.swapTotal), swapUsed, kb(free.swapFree)]))
        if options.total {
            lines.append(
                row(
                    "Total:",
                    [kb(free.total) + kb(free.swapTotal), kb(free.used) + swapUsed, kb(free.free) + kb(free.swapFree)]
                )
            )
        }
        if options.committed {
            let limit = raw("CommitLimit") ?? 0
            let committed = raw("Committed_AS") ?? 0
            // free subtracts unsigned longs: a commit over the limit wraps, and so does this.
            let left = Int(bitPattern: UInt(bitPattern: limit) &- UInt(bitPattern: committed))
            lines.append(row("Comm:", [limit, committed, left]))
        }
        return lines.joined(separator: "\n")
    }

    /// free.c's scale_size: kB in the chosen unit (truncated), or human-readable: bytes if that
    /// takes at most 4 characters; else, from K up, the first of `%.1f` (rounded, of a float) or
    /// `%ld` (truncated) that fits in 4 characters (SI) or 5 with the `i`.
    static func scale(_ kb: Int, _ options: Options) -> String {
        let base = options.si ? 1000.0 : 1024.0
        let bytes = kb &* 1024
        func power(_ exponent: Int) -> Double { (0..<exponent).reduce(1.0) { value, _ in value * base } }
        guard options.human else {
            switch options.exponent {
            case 0: return "\(bytes / Int(base))"
            case 1: return "\(bytes)"
            default:
                let value = Double(bytes) / power(options.exponent - 1)
                return value < 9e18 ? "\(Int(value))" : "\(bytes)"
            }
        }
        var text = "\(bytes)B"
        if text.utf8.count <= 4 { return text }
        let width = options.si ? 4 : 5
        let suffix = options.si ? "" : "i"
        for (index, unit) in ["K", "M", "G", "T", "P"].enumerated() {
            let value = Double(bytes) / power(index + 1)
            text = Format.cFormat("%.1f", Double(Float(value))) + unit + suffix
            if text.utf8.count <= width { return text }
            text = "\(Int(value))" + unit + suffix
            if text.utf8.count <= width { return text }
        }
        return text
    }
}

#if canImport(Glibc)
import Glibc
#endif
