import JSONRPC

// The `sim.*` params as clients send them: each the inverse of its descriptor's `decode`.

extension SimCreateMethod: ClientMethod {
    public static func encode(_ p: Params) -> JSONObject {
        var o = JSONObject()
        o.set("physicalBytes", p.physicalBytes) { .int(Int($0)) }
        o.set("tlbEntries", p.tlbEntries) { .int($0) }
        o.set("tlbWays", p.tlbWays) { .int($0) }
        o.set("pcid", p.pcid) { .bool($0) }
        o.set("addressBits", p.addressBits) { .int($0) }
        o.set("hugePages", p.hugePages) { .bool($0) }
        o.set("addressing", p.addressing) { .string($0.rawValue) }
        o.set("panicOnOom", p.panicOnOom) { .bool($0) }
        o.set("swapBytes", p.swapBytes) { .int(Int($0)) }
        return o
    }
}

extension SimListMethod: ClientMethod {
    public static func encode(_ p: Void) -> JSONObject { [:] }
}

extension SimDestroyMethod: ClientMethod {
    public static func encode(_ machine: String) -> JSONObject { ["machine": .string(machine)] }
}

extension SimSpawnMethod: ClientMethod {
    public static func encode(_ p: Params) -> JSONObject {
        var o: JSONObject = ["machine": .string(p.machine)]
        o.set("command", p.command) { .string($0) }
        o.set("textBytes", p.textBytes) { .int(Int($0)) }
        o.set("dataBytes", p.dataBytes) { .int(Int($0)) }
        o.set("stackBytes", p.stackBytes) { .int(Int($0)) }
        return o
    }
}

extension SimMmapMethod: ClientMethod {
    public static func encode(_ p: Params) -> JSONObject {
        var o: JSONObject = [
            "machine": .string(p.machine), "pid": .int(p.pid), "length": .int(Int(p.length)), "prot": .string(p.prot),
        ]
        if p.shared { o["shared"] = true }
        o.set("file", p.file) { ["name": .string($0.name), "sizeBytes": .int(Int($0.sizeBytes))] }
        if p.offset != 0 { o["offset"] = .hex(p.offset) }
        o.set("address", p.address) { .hex($0) }
        return o
    }
}

extension SimMunmapMethod: ClientMethod {
    public static func encode(_ p: Params) -> JSONObject {
        ["machine": .string(p.machine), "pid": .int(p.pid), "address": .hex(p.address), "length": .int(Int(p.length))]
    }
}

extension SimTouchMethod: ClientMethod {
    public static func encode(_ p: Params) -> JSONObject {
        var o: JSONObject = [
            "machine": .string(p.machine), "pid": .int(p.pid), "address": .hex(p.address),
            "length": .int(Int(p.length)), "access": .string(p.access.rawValue),
        ]
        if p.stride != 4096 { o["stride"] = .int(Int(p.stride)) }
        return o
    }
}

extension SimReadMethod: ClientMethod {
    public static func encode(_ p: Params) -> JSONObject {
        var o: JSONObject = [
            "machine": .string(p.machine), "pid": .int(p.pid), "address": .hex(p.address), "length": .int(p.length),
        ]
        if p.encoding != .utf8 { o["encoding"] = .string(p.encoding.rawValue) }
        return o
    }
}

extension SimWriteMethod: ClientMethod {
    /// The bytes as UTF-8 text where they are valid UTF-8, else base64.
    public static func encode(_ p: Params) -> JSONObject {
        var o: JSONObject = ["machine": .string(p.machine), "pid": .int(p.pid), "address": .hex(p.address)]
        if let text = String(validating: p.bytes, as: UTF8.self) {
            o["data"] = .string(text)
        } else {
            o["data"] = .string(Base64.encode(p.bytes))
            o["encoding"] = .string(SimEncoding.base64.rawValue)
        }
        return o
    }
}

extension SimPIDParams {
    var members: JSONObject { ["machine": .string(machine), "pid": .int(pid)] }
}

extension SimForkMethod: ClientMethod {
    public static func encode(_ p: SimPIDParams) -> JSONObject { p.members }
}

extension SimExitMethod: ClientMethod {
    public static func encode(_ p: SimPIDParams) -> JSONObject { p.members }
}
