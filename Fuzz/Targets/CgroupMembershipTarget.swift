import ProcFS

extension FuzzTarget {
    /// /proc/PID/cgroup (proc_cgroup_show): the v2 `0::` line and a v1 controller's line.
    static let cgroupMembership = FuzzTarget("cgroup") { bytes in
        _ = CgroupMembership.path(bytes.uint8, controller: nil)
        _ = CgroupMembership.path(bytes.uint8, controller: "memory")
    }
}
