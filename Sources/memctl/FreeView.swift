import ArgumentParser
import MemdProtocol
import ProcFS

/// `memctl free`: the table `free` prints, from `meminfo`.
struct FreeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "free",
        abstract: "Memory in use and free, like free(1)."
    )

    @OptionGroup var global: GlobalOptions
    @Flag(name: .short, help: "Human-readable (Ki, Mi, Gi).") var h = false
    @Flag(name: .short, help: "Bytes.") var b = false
    @Flag(name: .short, help: "Kibibytes (the default).") var k = false
    @Flag(name: .short, help: "Mebibytes.") var m = false
    @Flag(name: .short, help: "Gibibytes.") var g = false
    @Option(name: .long, help: "Read a simulated machine instead.") var machine: String?

    func run() throws {
        let target = machine.map(Target.sim) ?? .proc
        let info = try global.session { try $0.call(MeminfoMethod.self, .init(target: target)) }
        print(FreeView.render(info.free, unit: h ? .human : b ? .bytes : m ? .mebi : g ? .gibi : .kibi))
    }
}

enum FreeView {
    enum Unit { case bytes, kibi, mebi, gibi, human }

    static func render(_ free: FreeFigures, unit: Unit) -> String {
        func cell(_ bytes: Int) -> String {
            switch unit {
            case .bytes: return "\(bytes)"
            case .kibi: return "\(bytes / 1024)"
            case .mebi: return "\(bytes / (1 << 20))"
            case .gibi: return "\(bytes / (1 << 30))"
            case .human: return Format.human(bytes)
            }
        }
        let header = ["total", "used", "free", "shared", "buff/cache", "available"]
        // procps 4's free.c: the label in 8 columns, then " %11s" per figure.
        var lines = [Format.pad("", 8) + header.map { " " + Format.pad($0, 11) }.joined()]
        lines.append(
            Format.pad("Mem:", 8, right: false)
                + [free.total, free.used, free.free, free.shared, free.buffCache, free.available]
                .map { " " + Format.pad(cell($0), 11) }.joined()
        )
        lines.append(
            Format.pad("Swap:", 8, right: false)
                + [free.swapTotal, free.swapUsed, free.swapFree].map { " " + Format.pad(cell($0), 11) }.joined()
        )
        return lines.joined(separator: "\n")
    }
}
