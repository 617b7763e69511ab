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

    /// The one encoder: written straight into JSON text, member by member in the protocol's
    /// order (a `meminfo` call is answered thousands of times a second; no tree is built).
    public var json: JSON {
        var w = JSONWriter(capacity: raw == nil ? 768 : 2048)
        w.writeFixed(maxBytes: 1024) { w in
            w.append("{\"source\":")
            switch source {
            case .proc: w.append("\"proc\"")
            case .sim: w.append("\"sim\"")
            }
            w.append(",\"total\":")
            w.writeInt(free.total)
            w.append(",\"used\":")
            w.writeInt(free.used)
            w.append(",\"free\":")
            w.writeInt(free.free)
            w.append(",\"shared\":")
            w.writeInt(free.shared)
            w.append(",\"buffers\":")
            w.writeInt(free.buffers)
            w.append(",\"cache\":")
            w.writeInt(free.cache)
            w.append(",\"buffCache\":")
            w.writeInt(free.buffCache)
            w.append(",\"available\":")
            w.writeInt(free.available)
            w.append(",\"swapTotal\":")
            w.writeInt(free.swapTotal)
            w.append(",\"swapUsed\":")
            w.writeInt(free.swapUsed)
            w.append(",\"swapFree\":")
            w.writeInt(free.swapFree)
            w.append(",\"sar\":{\"memFree\":")
            w.writeInt(sar.memFree)
            w.append(",\"available\":")
            w.writeInt(sar.available)
            w.append(",\"memUsed\":")
            w.writeInt(sar.memUsed)
            w.append(",\"memUsedPercent\":")
        }
        w.write(.double(sar.memUsedPercent))
        w.writeFixed(maxBytes: 256) { w in
            w.append(",\"buffers\":")
            w.writeInt(sar.buffers)
            w.append(",\"cached\":")
            w.writeInt(sar.cached)
            w.append(",\"commit\":")
            w.writeInt(sar.commit)
            w.append(",\"commitPercent\":")
        }
        w.write(.double(sar.commitPercent))
        w.writeFixed(maxBytes: 512) { w in
            w.append(",\"active\":")
            w.writeInt(sar.active)
            w.append(",\"inactive\":")
            w.writeInt(sar.inactive)
            w.append(",\"dirty\":")
            w.writeInt(sar.dirty)
            w.append(",\"shmem\":")
            w.writeInt(sar.shmem)
            w.append(",\"anonPages\":")
            w.writeInt(sar.anonPages)
            w.append(",\"slab\":")
            w.writeInt(sar.slab)
            w.append(",\"kernelStack\":")
            w.writeInt(sar.kernelStack)
            w.append(",\"pageTables\":")
            w.writeInt(sar.pageTables)
            w.append(",\"vmallocUsed\":")
            w.writeInt(sar.vmallocUsed)
            w.append("}")
        }
        if let raw {
            w.append(",\"raw\":{")
            for (index, entry) in raw.enumerated() {
                // One fixed piece per key and value: one append, not four (~55 a call).
                w.writeFixed(maxBytes: FixedWriter.maxStringBytes(utf8Count: entry.key.utf8.count) + 22) { w in
                    if index > 0 { w.append(",") }
                    w.writeString(entry.key)
                    w.append(":")
                    w.writeInt(entry.value)
                }
            }
            w.append("}")
        }
        if let pressure {
            w.append(",\"pressure\":")
            w.write(pressure?.json ?? .null)
        }
        if let cgroup {
            w.append(",\"cgroup\":")
            w.write(cgroup.json)
        }
        w.append("}")
        return .raw(w.bytes)
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
