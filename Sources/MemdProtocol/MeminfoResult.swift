import JSONRPC
import ProcFS

/// The `meminfo` result, for /proc and a simulated machine alike: `free`'s figures, the
/// `sar -r` block and `raw` (every /proc/meminfo key); for /proc also `pressure`, and with the
/// `cgroup` param that cgroup's figures. A `watch` sample's `meminfo` is the same without `raw`.
public struct MeminfoResult: WireValue {
    public var source: Source
    public var free: FreeFigures
    public var sar: SarMemory
    /// Every /proc/meminfo key as named there, in bytes (HugePages_* as counts); nil: left out.
    public var raw: [(key: String, value: Int)]?
    /// /proc/pressure/memory: `.some(nil)` is `null` (no PSI on this kernel); nil: no member
    /// (a simulated machine, a `watch` sample).
    public var pressure: Pressure??
    /// The cgroup asked for with `cgroup`; nil: no member.
    public var cgroup: CgroupsMethod.Group?

    /// The figures of one /proc/meminfo snapshot; `raw: false` leaves `raw` out (a `watch` sample).
    public init(_ meminfo: Meminfo, source: Source, raw: Bool = true) {
        self.source = source
        free = FreeFigures(meminfo)
        sar = SarMemory(meminfo)
        self.raw = raw ? meminfo.entries.map { (key: $0.key, value: $0.value) } : nil
    }

    public var json: JSON { .object(jsonObject) }

    /// The members (a `watch` sample carries them as its `meminfo`).
    public var jsonObject: JSONObject {
        var result: JSONObject = [
            "source": .string(source.rawValue),
            "total": .int(free.total), "used": .int(free.used), "free": .int(free.free),
            "shared": .int(free.shared), "buffers": .int(free.buffers), "cache": .int(free.cache),
            "buffCache": .int(free.buffCache), "available": .int(free.available),
            "swapTotal": .int(free.swapTotal), "swapUsed": .int(free.swapUsed), "swapFree": .int(free.swapFree),
            "sar": [
                "memFree": .int(sar.memFree), "available": .int(sar.available), "memUsed": .int(sar.memUsed),
                "memUsedPercent": .double(sar.memUsedPercent), "buffers": .int(sar.buffers),
                "cached": .int(sar.cached), "commit": .int(sar.commit), "commitPercent": .double(sar.commitPercent),
                "active": .int(sar.active), "inactive": .int(sar.inactive), "dirty": .int(sar.dirty),
                "shmem": .int(sar.shmem), "anonPages": .int(sar.anonPages), "slab": .int(sar.slab),
                "kernelStack": .int(sar.kernelStack), "pageTables": .int(sar.pageTables),
                "vmallocUsed": .int(sar.vmallocUsed),
            ],
        ]
        if let raw { result["raw"] = .object(JSONObject(ints: raw)) }
        if let pressure { result["pressure"] = pressure?.json ?? .null }
        if let cgroup { result["cgroup"] = cgroup.json }
        return result
    }

    public init(json: JSON) throws(WireDecodingError) {
        let r = try WireReader(json)
        source = try r.choice("source")
        free = FreeFigures(Meminfo(entries: []))
        free.total = try r.int("total")
        free.used = try r.int("used")
        free.free = try r.int("free")
        free.shared = try r.int("shared")
        free.buffers = try r.int("buffers")
        free.cache = try r.int("cache")
        free.buffCache = try r.int("buffCache")
        free.available = try r.int("available")
        free.swapTotal = try r.int("swapTotal")
        free.swapUsed = try r.int("swapUsed")
        free.swapFree = try r.int("swapFree")
        let s = try r.nested("sar")
        sar = SarMemory(Meminfo(entries: []))
        sar.memFree = try s.int("memFree")
        sar.available = try s.int("available")
        sar.memUsed = try s.int("memUsed")
        sar.memUsedPercent = try s.double("memUsedPercent")
        sar.buffers = try s.int("buffers")
        sar.cached = try s.int("cached")
        sar.commit = try s.int("commit")
        sar.commitPercent = try s.double("commitPercent")
        sar.active = try s.int("active")
        sar.inactive = try s.int("inactive")
        sar.dirty = try s.int("dirty")
        sar.shmem = try s.int("shmem")
        sar.anonPages = try s.int("anonPages")
        sar.slab = try s.int("slab")
        sar.kernelStack = try s.int("kernelStack")
        sar.pageTables = try s.int("pageTables")
        sar.vmallocUsed = try s.int("vmallocUsed")
        raw = r.contains("raw") ? try r.intPairs("raw") : nil
        pressure = r.contains("pressure") ? .some(try r.decodeOptional("pressure", as: Pressure.self)) : nil
        cgroup = try r.decodeOptional("cgroup")
    }
}

extension MeminfoMethod {
    public typealias Result = MeminfoResult
}
