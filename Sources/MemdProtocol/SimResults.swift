import JSONRPC
import ProcFS

// The results of `sim.*`: what the server encodes once and clients decode. Every one carries
// `source: "sim"` first.

/// `source: "sim"`, the first member of every `sim.*` result.
private func simObject(_ members: JSONObject = [:]) -> JSONObject {
    var object: JSONObject = ["source": "sim"]
    object.members += members.members
    return object
}

/// A simulated SIGSEGV: where, and why.
public struct SimSegv: Sendable, Equatable {
    public var address: UInt64
    public var reason: String

    public init(address: UInt64, reason: String) { (self.address, self.reason) = (address, reason) }

    public var json: JSON { ["address": .hex(address), "reason": .string(reason)] }

    init(_ r: WireReader) throws(WireDecodingError) {
        self.init(address: try r.hex("address"), reason: try r.string("reason"))
    }
}

/// A machine's configuration, as `sim.create` reports it (every default filled in).
public struct SimConfig: Sendable, Equatable {
    public var physicalBytes: Int
    public var tlbEntries: Int
    public var tlbWays: Int
    public var pcid: Bool
    public var addressBits: Int
    public var hugePages: Bool
    public var addressing: SimAddressing
    public var panicOnOom: Bool
    public var swapBytes: Int

    public init(
        physicalBytes: Int,
        tlbEntries: Int,
        tlbWays: Int,
        pcid: Bool,
        addressBits: Int,
        hugePages: Bool,
        addressing: SimAddressing,
        panicOnOom: Bool,
        swapBytes: Int
    ) {
        (self.physicalBytes, self.tlbEntries, self.tlbWays, self.pcid, self.addressBits) =
            (physicalBytes, tlbEntries, tlbWays, pcid, addressBits)
        (self.hugePages, self.addressing, self.panicOnOom, self.swapBytes) =
            (hugePages, addressing, panicOnOom, swapBytes)
    }

    public var json: JSON {
        [
            "physicalBytes": .int(physicalBytes), "tlbEntries": .int(tlbEntries), "tlbWays": .int(tlbWays),
            "pcid": .bool(pcid), "addressBits": .int(addressBits), "hugePages": .bool(hugePages),
            "addressing": .string(addressing.rawValue), "panicOnOom": .bool(panicOnOom),
            "swapBytes": .int(swapBytes),
        ]
    }

    init(_ r: WireReader) throws(WireDecodingError) {
        self.init(
            physicalBytes: try r.int("physicalBytes"),
            tlbEntries: try r.int("tlbEntries"),
            tlbWays: try r.int("tlbWays"),
            pcid: try r.bool("pcid"),
            addressBits: try r.int("addressBits"),
            hugePages: try r.bool("hugePages"),
            addressing: try r.choice("addressing"),
            panicOnOom: try r.bool("panicOnOom"),
            swapBytes: try r.int("swapBytes")
        )
    }
}

extension SimCreateMethod {
    public struct Result: WireValue {
        public var machine: String
        public var config: SimConfig

        public init(machine: String, config: SimConfig) { (self.machine, self.config) = (machine, config) }

        public var json: JSON { .object(simObject(["machine": .string(machine), "config": config.json])) }

        public init(json: JSON) throws(WireDecodingError) {
            let r = try WireReader(json)
            self.init(machine: try r.string("machine"), config: try SimConfig(try r.nested("config")))
        }
    }
}

extension SimListMethod {
    /// One machine of `sim.list`.
    public struct Machine: WireValue {
        public var machine: String
        public var physicalBytes, processes, usedBytes, freeBytes: Int
        public var minorFaults, majorFaults, cowFaults, oomKills: Int
        public var isPanicked: Bool

        public init(
            machine: String,
            physicalBytes: Int,
            processes: Int,
            usedBytes: Int,
            freeBytes: Int,
            minorFaults: Int,
            majorFaults: Int,
            cowFaults: Int,
            oomKills: Int,
            isPanicked: Bool
        ) {
            (self.machine, self.physicalBytes, self.processes, self.usedBytes, self.freeBytes) =
                (machine, physicalBytes, processes, usedBytes, freeBytes)
            (self.minorFaults, self.majorFaults, self.cowFaults, self.oomKills, self.isPanicked) =
                (minorFaults, majorFaults, cowFaults, oomKills, isPanicked)
        }

        public var json: JSON {
            [
                "machine": .string(machine), "physicalBytes": .int(physicalBytes), "processes": .int(processes),
                "usedBytes": .int(usedBytes), "freeBytes": .int(freeBytes), "minorFaults": .int(minorFaults),
                "majorFaults": .int(majorFaults), "cowFaults": .int(cowFaults), "oomKills": .int(oomKills),
                "panicked": .bool(isPanicked),
            ]
        }

        public init(json: JSON) throws(WireDecodingError) {
            let r = try WireReader(json, path: "machine")
            self.init(
                machine: try r.string("machine"),
                physicalBytes: try r.int("physicalBytes"),
                processes: try r.int("processes"),
                usedBytes: try r.int("usedBytes"),
                freeBytes: try r.int("freeBytes"),
                minorFaults: try r.int("minorFaults"),
                majorFaults: try r.int("majorFaults"),
                cowFaults: try r.int("cowFaults"),
                oomKills: try r.int("oomKills"),
                isPanicked: try r.bool("panicked")
            )
        }
    }

    public struct Result: WireValue {
        public var machines: [Machine]

        public init(machines: [Machine]) { self.machines = machines }

        public var json: JSON { .object(simObject(["machines": .array(machines.map(\.json))])) }

        public init(json: JSON) throws(WireDecodingError) { machines = try WireReader(json).decodeArray("machines") }
    }
}

extension SimDestroyMethod {
    public struct Result: WireValue {
        public var machine: String

        public init(machine: String) { self.machine = machine }

        public var json: JSON { .object(simObject(["machine": .string(machine), "destroyed": true])) }

        public init(json: JSON) throws(WireDecodingError) { machine = try WireReader(json).string("machine") }
    }
}

extension SimSpawnMethod {
    public struct Result: WireValue {
        /// nil when the process could not be created (`errno` says why).
        public var pid: Int?
        public var mappings: [Mapping]
        public var linkedAddress: UInt64
        public var loadAddress: UInt64
        public var errno: String?
        public var problem: String?

        public init(
            pid: Int?,
            mappings: [Mapping],
            linkedAddress: UInt64,
            loadAddress: UInt64,
            errno: String?,
            problem: String?
        ) {
            (self.pid, self.mappings, self.linkedAddress, self.loadAddress, self.errno, self.problem) =
                (pid, mappings, linkedAddress, loadAddress, errno, problem)
        }

        public var json: JSON {
            var o = simObject([
                "pid": pid.map { .int($0) } ?? .null,
                "mappings": Mapping.jsonArray(mappings, detail: false),
                "linkedAddress": .hex(linkedAddress), "loadAddress": .hex(loadAddress),
            ])
            if let errno { o["errno"] = .string(errno) }
            if let problem { o["problem"] = .string(problem) }
            return .object(o)
        }

        public init(json: JSON) throws(WireDecodingError) {
            let r = try WireReader(json)
            var mappings: [Mapping] = []
            for element in try r.array("mappings") { mappings.append(try Mapping(json: element)) }
            self.init(
                pid: try r.optionalInt("pid"),
                mappings: mappings,
                linkedAddress: try r.hex("linkedAddress"),
                loadAddress: try r.hex("loadAddress"),
                errno: try r.optionalString("errno"),
                problem: try r.optionalString("problem")
            )
        }
    }
}

extension SimMmapMethod {
    /// An address, or a simulated failure (`errno`, and in physical addressing the free runs).
    public struct Result: WireValue {
        public var address: UInt64?
        public var errno: String?
        public var largestFreeRun: Int?
        public var freeBytes: Int?

        public init(address: UInt64?, errno: String?, largestFreeRun: Int?, freeBytes: Int?) {
            (self.address, self.errno, self.largestFreeRun, self.freeBytes) =
                (address, errno, largestFreeRun, freeBytes)
        }

        public var json: JSON {
            var o = simObject(["address": address.map(JSON.hex) ?? .null])
            if let errno { o["errno"] = .string(errno) }
            if let largestFreeRun { o["largestFreeRun"] = .int(largestFreeRun) }
            if let freeBytes { o["freeBytes"] = .int(freeBytes) }
            return .object(o)
        }

        public init(json: JSON) throws(WireDecodingError) {
            let r = try WireReader(json)
            self.init(
                address: try r.optionalHex("address"),
                errno: try r.optionalString("errno"),
                largestFreeRun: try r.optionalInt("largestFreeRun"),
                freeBytes: try r.optionalInt("freeBytes")
            )
        }
    }
}

/// Pages given back (`sim.munmap`, `sim.exit`): `freedBytes` is the pages × 4 KiB.
public struct SimFreed: Sendable, Equatable {
    public var pages: Int

    public init(pages: Int) { self.pages = pages }

    public var bytes: Int { pages * 4096 }

    var members: JSONObject { ["freedPages": .int(pages), "freedBytes": .int(bytes)] }
}

extension SimMunmapMethod {
    public struct Result: WireValue {
        public var freed: SimFreed
        public var errno: String?

        public init(freed: SimFreed, errno: String?) { (self.freed, self.errno) = (freed, errno) }

        public var json: JSON {
            var o = simObject(freed.members)
            if let errno { o["errno"] = .string(errno) }
            return .object(o)
        }

        public init(json: JSON) throws(WireDecodingError) {
            let r = try WireReader(json)
            self.init(freed: SimFreed(pages: try r.int("freedPages")), errno: try r.optionalString("errno"))
        }
    }
}

extension SimExitMethod {
    public struct Result: WireValue {
        public var pid: Int
        public var freed: SimFreed

        public init(pid: Int, freed: SimFreed) { (self.pid, self.freed) = (pid, freed) }

        public var json: JSON { .object(simObject(["pid": .int(pid)] + freed.members)) }

        public init(json: JSON) throws(WireDecodingError) {
            let r = try WireReader(json)
            self.init(pid: try r.int("pid"), freed: SimFreed(pages: try r.int("freedPages")))
        }
    }
}

extension SimForkMethod {
    public struct Result: WireValue {
        /// The child's pid.
        public var pid: Int

        public init(pid: Int) { self.pid = pid }

        public var json: JSON { .object(simObject(["pid": .int(pid)])) }

        public init(json: JSON) throws(WireDecodingError) { pid = try WireReader(json).int("pid") }
    }
}

/// What accessing memory did (`sim.touch`, and the fault part of `sim.read` and `sim.write`),
/// with the process's rss after.
public struct SimFaults: WireValue {
    public var pagesTouched, minorFaults, majorFaults, cowFaults: Int
    public var segv: SimSegv?
    /// Pids the OOM killer killed meanwhile (no member when none).
    public var oomKilled: [Int]
    /// The process's rss after; nil when it is gone.
    public var rss: Int?

    public init(
        pagesTouched: Int,
        minorFaults: Int,
        majorFaults: Int,
        cowFaults: Int,
        segv: SimSegv?,
        oomKilled: [Int],
        rss: Int?
    ) {
        (self.pagesTouched, self.minorFaults, self.majorFaults, self.cowFaults) =
            (pagesTouched, minorFaults, majorFaults, cowFaults)
        (self.segv, self.oomKilled, self.rss) = (segv, oomKilled, rss)
    }

    /// The members after `source`.
    var members: JSONObject {
        var o: JSONObject = [
            "pagesTouched": .int(pagesTouched), "minorFaults": .int(minorFaults),
            "majorFaults": .int(majorFaults), "cowFaults": .int(cowFaults),
        ]
        if let segv { o["segv"] = segv.json }
        if !oomKilled.isEmpty { o["oomKilled"] = .array(oomKilled.map { .int($0) }) }
        if let rss { o["rss"] = .int(rss) }
        return o
    }

    public var json: JSON { .object(simObject(members)) }

    public init(json: JSON) throws(WireDecodingError) { try self.init(try WireReader(json)) }

    init(_ r: WireReader) throws(WireDecodingError) {
        self.init(
            pagesTouched: try r.int("pagesTouched"),
            minorFaults: try r.int("minorFaults"),
            majorFaults: try r.int("majorFaults"),
            cowFaults: try r.int("cowFaults"),
            segv: r.optional("segv") == nil ? nil : try SimSegv(try r.nested("segv")),
            oomKilled: try r.ints("oomKilled"),
            rss: try r.optionalInt("rss")
        )
    }
}

extension SimTouchMethod {
    public typealias Result = SimFaults
}

extension SimReadMethod {
    /// The bytes read (UTF-8 text, or base64 when asked or when they are not valid UTF-8), and the faults.
    public struct Result: WireValue {
        public var data: String
        public var encoding: SimEncoding
        public var length: Int
        public var faults: SimFaults

        public init(data: String, encoding: SimEncoding, length: Int, faults: SimFaults) {
            (self.data, self.encoding, self.length, self.faults) = (data, encoding, length, faults)
        }

        public var json: JSON {
            let read: JSONObject = [
                "data": .string(data), "encoding": .string(encoding.rawValue), "length": .int(length),
            ]
            return .object(simObject(read + faults.members))
        }

        public init(json: JSON) throws(WireDecodingError) {
            let r = try WireReader(json)
            self.init(
                data: try r.string("data"),
                encoding: try r.choice("encoding"),
                length: try r.int("length"),
                faults: try SimFaults(r)
            )
        }
    }
}

extension SimWriteMethod {
    public struct Result: WireValue {
        /// 0 when the write faulted fatally (SIGSEGV) or an OOM kill intervened.
        public var bytesWritten: Int
        public var faults: SimFaults

        public init(bytesWritten: Int, faults: SimFaults) { (self.bytesWritten, self.faults) = (bytesWritten, faults) }

        public var json: JSON { .object(simObject(["bytesWritten": .int(bytesWritten)] + faults.members)) }

        public init(json: JSON) throws(WireDecodingError) {
            let r = try WireReader(json)
            self.init(bytesWritten: try r.int("bytesWritten"), faults: try SimFaults(r))
        }
    }
}

extension JSONObject {
    /// The members of both, in order.
    static func + (lhs: JSONObject, rhs: JSONObject) -> JSONObject { JSONObject(lhs.members + rhs.members) }
}
