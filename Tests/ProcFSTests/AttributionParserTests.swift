import Foundation
import ProcFS
import Testing

/// The readers behind `usage` and `cgroups`: smaps_rollup, status, /proc/PID/cgroup,
/// cgroup paths, and a cgroup v2 tree laid out as Documentation/admin-guide/cgroup-v2.rst says.
struct AttributionParserTests {
    @Test func rollupFieldsAreTheKernelLines() throws {
        let memory = try fixture("smaps_rollup").withUnsafeBufferPointer { ProcessMemory.parse($0) }
        var kib: [String: Int] = [:]
        for line in try fixtureLines("smaps_rollup").dropFirst() {
            let f = line.split(separator: " ")
            kib[String(f[0].dropLast())] = Int(f[1])
        }
        #expect(memory.rss == kib["Rss"]! * 1024)
        #expect(memory.pss == kib["Pss"]! * 1024)
        #expect(memory.pssAnon == kib["Pss_Anon"]! * 1024)
        #expect(memory.pssFile == kib["Pss_File"]! * 1024)
        #expect(memory.pssShmem == kib["Pss_Shmem"]! * 1024)
        #expect(memory.uss == (kib["Private_Clean"]! + kib["Private_Dirty"]!) * 1024)
        #expect(memory.swap == kib["Swap"]! * 1024 && memory.swapPss == kib["SwapPss"]! * 1024)
    }

    @Test func statusNamesAreUnescaped() {
        let text =
            "Name:\tmy\\tjob\\\\x\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t42\nPid:\t42\n"
            + "Uid:\t1000\t1001\t1001\t1001\nGid:\t100\t100\t100\t100\nVmPeak:\t 1 kB\nVmSize:\t 1 kB\n"
        let identity = Array(text.utf8).withUnsafeBufferPointer { ProcessIdentity.parse($0) }
        #expect(identity.name == "my\tjob\\x")
        #expect(identity.tgid == 42 && identity.realUID == 1000 && identity.effectiveUID == 1001)
        #expect(identity.hasMemory)
        let kernelThread = Array("Name:\tkthreadd\nTgid:\t2\nUid:\t0\t0\t0\t0\nThreads:\t1\n".utf8)
        #expect(!kernelThread.withUnsafeBufferPointer { ProcessIdentity.parse($0) }.hasMemory)
    }

    @Test(
        arguments: [
            ("12:memory:/docker/abc\n0::/user.slice/x.scope\n", "memory", "/docker/abc"),
            ("12:memory:/docker/abc\n0::/user.slice/x.scope\n", nil, "/user.slice/x.scope"),
            ("4:cpu,memory:/a b\n", "memory", "/a b"),
            ("1:name=systemd:/\n", "memory", nil),
        ] as [(String, String?, String?)]
    )
    func membershipLine(text: String, controller: String?, expected: String?) {
        let path = Array(text.utf8).withUnsafeBufferPointer { CgroupMembership.path($0, controller: controller) }
        #expect(path == expected)
    }

    @Test(arguments: ["..", "/..", "/a/../b", "/a/./b", "a", "", "/a/..", "/a\u{0}b"])
    func pathsLeavingTheTreeAreRefused(text: String) {
        guard case .failure = CgroupPath.parse(text) else {
            Issue.record("\(text) accepted")
            return
        }
    }

    @Test func pathsInsideTheTree() throws {
        #expect(try CgroupPath.parse("/").get().components == [])
        #expect(try CgroupPath.parse("/a//b/").get().description == "/a/b")
    }

    @Test func v2FixtureTree() throws {
        let root = try #require(Bundle.module.url(forResource: "Fixtures/cgroup2", withExtension: nil)).path
        let hierarchy = try CgroupHierarchy.inspect(root).get()
        #expect(hierarchy.version == .v2)
        var reader = CgroupReader(hierarchy)
        let tree = reader.tree(CgroupPath(components: []), depth: nil, stat: true)
        #expect(
            tree.map(\.path.description) == [
                "/", "/system.slice", "/system.slice/sshd.service", "/workload.slice", "/workload.slice/batch.scope",
            ]
        )
        func file(_ path: String) throws -> String {
            try String(contentsOfFile: root + path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func stat(_ dir: String, _ key: String) throws -> Int {
            let line = try file(dir + "/memory.stat").split(separator: "\n").first { $0.hasPrefix(key + " ") }
            return Int(try #require(line).split(separator: " ")[1])!
        }
        let top = tree[0]
        #expect(top.current == nil && top.max == nil && top.peak == nil && top.workingSet == nil && top.events == nil)
        #expect(top.stat?.count == (try file("/memory.stat")).split(separator: "\n").count)
        #expect(top.pressure?.full?.totalMicroseconds == 567)
        let system = tree[1]
        #expect(system.current == Int(try file("/system.slice/memory.current")))
        #expect(system.max == nil && system.high == nil, "\"max\" is no limit")
        #expect(system.workingSet == system.current! - (try stat("/system.slice", "inactive_file")))
        #expect(system.processes == 3)
        #expect(tree[2].peak == nil && tree[2].swapCurrent == nil, "no memory.peak / memory.swap.current: null")
        let workload = tree[3]
        #expect(workload.max == Int(try file("/workload.slice/memory.max")))
        #expect(workload.high == Int(try file("/workload.slice/memory.high")))
        #expect(workload.events?.oomKill == 3 && workload.events?.max == 40)
        #expect(workload.pressure?.some.avg10 == 1.52 && workload.pressure?.some.totalMicroseconds == 4_812_345)
        #expect(tree[4].workingSet == 0, "inactive_file above current floors at 0")
        #expect(reader.tree(CgroupPath(components: []), depth: 1, stat: false).count == 3)
    }
}
