import ArgumentParser
import JSONRPC
import MemdProtocol
import ProcFS

#if canImport(Glibc)
import Glibc
#endif

/// `memctl sim OP ARGS...` and `memctl sim run SCRIPT`: drive a simulated machine and show what
/// happened as a person would draw it (faults, rss, the walk).
struct SimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim",
        abstract:
            "Drive a simulated machine: create, list, destroy, spawn, mmap, munmap, touch, read, write, fork, exit, translate, meminfo, maps, ps, vmstat; or run SCRIPT.",
        discussion: """
            One operation per invocation, or `run SCRIPT`: a file of operations, one per line (# comments):
              create physicalBytes=64M            sets $m (later lines use it)
              spawn [command=NAME]                sets $pid
              mmap $pid 100M rw- [shared] [file=NAME:SIZE] [address=ADDR]   sets $addr
              touch $pid $addr 100M write [stride=4096]
              fork $pid                           sets $child
              translate $pid $addr [ADDR...] [trace] [write|exec] [kernel] [dryRun]
              read $pid $addr 5 | write $pid $addr TEXT | munmap $pid $addr 100M | exit $pid
              meminfo | maps $pid | ps | vmstat | list | destroy
            Outside a script, give the machine with --machine (after the operation).
            """
    )

    @OptionGroup var global: GlobalOptions
    @Flag(name: .long, help: "Print each result as JSON instead of the view.") var json = false
    @Argument(help: "The operation (or run).") var operation: String
    @Argument(parsing: .captureForPassthrough, help: "Its arguments.") var arguments: [String] = []

    func run() throws {
        var words = arguments
        var session = SimSession(json: json)
        if let i = words.firstIndex(of: "--machine") {
            guard i + 1 < words.count else { throw ValidationError("--machine needs a value") }
            session.variables["m"] = words[i + 1]
            words.removeSubrange(i...(i + 1))
        }
        if operation == "run" {
            guard words.count == 1 else { throw ValidationError("usage: memctl sim run SCRIPT") }
            let text = try SimCommand.readFile(words[0])
            try global.session { client in
                for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                    let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
                    let tokens = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
                    guard let op = tokens.first else { continue }
                    print("$ \(line.trimmingSpaces)")
                    do {
                        try session.perform(op, Array(tokens.dropFirst()), client)
                    } catch {
                        standardError("memctl sim: \(words[0]):\(number + 1): \(line.trimmingSpaces)")
                        throw error
                    }
                }
            }
        } else {
            try global.session { client in try session.perform(operation, words, client) }
        }
    }

    static func readFile(_ path: String) throws -> String {
        guard let file = fopen(path, "r") else {
            standardError("memctl sim: cannot read \(path): \(String(cString: strerror(errno)))")
            throw ExitCode(2)
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Substring {
    var trimmingSpaces: String {
        String(
            self.drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: {
                $0 == " " || $0 == "\t" || $0 == "\r"
            }).reversed()
        )
    }
}

/// A usage error inside an operation (exit 2).
struct SimUsage: Error, CustomStringConvertible {
    let description: String
}

struct SimSession {
    let json: Bool
    var variables: [String: String] = [:]

    init(json: Bool) { self.json = json }

    func value(_ word: String) throws -> String {
        guard word.hasPrefix("$") else { return word }
        let name = String(word.dropFirst())
        guard let v = variables[name == "machine" ? "m" : name] else {
            throw ValidationError("\(word) is not set yet (create sets $m, spawn $pid, mmap $addr, fork $child)")
        }
        return v
    }

    var machine: String {
        get throws {
            guard let m = variables["m"] else {
                throw ValidationError("no machine: give --machine M (or create one first)")
            }
            return m
        }
    }

    func int(_ word: String, _ what: String) throws -> Int {
        let v = try value(word)
        guard let n = Int(v), n >= 0 else { throw ValidationError("\(what) must be a number, not \(v)") }
        return n
    }

    func size(_ word: String, _ what: String) throws -> Int {
        try ExperimentCommand.bytes(try value(word), option: what)
    }

    func address(_ word: String) throws -> JSON {
        let v = try value(word)
        if v.hasPrefix("0x") || v.hasPrefix("0X") { return .string(v) }
        guard let n = Int(v), n >= 0 else { throw ValidationError("not an address: \(v)") }
        return .int(n)
    }

    func need(_ args: [String], _ count: Int, _ usage: String) throws {
        guard args.count >= count else { throw ValidationError("usage: \(usage)") }
    }

    func show(_ result: some WireValue, _ text: @autoclosure () -> String) {
        if json { printJSON(result.json) } else { print(text()) }
    }

    mutating func perform(_ op: String, _ args: [String], _ client: MemdClient) throws {
        switch op {
        case "create":
            var params: JSONObject = [:]
            for arg in args {
                let parts = arg.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { throw ValidationError("create takes key=value, not \(arg)") }
                let (key, v) = (parts[0], try value(parts[1]))
                if key.hasSuffix("Bytes") {
                    params[key] = .int(try ExperimentCommand.bytes(v, option: key))
                } else if v == "true" || v == "false" {
                    params[key] = .bool(v == "true")
                } else if let n = Int(v) {
                    params[key] = .int(n)
                } else {
                    params[key] = .string(v)
                }
            }
            let r = try client.call(SimCreateMethod.self, try SimCreateMethod.params(params))
            variables["m"] = r.machine
            let c = r.config
            show(
                r,
                "machine \(r.machine): \(Format.human(c.physicalBytes)) physical, TLB \(c.tlbEntries) entries \(c.tlbWays)-way\(c.pcid ? " (PCID)" : ""), \(c.addressBits)-bit user space, \(c.addressing.rawValue) addressing\(c.panicOnOom ? ", panic on OOM" : "")"
            )
        case "list":
            let r = try client.call(SimListMethod.self)
            var lines = [
                Format.pad("MACHINE", 8, right: false) + Format.pad("RAM", 9) + Format.pad("USED", 9)
                    + Format.pad("PROCS", 7)
                    + Format.pad("MINFLT", 10) + Format.pad("MAJFLT", 8) + Format.pad("COW", 8) + Format.pad("OOM", 5)
                    + "  STATE"
            ]
            for m in r.machines {
                lines.append(
                    Format.pad(m.machine, 8, right: false) + Format.pad(Format.human(m.physicalBytes), 9)
                        + Format.pad(Format.human(m.usedBytes), 9) + Format.pad("\(m.processes)", 7)
                        + Format.pad("\(m.minorFaults)", 10) + Format.pad("\(m.majorFaults)", 8)
                        + Format.pad("\(m.cowFaults)", 8) + Format.pad("\(m.oomKills)", 5)
                        + (m.isPanicked ? "  panicked" : "  running")
                )
            }
            show(r, lines.joined(separator: "\n"))
        case "destroy":
            let m = try args.first.map { try value($0) } ?? machine
            let r = try client.call(SimDestroyMethod.self, try SimDestroyMethod.params(["machine": .string(m)]))
            show(r, "machine \(m) destroyed")
        case "spawn":
            var params: JSONObject = ["machine": .string(try machine)]
            for arg in args {
                let parts = arg.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2 else {
                    throw ValidationError("spawn takes command=NAME, textBytes=, dataBytes=, stackBytes=")
                }
                params[parts[0]] =
                    parts[0].hasSuffix("Bytes") ? .int(try size(parts[1], parts[0])) : .string(try value(parts[1]))
            }
            let r = try client.call(SimSpawnMethod.self, try SimSpawnMethod.params(params))
            if let pid = r.pid { variables["pid"] = "\(pid)" }
            var lines = [r.pid.map { "spawned pid \($0)" } ?? "spawn failed: \(r.errno ?? "?")"]
            for m in r.mappings { lines.append("  " + mappingLine(m)) }
            if let problem = r.problem { lines.append("  note: \(problem)") }
            show(r, lines.joined(separator: "\n"))
        case "mmap":
            try need(args, 3, "mmap PID LENGTH PROT [shared] [file=NAME:SIZE] [address=ADDR]")
            let length = try size(args[1], "length")
            var params: JSONObject = [
                "machine": .string(try machine), "pid": .int(try int(args[0], "pid")), "length": .int(length),
                "prot": .string(try value(args[2])),
            ]
            for arg in args.dropFirst(3) {
                if arg == "shared" {
                    params["shared"] = true
                } else if arg.hasPrefix("file=") {
                    let spec = arg.dropFirst(5).split(separator: ":").map(String.init)
                    params["file"] = [
                        "name": .string(spec[0]),
                        "sizeBytes": .int(spec.count > 1 ? try size(spec[1], "file size") : length),
                    ]
                } else if arg.hasPrefix("address=") {
                    params["address"] = try address(String(arg.dropFirst(8)))
                } else {
                    throw ValidationError("mmap: unknown argument \(arg)")
                }
            }
            let p = try SimMmapMethod.params(params)
            let r = try client.call(SimMmapMethod.self, p)
            if let a = r.address { variables["addr"] = hexString(a) }
            let text =
                r.address == nil
                ? "mmap \(Format.human(length)) \(args[2]) → failed: \(r.errno ?? "?")"
                    + (r.largestFreeRun.map {
                        " (largest free run \(Format.human($0)), \(Format.human(r.freeBytes ?? 0)) free in total)"
                    } ?? "")
                : "mmap \(Format.human(length)) \(p.prot) → \(hexString(r.address ?? 0))  (virtual space only: nothing resident yet)"
            show(r, text)
        case "munmap":
            try need(args, 3, "munmap PID ADDR LENGTH")
            let params: JSONObject = [
                "machine": .string(try machine), "pid": .int(try int(args[0], "pid")),
                "address": try address(args[1]), "length": .int(try size(args[2], "length")),
            ]
            let r = try client.call(SimMunmapMethod.self, try SimMunmapMethod.params(params))
            show(r, "munmap → \(r.freed.pages) pages (\(Format.human(r.freed.bytes))) back to the free list")
        case "touch":
            try need(args, 4, "touch PID ADDR LENGTH read|write [stride=N]")
            let length = try size(args[2], "length")
            var params: JSONObject = [
                "machine": .string(try machine), "pid": .int(try int(args[0], "pid")),
                "address": try address(args[1]), "length": .int(length), "access": .string(args[3]),
            ]
            for arg in args.dropFirst(4) where arg.hasPrefix("stride=") {
                params["stride"] = .int(try size(String(arg.dropFirst(7)), "stride"))
            }
            let r = try client.call(SimTouchMethod.self, try SimTouchMethod.params(params))
            let at = try value(args[1])
            show(r, "touch \(Format.human(length)) \(args[3]) at \(at): " + faults(r))
        case "read":
            try need(args, 3, "read PID ADDR LENGTH")
            let params: JSONObject = [
                "machine": .string(try machine), "pid": .int(try int(args[0], "pid")),
                "address": try address(args[1]), "length": .int(try int(args[2], "length")),
            ]
            let r = try client.call(SimReadMethod.self, try SimReadMethod.params(params))
            show(r, "read \(r.length) bytes: \"\(r.data)\"  " + faults(r.faults))
        case "write":
            try need(args, 3, "write PID ADDR TEXT")
            let text = try args.dropFirst(2).map { try value($0) }.joined(separator: " ")
            let params: JSONObject = [
                "machine": .string(try machine), "pid": .int(try int(args[0], "pid")),
                "address": try address(args[1]), "data": .string(text),
            ]
            let r = try client.call(SimWriteMethod.self, try SimWriteMethod.params(params))
            show(r, "wrote \(r.bytesWritten) bytes  " + faults(r.faults))
        case "fork":
            try need(args, 1, "fork PID")
            let parent = try int(args[0], "pid")
            let r = try client.call(SimForkMethod.self, SimPIDParams(machine: try machine, pid: parent))
            variables["child"] = "\(r.pid)"
            show(
                r,
                "fork \(parent) → child \(r.pid)  (page tables copied; private writable pages now shared copy-on-write)"
            )
        case "exit":
            try need(args, 1, "exit PID")
            let r = try client.call(
                SimExitMethod.self,
                SimPIDParams(machine: try machine, pid: try int(args[0], "pid"))
            )
            let who = try value(args[0])
            show(r, "exit \(who) → \(r.freed.pages) pages (\(Format.human(r.freed.bytes))) freed")
        case "translate":
            try need(args, 2, "translate PID ADDR [ADDR...] [trace] [read|write|exec] [kernel] [dryRun]")
            var params: JSONObject = ["machine": .string(try machine), "pid": .int(try int(args[0], "pid"))]
            var list: [JSON] = []
            for arg in args.dropFirst() {
                switch arg {
                case "trace": params["trace"] = true
                case "dryRun": params["dryRun"] = true
                case "read", "write", "exec": params["access"] = .string(arg)
                case "kernel", "user": params["mode"] = .string(arg)
                default: list.append(try address(arg))
                }
            }
            params["addresses"] = .array(list)
            let r = try client.call(SimulateTranslationMethod.self, try SimulateTranslationMethod.params(params))
            show(r, TranslateView.render(r))
        case "meminfo", "free":
            let r = try client.call(MeminfoMethod.self, .init(target: .sim(try machine)))
            show(r, FreeView.render(r, FreeView.Options(human: true)))
        case "maps":
            try need(args, 1, "maps PID")
            let params: JSONObject = [
                "source": "sim", "machine": .string(try machine), "pid": .int(try int(args[0], "pid")), "detail": true,
            ]
            let r = try client.call(MapsMethod.self, try MapsMethod.params(params))
            var lines = [
                "pid \(r.pid) (\(r.command))   vsz \(Format.human(r.vsz))  rss \(Format.human(r.totals?.rss ?? 0))"
            ]
            for m in r.mappings {
                lines.append("  " + mappingLine(m) + "  rss \(Format.human(m.detail?.rss ?? 0))")
            }
            show(r, lines.joined(separator: "\n"))
        case "ps":
            let r = try client.call(PageStatsMethod.self, .init(all: true, target: .sim(try machine)))
            guard case .processes(_, let rows) = r else { throw ExitCode(1) }
            var lines = [
                Format.pad("PID", 6) + " " + Format.pad("COMMAND", 12, right: false) + Format.pad("VSZ", 10)
                    + Format.pad("RSS", 10)
                    + Format.pad("MINFLT", 10) + Format.pad("MAJFLT", 8)
            ]
            for p in rows {
                lines.append(
                    Format.pad("\(p.pid)", 6) + " " + Format.pad(p.command, 12, right: false)
                        + Format.pad(Format.human(p.vsz), 10) + Format.pad(Format.human(p.rss), 10)
                        + Format.pad("\(p.minflt)", 10) + Format.pad("\(p.majflt)", 8)
                )
            }
            show(r, lines.joined(separator: "\n"))
        case "vmstat":
            let r = try client.call(PageStatsMethod.self, .init(target: .sim(try machine)))
            guard case .system(let s) = r else { throw ExitCode(1) }
            let c = s.counters
            let figures = [
                ("pgfault", c.pgfault), ("pgmajfault", c.pgmajfault), ("pgpgin", c.pgpgin), ("pgpgout", c.pgpgout),
                ("pgfree", c.pgfree), ("pgscanDirect", c.pgscanDirect), ("pgsteal", c.pgsteal),
                ("oomKill", s.oomKills ?? 0),
            ]
            show(r, figures.map { "\($0.0) \($0.1)" }.joined(separator: "  "))
        default:
            throw ValidationError("unknown operation \(op) (memctl sim --help lists them)")
        }
    }

    func faults(_ r: SimFaults) -> String {
        var text =
            "\(r.pagesTouched) pages, \(r.minorFaults) minor faults (\(r.cowFaults) copy-on-write), \(r.majorFaults) major"
        if let rss = r.rss { text += " → rss \(Format.human(rss))" }
        if let segv = r.segv {
            text += "\n  SIGSEGV at \(hexString(segv.address)): \(segv.reason) — the process is gone"
        }
        if !r.oomKilled.isEmpty {
            text +=
                "\n  out of memory: the OOM killer killed pid \(r.oomKilled.map { "\($0)" }.joined(separator: ", "))"
        }
        return text
    }

    func mappingLine(_ m: Mapping) -> String {
        "\(hexString(m.start))-\(hexString(m.end)) \(m.perms) " + Format.pad(Format.human(Int(m.size)), 8) + " "
            + (m.path ?? "[anon]")
    }
}
