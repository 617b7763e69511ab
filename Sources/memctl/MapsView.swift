import ArgumentParser
import JSONRPC
import MemdProtocol
import ProcFS

/// `memctl maps PID`: the mappings as `pmap -x` lays them out (or pmap's plain, `-d` and `-q`
/// layouts), from `maps` (with detail for `-x`).
struct MapsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maps",
        abstract: "A process's mappings, like pmap -x (Kbytes, RSS, Dirty per mapping).",
        discussion: """
            Laid out as procps 4's pmap: -x by default (memctl's own default; pmap's is the plain \
            layout, given here by --plain), -d the device format, -q without header and footer, -p the \
            whole path. pmap's -X and -XX (every smaps field) are not available: memd's maps carry the \
            fields -x needs (rss, pss, clean/dirty, swap, …), not every smaps line.
            """
    )

    @OptionGroup var global: GlobalOptions
    // Every word not an option (so `-5` is read as a pid, and refused as one, not as an option).
    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("The process id.", valueName: "pid")) var words: [String] =
        []
    @Flag(name: .short, help: "Extended: Kbytes, RSS, Dirty per mapping (pmap -x; the default).") var x = false
    @Flag(name: .short, help: "The device format: Offset and Device per mapping (pmap -d).") var d = false
    @Flag(name: .long, help: "pmap's plain format: address, size, mode, mapping (pmap with no flag).")
    var plain = false
    @Flag(name: .short, help: "No header and no footer (pmap -q).") var q = false
    @Flag(name: .short, help: "The whole path of a mapped file (pmap -p).") var p = false
    @Option(name: .long, help: "Read a simulated machine instead (pid is the simulated pid).") var machine: String?

    var layout: MapsView.Layout { d ? .device : plain ? .plain : .extended }

    /// The pid, by memd's own rule (``PID``): 1 … 2^31−1.
    func pid() throws -> Int32 {
        guard let word = words.first else { throw ValidationError("give the process id: memctl maps PID") }
        guard words.count == 1 else {
            throw ValidationError("give one process id, not '\(words.joined(separator: " "))'")
        }
        guard let number = Int(word), let pid = PID.checked(.int(number)) else {
            throw ValidationError("'\(word)' is not a process id (a whole number from 1 to \(Int32.max))")
        }
        return pid
    }

    func validate() throws {
        _ = try pid()
        guard [x, d, plain].filter({ $0 }).count <= 1 else { throw ValidationError("give one of -x, -d, --plain") }
    }

    func run() throws {
        var params: JSONObject = ["pid": .int(Int(try pid())), "detail": .bool(layout == .extended)]
        if let machine {
            params["source"] = "sim"
            params["machine"] = .string(machine)
        }
        let result = try global.session { try $0.call(MapsMethod.self, try MapsMethod.params(params)) }
        print(MapsView.render(result, layout: layout, quiet: q, showPath: p))
    }
}

/// procps 4.0's pmap.c (one_proc, mapping_name), character for character.
enum MapsView {
    enum Layout { case plain, extended, device }

    static func render(_ result: MapsMethod.Result, layout: Layout, quiet: Bool, showPath: Bool) -> String {
        var lines = ["\(result.pid):   \(title(result))"]
        if !quiet {
            switch layout {
            case .extended: lines.append("Address           Kbytes     RSS   Dirty Mode  Mapping")
            case .device: lines.append("Address           Kbytes Mode  Offset           Device    Mapping")
            case .plain: break
            }
        }
        var mapped: UInt64 = 0
        var writeablePrivate: UInt64 = 0
        var shared: UInt64 = 0
        var rss = 0
        var dirty = 0
        for mapping in result.mappings {
            let size = mapping.size
            mapped += size
            if mapping.perms.utf8.dropFirst(3).first == UInt8(ascii: "s") {
                shared += size
            } else if mapping.perms.utf8.dropFirst(1).first == UInt8(ascii: "w") {
                writeablePrivate += size
            }
            let address = hex(mapping.start, width: 16)
            let name = name(mapping, showPath: showPath)
            switch layout {
            case .extended:
                let mappingRss = (mapping.detail?.rss ?? 0) / 1024
                let mappingDirty = ((mapping.detail?.sharedDirty ?? 0) + (mapping.detail?.privateDirty ?? 0)) / 1024
                rss += mappingRss
                dirty += mappingDirty
                lines.append(
                    "\(address) \(pad(size >> 10, 7)) \(pad(mappingRss, 7)) \(pad(mappingDirty, 7)) "
                        + "\(Format.pad(mode(mapping.perms), 5)) \(name)"
                )
            case .device:
                let device = mapping.device.split(separator: ":").map { UInt64($0, radix: 16) ?? 0 }
                let major = hex(device.first ?? 0, width: 3)
                let minor = hex(device.dropFirst().first ?? 0, width: 5)
                lines.append(
                    "\(address) \(pad(size >> 10, 7)) \(Format.pad(mode(mapping.perms), 5)) "
                        + "\(hex(mapping.offset, width: 16)) \(major):\(minor) \(name)"
                )
            case .plain:
                lines.append("\(address) \(pad(size >> 10, 6))K \(mode(mapping.perms)) \(name)")
            }
        }
        if !quiet {
            switch layout {
            case .extended:
                lines.append("---------------- ------- ------- ------- ")
                lines.append("total kB         \(pad(mapped >> 10, 7)) \(pad(rss, 7)) \(pad(dirty, 7))")
            case .device:
                lines.append(
                    "mapped: \(mapped >> 10)K    writeable/private: \(writeablePrivate >> 10)K    "
                        + "shared: \(shared >> 10)K"
                )
            case .plain:
                lines.append(" total \(pad(mapped >> 10, 16))K")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// pmap's title: the command line, or `[comm]` for a kernel thread (procps's cmdline).
    static func title(_ result: MapsMethod.Result) -> String {
        result.cmdline.isEmpty ? "[\(result.command)]" : result.cmdline
    }

    /// pmap's Mode: the four letters of maps with `p` shown as `-`, and a fifth, `-` (Solaris's
    /// `R`, swap not reserved, is never set).
    static func mode(_ perms: String) -> String {
        var letters = Array(perms.utf8.prefix(4))
        if letters.count == 4, letters[3] == UInt8(ascii: "p") { letters[3] = UInt8(ascii: "-") }
        return String(decoding: letters, as: UTF8.self) + "-"
    }

    /// pmap's Mapping column: what follows the last `/` of the maps line (the file's base name,
    /// with " (deleted)"), or the whole path with `-p`; System V shared memory as `[ shmid=0x… ]`;
    /// `[ stack ]` for the process's stack; every other mapping, named by the kernel (`[heap]`,
    /// `[vdso]`, …) or not, `[ anon ]`.
    static func name(_ mapping: Mapping, showPath: Bool) -> String {
        guard let path = mapping.path, let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else {
            return mapping.kind == .stack ? "  [ stack ]" : "  [ anon ]"
        }
        let line = path + (mapping.isDeleted ? " (deleted)" : "")
        if mapping.device.split(separator: ":").first.map({ UInt64($0, radix: 16) == 0 }) == true,
            path.hasPrefix("/SYSV")
        {
            return "  [ shmid=0x\(String(mapping.inode, radix: 16)) ]"
        }
        if showPath { return line }
        let base = String(line[line.utf8.index(after: slash)...])
        return base.isEmpty ? "/" : base
    }

    static func hex(_ value: UInt64, width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    static func pad<T: BinaryInteger>(_ value: T, _ width: Int) -> String { Format.pad("\(value)", width) }
}

#if canImport(Glibc)
import Glibc
#endif
