import JSONRPC

// The simulator's methods (`sim.*`) and `simulateTranslation`: wire names and
// params, decoded and checked once. The server (MemdServer/Sim) drives the MMU
// library with them; clients encode them (SimClientParams.swift) and read the
// results (SimResults.swift).

/// A simulated machine's id param (`"m1"`, …).
func decodeMachine(_ p: inout ParamReader) throws(RPCError) -> String {
    let machine = try p.requiredString("machine")
    guard !machine.isEmpty, machine.utf8.count <= 64 else {
        throw .invalidParams("machine", "must be a machine id like \"m1\"")
    }
    return machine
}

/// A simulated pid: a positive integer.
func decodeSimPID(_ p: inout ParamReader) throws(RPCError) -> Int {
    guard let pid = try p.int("pid", min: PID.range.lowerBound, max: PID.range.upperBound) else {
        throw .invalidParams("pid", "required")
    }
    return pid
}

/// A byte count param.
func decodeBytes(_ p: inout ParamReader, _ name: String, min: Int = 0) throws(RPCError) -> UInt64? {
    try p.int(name, min: min).map { UInt64($0) }
}

public enum SimAddressing: String, Sendable, CaseIterable { case virtual, physical }
public enum SimAccess: String, Sendable, CaseIterable { case read, write, exec }
public enum SimTouchAccess: String, Sendable, CaseIterable { case read, write }
public enum SimMode: String, Sendable, CaseIterable { case user, kernel }
public enum SimEncoding: String, Sendable, CaseIterable { case utf8, base64 }

/// `sim.create` — a new simulated machine; every field optional (the simulator's defaults).
public enum SimCreateMethod: MethodDescriptor {
    public static let name = "sim.create"
    public struct Params: Sendable {
        public var physicalBytes: UInt64?
        public var tlbEntries: Int?
        public var tlbWays: Int?
        public var pcid: Bool?
        public var addressBits: Int?
        public var hugePages: Bool?
        public var addressing: SimAddressing?
        public var panicOnOom: Bool?
        public var swapBytes: UInt64?

        public init(
            physicalBytes: UInt64? = nil,
            tlbEntries: Int? = nil,
            tlbWays: Int? = nil,
            pcid: Bool? = nil,
            addressBits: Int? = nil,
            hugePages: Bool? = nil,
            addressing: SimAddressing? = nil,
            panicOnOom: Bool? = nil,
            swapBytes: UInt64? = nil
        ) {
            (self.physicalBytes, self.tlbEntries, self.tlbWays, self.pcid, self.addressBits) =
                (physicalBytes, tlbEntries, tlbWays, pcid, addressBits)
            (self.hugePages, self.addressing, self.panicOnOom, self.swapBytes) =
                (hugePages, addressing, panicOnOom, swapBytes)
        }
    }
    public static func decode(_ p: inout ParamReader) throws(RPCError) -> Params {
        Params(
            physicalBytes: try decodeBytes(&p, "physicalBytes", min: 1),
            tlbEntries: try p.int("tlbEntries", min: 1),
            tlbWays: try p.int("tlbWays", min: 1),
            pcid: try p.bool("pcid"),
            addressBits: try p.int("addressBits"),
            hugePages: try p.bool("hugePages"),
            addressing: try p.choice("addressing", as: SimAddressing.self),
            panicOnOom: try p.bool("panicOnOom"),
            swapBytes: try decodeBytes(&p, "swapBytes")
        )
    }
}

/// `sim.spawn` — a new process on a machine.
public enum SimSpawnMethod: MethodDescriptor {
    public static let name = "sim.spawn"
    public struct Params: Sendable {
        public var machine: String
        public var command: String?
        public var textBytes: UInt64?
        public var dataBytes: UInt64?
        public var stackBytes: UInt64?

        public init(
            machine: String,
            command: String? = nil,
            textBytes: UInt64? = nil,
            dataBytes: UInt64? = nil,
            stackBytes: UInt64? = nil
        ) {
            (self.machine, self.command, self.textBytes, self.dataBytes, self.stackBytes) =
                (machine, command, textBytes, dataBytes, stackBytes)
        }
    }
    public static func decode(_ p: inout ParamReader) throws(RPCError) -> Params {
        Params(
            machine: try decodeMachine(&p),
            command: try p.string("command"),
            textBytes: try decodeBytes(&p, "textBytes", min: 1),
            dataBytes: try decodeBytes(&p, "dataBytes"),
            stackBytes: try decodeBytes(&p, "stackBytes", min: 1)
        )
    }
}

/// `sim.mmap` — reserves virtual space (demand paging).
public enum SimMmapMethod: MethodDescriptor {
    public static let name = "sim.mmap"
    public struct Params: Sendable {
        public var machine: String
        public var pid: Int
        public var length: UInt64
        /// `"rw-"`: r, w, x or `-` in that order.
        public var prot: String
        public var shared: Bool
        public var file: (name: String, sizeBytes: UInt64)?
        public var offset: UInt64
        public var address: UInt64?

        public init(
            machine: String,
            pid: Int,
            length: UInt64,
            prot: String,
            shared: Bool = false,
            file: (name: String, sizeBytes: UInt64)? = nil,
            offset: UInt64 = 0,
            address: UInt64? = nil
        ) {
            (self.machine, self.pid, self.length, self.prot) = (machine, pid, length, prot)
            (self.shared, self.file, self.offset, self.address) = (shared, file, offset, address)
        }
    }
    public static func decode(_ p: inout ParamReader) throws(RPCError) -> Params {
        let machine = try decodeMachine(&p)
        let pid = try decodeSimPID(&p)
        guard let length = try decodeBytes(&p, "length", min: 1) else { throw .invalidParams("length", "required") }
        let prot = try p.requiredString("prot")
        let chars = Array(prot)
        guard chars.count == 3, "r-".contains(chars[0]), "w-".contains(chars[1]), "x-".contains(chars[2]) else {
            throw .invalidParams("prot", "must be like \"rw-\" (r, w, x or - in that order), not \"\(prot)\"")
        }
        var file: (name: String, sizeBytes: UInt64)?
        if let object = try p.objectParam("file") {
            var f = ParamReader(object)
            let name = try f.requiredString("name")
            guard let size = try f.int("sizeBytes", min: 0) else { throw .invalidParams("file", "sizeBytes required") }
            guard size <= 1 << 40 else { throw .invalidParams("file", "sizeBytes must be at most 1 TiB") }
            do { try f.finish() } catch { throw .invalidParams("file", "unknown member (file takes name, sizeBytes)") }
            file = (name, UInt64(size))
        }
        let offset = try p.address("offset") ?? 0
        return Params(
            machine: machine,
            pid: pid,
            length: length,
            prot: prot,
            shared: try p.bool("shared") ?? false,
            file: file,
            offset: offset,
            address: try p.address("address")
        )
    }
}

/// `sim.munmap` — removes mappings in a range.
public enum SimMunmapMethod: MethodDescriptor {
    public static let name = "sim.munmap"
    public struct Params: Sendable {
        public var machine: String
        public var pid: Int
        public var address: UInt64
        public var length: UInt64

        public init(machine: String, pid: Int, address: UInt64, length: UInt64) {
            (self.machine, self.pid, self.address, self.length) = (machine, pid, address, length)
        }
    }
    public static func decode(_ p: inout ParamReader) throws(RPCError) -> Params {
        let machine = try decodeMachine(&p)
        let pid = try decodeSimPID(&p)
        let address = try p.requiredAddress("address")
        guard let length = try decodeBytes(&p, "length", min: 1) else { throw .invalidParams("length", "required") }
        return Params(machine: machine, pid: pid, address: address, length: length)
    }
}

/// `sim.touch` — accesses every `stride` bytes of a range, as a program's loads or stores.
public enum SimTouchMethod: MethodDescriptor {
    public static let name = "sim.touch"
    public struct Params: Sendable {
        public var machine: String
        public var pid: Int
        public var address: UInt64
        public var length: UInt64
        public var access: SimTouchAccess
        public var stride: UInt64

        public init(
            machine: String,
            pid: Int,
            address: UInt64,
            length: UInt64,
            access: SimTouchAccess,
            stride: UInt64 = 4096
        ) {
            (self.machine, self.pid, self.address, self.length, self.access, self.stride) =
                (machine, pid, address, length, access, stride)
        }
    }
    public static func decode(_ p: inout ParamReader) throws(RPCError) -> Params {
        let machine = try decodeMachine(&p)
        let pid = try decodeSimPID(&p)
        let address = try p.requiredAddress("address")
        guard let length = try decodeBytes(&p, "length", min: 1) else { throw .invalidParams("length", "required") }
        guard let access = try p.choice("access", as: SimTouchAccess.self) else {
            throw .invalidParams("access", "required")
        }
        let stride = try decodeBytes(&p, "stride", min: 1) ?? 4096
        return Params(machine: machine, pid: pid, address: address, length: length, access: access, stride: stride)
    }
}

/// `sim.read` — up to 4 KiB of a process's memory.
public enum SimReadMethod: MethodDescriptor {
    public static let name = "sim.read"
    public struct Params: Sendable {
        public var machine: String
        public var pid: Int
        public var address: UInt64
        public var length: Int
        public var encoding: SimEncoding

        public init(machine: String, pid: Int, address: UInt64, length: Int, encoding: SimEncoding = .utf8) {
            (self.machine, self.pid, self.address, self.length, self.encoding) = (
                machine, pid, address, length, encoding
            )
        }
    }
    public static func decode(_ p: inout ParamReader) throws(RPCError) -> Params {
        let machine = try decodeMachine(&p)
        let pid = try decodeSimPID(&p)
        let address = try p.requiredAddress("address")
        let length = try p.requiredInt("length", min: 0, max: 4096)
        return Params(
            machine: machine,
            pid: pid,
            address: address,
            length: length,
            encoding: try p.choice("encoding", as: SimEncoding.self) ?? .utf8
        )
    }
}

/// `sim.write` — up to 4 KiB into a process's memory.
public enum SimWriteMethod: MethodDescriptor {
    public static let name = "sim.write"
    public struct Params: Sendable {
        public var machine: String
        public var pid: Int
        public var address: UInt64
        public var bytes: [UInt8]

        public init(machine: String, pid: Int, address: UInt64, bytes: [UInt8]) {
            (self.machine, self.pid, self.address, self.bytes) = (machine, pid, address, bytes)
        }
    }
    public static func decode(_ p: inout ParamReader) throws(RPCError) -> Params {
        let machine = try decodeMachine(&p)
        let pid = try decodeSimPID(&p)
        let address = try p.requiredAddress("address")
        let data = try p.requiredString("data")
        let encoding = try p.choice("encoding", as: SimEncoding.self) ?? .utf8
        let bytes: [UInt8]
        switch encoding {
        case .utf8: bytes = Array(data.utf8)
        case .base64:
            guard let decoded = Base64.decode(data) else { throw .invalidParams("data", "not valid base64") }
            bytes = decoded
        }
        guard bytes.count <= 4096 else { throw .invalidParams("data", "at most 4096 bytes, got \(bytes.count)") }
        return Params(machine: machine, pid: pid, address: address, bytes: bytes)
    }
}

/// `sim.fork` and `sim.exit` — a machine and a pid.
public struct SimPIDParams: Sendable {
    public var machine: String
    public var pid: Int

    public init(machine: String, pid: Int) { (self.machine, self.pid) = (machine, pid) }

    static func decode(_ p: inout ParamReader) throws(RPCError) -> SimPIDParams {
        SimPIDParams(machine: try decodeMachine(&p), pid: try decodeSimPID(&p))
    }
}

public enum SimForkMethod: MethodDescriptor {
    public static let name = "sim.fork"
    public static func decode(_ p: inout ParamReader) throws(RPCError) -> SimPIDParams { try .decode(&p) }
}

public enum SimExitMethod: MethodDescriptor {
    public static let name = "sim.exit"
    public static func decode(_ p: inout ParamReader) throws(RPCError) -> SimPIDParams { try .decode(&p) }
}

public enum SimDestroyMethod: MethodDescriptor {
    public static let name = "sim.destroy"
    public static func decode(_ p: inout ParamReader) throws(RPCError) -> String { try decodeMachine(&p) }
}

public enum SimListMethod: MethodDescriptor {
    public static let name = "sim.list"
    public static func decode(_ p: inout ParamReader) throws(RPCError) {}
}

/// `simulateTranslation` — virtual → physical for a real process (maps + pagemap) or a simulated one.
public enum SimulateTranslationMethod: MethodDescriptor {
    public static let name = "simulateTranslation"
    /// The most accesses a pattern may ask for (-32003 above).
    public static let maxCount = 10_000_000
    /// Above this many addresses only the summary is returned.
    public static let maxListed = 100_000

    public enum Order: String, Sendable, CaseIterable { case sequential, stride, random }

    public struct Pattern: Sendable, Equatable {
        public var start: UInt64
        public var length: UInt64
        public var count: Int
        public var order: Order
        public var stride: UInt64
        public var seed: UInt64

        /// `stride` counts with order `stride`, `seed` with `random`.
        public init(start: UInt64, length: UInt64, count: Int, order: Order, stride: UInt64 = 4096, seed: UInt64 = 0) {
            (self.start, self.length, self.count, self.order, self.stride, self.seed) =
                (start, length, count, order, stride, seed)
        }
    }

    public enum Addresses: Sendable, Equatable {
        case list([UInt64])
        case pattern(Pattern)
        public var count: Int {
            switch self {
            case .list(let a): a.count
            case .pattern(let p): p.count
            }
        }
    }

    public struct Params: Sendable {
        public var addresses: Addresses
        public var access: SimAccess
        public var mode: SimMode
        public var trace: Bool
        public var summaryOnly: Bool
        public var dryRun: Bool
        public var pid: Int
        /// nil: a real process.
        public var machine: String?

        public init(
            addresses: Addresses,
            access: SimAccess = .read,
            mode: SimMode = .user,
            trace: Bool = false,
            summaryOnly: Bool = false,
            dryRun: Bool = false,
            pid: Int,
            machine: String? = nil
        ) {
            (self.addresses, self.access, self.mode, self.trace) = (addresses, access, mode, trace)
            (self.summaryOnly, self.dryRun, self.pid, self.machine) = (summaryOnly, dryRun, pid, machine)
        }
    }

    public static func decode(_ p: inout ParamReader) throws(RPCError) -> Params {
        let list = try p.array("addresses")
        let patternObject = try p.objectParam("pattern")
        let addresses: Addresses
        switch (list, patternObject) {
        case (let list?, nil):
            var out: [UInt64] = []
            out.reserveCapacity(list.count)
            for (i, value) in list.enumerated() { out.append(try ParamReader.address(value, name: "addresses[\(i)]")) }
            addresses = .list(out)
        case (nil, let object?):
            addresses = .pattern(try decodePattern(object))
        case (nil, nil): throw .invalidParams("addresses", "give addresses (an array) or pattern")
        case (_?, _?): throw .invalidParams("pattern", "give either addresses or pattern, not both")
        }
        let access = try p.choice("access", as: SimAccess.self) ?? .read
        let mode = try p.choice("mode", as: SimMode.self) ?? .user
        let trace = try p.bool("trace") ?? false
        let summaryOnly = try p.bool("summaryOnly") ?? false
        let dryRun = try p.bool("dryRun") ?? false
        let pid = try decodeSimPID(&p)
        let machine = try Target.decode(&p, inferSource: true).machine
        if machine == nil, dryRun { throw .invalidParams("dryRun", "only for a simulated process (with machine)") }
        return Params(
            addresses: addresses,
            access: access,
            mode: mode,
            trace: trace,
            summaryOnly: summaryOnly || addresses.count > maxListed,
            dryRun: dryRun,
            pid: pid,
            machine: machine
        )
    }

    static func decodePattern(_ object: JSONObject) throws(RPCError) -> Pattern {
        var p = ParamReader(object)
        func sub(_ e: RPCError) -> RPCError {
            let param = e.data["param"]?.stringValue.map { "pattern." + $0 }
            return .invalidParams(param ?? "pattern", e.data["reason"]?.stringValue ?? e.message)
        }
        do throws(RPCError) {
            let start = try p.requiredAddress("start")
            guard let length = try p.address("length"), length > 0 else {
                throw RPCError.invalidParams("length", "required, positive")
            }
            let count = try p.requiredInt("count", min: 0)
            if count > maxCount { throw RPCError.resourceLimit("accesses", limit: maxCount, requested: count) }
            guard let order = try p.choice("order", as: Order.self) else {
                throw RPCError.invalidParams("order", "required")
            }
            var stride: UInt64 = 4096
            var seed: UInt64 = 0
            switch order {
            case .sequential:
                break
            case .stride:
                guard let s = try p.address("stride"), s > 0 else {
                    throw RPCError.invalidParams("stride", "required with order \"stride\", positive")
                }
                stride = s
            case .random:
                guard let s = try p.address("seed") else {
                    throw RPCError.invalidParams("seed", "required with order \"random\"")
                }
                seed = s
            }
            try p.finish()
            guard start <= UInt64.max - length else {
                throw RPCError.invalidParams("length", "start + length overflows")
            }
            return Pattern(start: start, length: length, count: count, order: order, stride: stride, seed: seed)
        } catch {
            if error.code == .invalidParams { throw sub(error) }
            throw error
        }
    }
}

/// Base64 (RFC 4648, with padding), by hand: no Foundation in the core.
public enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [
                alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)],
                alphabet[Int(n & 63)],
            ]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let n = UInt32(bytes[i]) << 16
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [
                alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], UInt8(ascii: "="),
            ]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// nil when the text is not base64 (whitespace is not allowed; padding is optional).
    public static func decode(_ text: String) -> [UInt8]? {
        var values: [UInt8] = []
        var padding = 0
        for c in text.utf8 {
            if c == UInt8(ascii: "=") {
                padding += 1
                continue
            }
            guard padding == 0 else { return nil }
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): values.append(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): values.append(c - UInt8(ascii: "a") + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): values.append(c - UInt8(ascii: "0") + 52)
            case UInt8(ascii: "+"): values.append(62)
            case UInt8(ascii: "/"): values.append(63)
            default: return nil
            }
        }
        guard padding <= 2, values.count % 4 != 1 else { return nil }
        if padding > 0, (values.count + padding) % 4 != 0 { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(values.count * 3 / 4)
        var i = 0
        while i < values.count {
            let chunk = values[i..<min(i + 4, values.count)]
            var n: UInt32 = 0
            for v in chunk { n = n << 6 | UInt32(v) }
            n <<= UInt32(6 * (4 - chunk.count))
            out.append(UInt8(n >> 16 & 0xff))
            if chunk.count > 2 { out.append(UInt8(n >> 8 & 0xff)) }
            if chunk.count > 3 { out.append(UInt8(n & 0xff)) }
            i += 4
        }
        return out
    }
}
