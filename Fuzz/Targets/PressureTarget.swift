import MemdProtocol
import ProcFS

extension FuzzTarget {
    /// /proc/pressure/memory and a cgroup's memory.pressure (kernel/sched/psi.c), and its JSON.
    static let pressure = FuzzTarget("pressure") { bytes in
        guard let pressure = try? Pressure.parse(bytes.uint8, path: "memory.pressure") else { return }
        _ = pressure.json
    }
}
