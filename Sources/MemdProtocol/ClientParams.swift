import JSONRPC
import ProcFS

/// A method a client calls typed (``MemdClient/call(_:_:onNotification:)``): its params
/// encoded as the server decodes them (defaults left out), its result decoded as `Result`.
public protocol ClientMethod: MethodDescriptor {
    static func encode(_ params: Params) -> JSONObject
}

extension Target {
    /// `proc` (the default) or a simulated machine.
    public static let proc = Target(source: .proc, machine: nil)
    public static func sim(_ machine: String) -> Target { Target(source: .sim, machine: machine) }

    /// `source` and `machine`, left out for /proc.
    var members: JSONObject {
        guard let machine else { return [:] }
        return ["source": .string(source.rawValue), "machine": .string(machine)]
    }
}

extension JSONObject {
    /// Sets `key` when `value` is there (an optional param given).
    mutating func set<T>(_ key: String, _ value: T?, _ encode: (T) -> JSON) {
        if let value { self[key] = encode(value) }
    }
}

extension MeminfoMethod: ClientMethod {
    public static func encode(_ p: Params) -> JSONObject {
        var o = p.target.members
        o.set("cgroup", p.cgroup) { .string($0.description) }
        return o
    }
}

extension MapsMethod: ClientMethod {
    public static func encode(_ p: Params) -> JSONObject {
        var o: JSONObject = ["pid": .int(Int(p.pid))]
        if p.detail { o["detail"] = true }
        if p.smaps { o["smaps"] = true }
        return o + p.target.members
    }
}

extension MapsMethod.Params {
    /// `maps` of `pid` (the memberwise init, with the defaults: no detail, /proc).
    public init(_ pid: Int32, detail: Bool = false, smaps: Bool = false, target: Target = .proc) {
        (self.pid, self.detail, self.smaps, self.target) = (pid, detail, smaps, target)
    }
}

extension PageStatsMethod: ClientMethod {
    public static func encode(_ p: Params) -> JSONObject {
        var o = JSONObject()
        o.set("pid", p.pid) { .int(Int($0)) }
        if p.all { o["all"] = true }
        if p.intervalMs > 0 { o["intervalMs"] = .int(p.intervalMs) }
        o.set("cgroup", p.cgroup) { .string($0.description) }
        return o + p.target.members
    }
}

extension CgroupsMethod: ClientMethod {
    public static func encode(_ p: Params) -> JSONObject {
        var o: JSONObject = p.path.components.isEmpty ? [:] : ["path": .string(p.path.description)]
        o.set("depth", p.depth) { .int($0) }
        if p.stat { o["stat"] = true }
        return o
    }
}

extension UsageMethod: ClientMethod {
    public static func encode(_ p: Params) -> JSONObject {
        var o = JSONObject()
        if p.by != .process { o["by"] = .string(p.by.rawValue) }
        o.set("pids", p.pids) { .array($0.map { .int(Int($0)) }) }
        if p.sort != .pss { o["sort"] = .string(p.sort.rawValue) }
        o.set("limit", p.limit) { .int($0) }
        if !p.swap { o["swap"] = false }
        if p.cmdline { o["cmdline"] = true }
        return o
    }
}

extension ClientMethod {
    /// Params from their JSON form (what a command line's `key=value` words make), checked by
    /// the server's own rule: a refusal is the error memd would have answered.
    public static func params(_ object: JSONObject) throws(MemdClient.Failure) -> Params {
        var reader = ParamReader(object)
        do {
            let params = try decode(&reader)
            try reader.finish()
            return params
        } catch {
            throw .server(error)
        }
    }
}
