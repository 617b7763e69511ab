import ArgumentParser
import JSONRPC
import MemdProtocol

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

    var machine: JSON {
        get throws {
            guard let m = variables["m"] else {
                throw ValidationError("no machine: give --machine M (or create one first)")
            }
            return .string(m)
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

    func show(_ result: JSON, _ text: @autoclosure () -> String) {
        if json { printJSON(result) } else { print(text()) }
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
            let r = try client.call("sim.create", params)
            variables["m"] = r["machine"]?.stringValue
            let c = r["config"]
            show(
                r,
                "machine \(r["machine"]?.stringValue ?? "?"): \(Format.human(Format.int(c?["physicalBytes"]))) physical, TLB \(Format.int(c?["tlbEntries"])) entries \(Format.int(c?["tlbWays"]))-way\(c?["pcid"] == true ? " (PCID)" : ""), \(Format.int(c?["addressBits"]))-bit user space, \(c?["addressing"]?.stringValue ?? "virtual") addressing\(c?["panicOnOom"] == true ? ", panic on OOM" : "")"
            )
        case "list":
            let r = try client.call("sim.list")
            var lines = [
                Format.pad("MACHINE", 8, right: false) + Format.pad("RAM", 9) + Format.pad("USED", 9)
                    + Format.pad("PROCS", 7)
                    + Format.pad("MINFLT", 10) + Format.pad("MAJFLT", 8) + Format.pad("COW", 8) + Format.pad("OOM", 5)
                    + "  STATE"
            ]
            for m in r["machines"]?.arrayValue ?? [] {
                lines.append(
                    Format.pad(m["machine"]?.stringValue ?? "", 8, right: false)
                        + Format.pad(Format.human(Format.int(m["physicalBytes"])), 9)
                        + Format.pad(Format.human(Format.int(m["usedBytes"])), 9)
                        + Format.pad("\(Format.int(m["processes"]))", 7)
                        + Format.pad("\(Format.int(m["minorFaults"]))", 10)
                        + Format.pad("\(Format.int(m["majorFaults"]))", 8)
                        + Format.pad("\(Format.int(m["cowFaults"]))", 8)
                        + Format.pad("\(Format.int(m["oomKills"]))", 5)
                        + (m["panicked"] == true ? "  panicked" : "  running")
                )
            }
            show(r, lines.joined(separator: "\n"))
        case "destroy":
            let m: JSON = try args.first.map { .string(try value($0)) } ?? machine
            let r = try client.call("sim.destroy", ["machine": m])
            show(r, "machine \(m.stringValue ?? "") destroyed")
        case "spawn":
            var params: JSONObject = ["machine": try machine]
            for arg in args {
                let parts = arg.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2 else {
                    throw ValidationError("spawn takes command=NAME, textBytes=, dataBytes=, stackBytes=")
                }
                params[parts[0]] =
                    parts[0].hasSuffix("Bytes") ? .int(try size(parts[1], parts[0])) : .string(try value(parts[1]))
            }
            let r = try client.call("sim.spawn", params)
            if let pid = r["pid"]?.intValue { variables["pid"] = "\(pid)" }
            var lines = [
                r["pid"] == .null
                    ? "spawn failed: \(r["errno"]?.stringValue ?? "?")" : "spawned pid \(Format.int(r["pid"]))"
            ]
            for m in r["mappings"]?.arrayValue ?? [] { lines.append("  " + mappingLine(m)) }
            if let problem = r["problem"]?.stringValue { lines.append("  note: \(problem)") }
            show(r, lines.joined(separator: "\n"))
        case "mmap":
            try need(args, 3, "mmap PID LENGTH PROT [shared] [file=NAME:SIZE] [address=ADDR]")
            let length = try size(args[1], "length")
            var params: JSONObject = [
                "machine": try machine, "pid": .int(try int(args[0], "pid")), "length": .int(length),
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
            let r = try client.call("sim.mmap", params)
            if let a = r["address"]?.stringValue { variables["addr"] = a }
            let text =
                r["address"] == .null
                ? "mmap \(Format.human(length)) \(args[2]) → failed: \(r["errno"]?.stringValue ?? "?")"
                    + (r["largestFreeRun"] != nil
                        ? " (largest free run \(Format.human(Format.int(r["largestFreeRun"]))), \(Format.human(Format.int(r["freeBytes"]))) free in total)"
                        : "")
                : "mmap \(Format.human(length)) \(params["prot"]?.stringValue ?? "") → \(r["address"]?.stringValue ?? "?")  (virtual space only: nothing resident yet)"
            show(r, text)
        case "munmap":
            try need(args, 3, "munmap PID ADDR LENGTH")
            let r = try client.call(
                "sim.munmap",
                [
                    "machine": try machine, "pid": .int(try int(args[0], "pid")),
                    "address": try address(args[1]), "length": .int(try size(args[2], "length")),
                ]
            )
            show(
                r,
                "munmap → \(Format.int(r["freedPages"])) pages (\(Format.human(Format.int(r["freedBytes"])))) back to the free list"
            )
        case "touch":
            try need(args, 4, "touch PID ADDR LENGTH read|write [stride=N]")
            let length = try size(args[2], "length")
            var params: JSONObject = [
                "machine": try machine, "pid": .int(try int(args[0], "pid")), "address": try address(args[1]),
                "length": .int(length), "access": .string(args[3]),
            ]
            for arg in args.dropFirst(4) where arg.hasPrefix("stride=") {
                params["stride"] = .int(try size(String(arg.dropFirst(7)), "stride"))
            }
            let r = try client.call("sim.touch", params)
            let at = try value(args[1])
            show(r, "touch \(Format.human(length)) \(args[3]) at \(at): " + faults(r))
        case "read":
            try need(args, 3, "read PID ADDR LENGTH")
            let r = try client.call(
                "sim.read",
                [
                    "machine": try machine, "pid": .int(try int(args[0], "pid")),
                    "address": try address(args[1]), "length": .int(try int(args[2], "length")),
                ]
            )
            show(r, "read \(Format.int(r["length"])) bytes: \"\(r["data"]?.stringValue ?? "")\"  " + faults(r))
        case "write":
            try need(args, 3, "write PID ADDR TEXT")
            let text = try args.dropFirst(2).map { try value($0) }.joined(separator: " ")
            let r = try client.call(
                "sim.write",
                [
                    "machine": try machine, "pid": .int(try int(args[0], "pid")),
                    "address": try address(args[1]), "data": .string(text),
                ]
            )
            show(r, "wrote \(Format.int(r["bytesWritten"])) bytes  " + faults(r))
        case "fork":
            try need(args, 1, "fork PID")
            let parent = try int(args[0], "pid")
            let r = try client.call("sim.fork", ["machine": try machine, "pid": .int(parent)])
            variables["child"] = "\(Format.int(r["pid"]))"
            show(
                r,
                "fork \(parent) → child \(Format.int(r["pid"]))  (page tables copied; private writable pages now shared copy-on-write)"
            )
        case "exit":
            try need(args, 1, "exit PID")
            let r = try client.call("sim.exit", ["machine": try machine, "pid": .int(try int(args[0], "pid"))])
            let who = try value(args[0])
            show(
                r,
                "exit \(who) → \(Format.int(r["freedPages"])) pages (\(Format.human(Format.int(r["freedBytes"])))) freed"
            )
        case "translate":
            try need(args, 2, "translate PID ADDR [ADDR...] [trace] [read|write|exec] [kernel] [dryRun]")
            var params: JSONObject = ["machine": try machine, "pid": .int(try int(args[0], "pid"))]
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
            let r = try client.call("simulateTranslation", params)
            show(r, TranslateView.render(r))
        case "meminfo", "free":
            let r = try client.call("meminfo", ["source": "sim", "machine": try machine])
            show(r, FreeView.render(r, unit: .human))
        case "maps":
            try need(args, 1, "maps PID")
            let r = try client.call(
                "maps",
                ["source": "sim", "machine": try machine, "pid": .int(try int(args[0], "pid")), "detail": true]
            )
            var lines = [
                "pid \(Format.int(r["pid"])) (\(r["command"]?.stringValue ?? ""))   vsz \(Format.human(Format.int(r["totals"]?["vsz"])))  rss \(Format.human(Format.int(r["totals"]?["rss"])))"
            ]
            for m in r["mappings"]?.arrayValue ?? [] {
                lines.append("  " + mappingLine(m) + "  rss \(Format.human(Format.int(m["rss"])))")
            }
            show(r, lines.joined(separator: "\n"))
        case "ps":
            let r = try client.call("pageStats", ["source": "sim", "machine": try machine, "all": true])
            var lines = [
                Format.pad("PID", 6) + " " + Format.pad("COMMAND", 12, right: false) + Format.pad("VSZ", 10)
                    + Format.pad("RSS", 10)
                    + Format.pad("MINFLT", 10) + Format.pad("MAJFLT", 8)
            ]
            for p in r["processes"]?.arrayValue ?? [] {
                lines.append(
                    Format.pad("\(Format.int(p["pid"]))", 6) + " "
                        + Format.pad(p["command"]?.stringValue ?? "", 12, right: false)
                        + Format.pad(Format.human(Format.int(p["vsz"])), 10)
                        + Format.pad(Format.human(Format.int(p["rss"])), 10)
                        + Format.pad("\(Format.int(p["minflt"]))", 10) + Format.pad("\(Format.int(p["majflt"]))", 8)
                )
            }
            show(r, lines.joined(separator: "\n"))
        case "vmstat":
            let r = try client.call("pageStats", ["source": "sim", "machine": try machine])
            let c = r["counters"]
            show(
                r,
                ["pgfault", "pgmajfault", "pgpgin", "pgpgout", "pgfree", "pgscanDirect", "pgsteal", "oomKill"]
                    .map { "\($0) \(Format.int(c?[$0]))" }.joined(separator: "  ")
            )
        default:
            throw ValidationError("unknown operation \(op) (memctl sim --help lists them)")
        }
    }

    func faults(_ r: JSON) -> String {
        var text =
            "\(Format.int(r["pagesTouched"])) pages, \(Format.int(r["minorFaults"])) minor faults (\(Format.int(r["cowFaults"])) copy-on-write), \(Format.int(r["majorFaults"])) major"
        if let rss = r["rss"]?.intValue { text += " → rss \(Format.human(rss))" }
        if let segv = r["segv"] {
            text +=
                "\n  SIGSEGV at \(segv["address"]?.stringValue ?? "?"): \(segv["reason"]?.stringValue ?? "") — the process is gone"
        }
        if let killed = r["oomKilled"]?.arrayValue, !killed.isEmpty {
            text +=
                "\n  out of memory: the OOM killer killed pid \(killed.map { "\(Format.int($0))" }.joined(separator: ", "))"
        }
        return text
    }

    func mappingLine(_ m: JSON) -> String {
        "\(m["start"]?.stringValue ?? "")-\(m["end"]?.stringValue ?? "") \(m["perms"]?.stringValue ?? "") "
            + Format.pad(Format.human(Format.int(m["size"])), 8) + " " + (m["path"]?.stringValue ?? "[anon]")
    }
}
