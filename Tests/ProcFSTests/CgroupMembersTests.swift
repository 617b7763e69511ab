import Foundation
import Testing

@testable import ProcFS

/// ``CgroupMembers`` on trees laid out in a temporary directory as the kernel lays out a v1 memory
/// hierarchy and a v2 tree (cgroup.procs, cgroup.type): each pid takes the path /proc/PID/cgroup
/// would print, or is left out (read from its own file) where the lists cannot say it.
struct CgroupMembersTests {
    /// A tree of `cgroups` (path → cgroup.procs lines, and cgroup.type where given).
    final class Tree {
        let root: String

        init(version: CgroupHierarchy.Version, _ cgroups: [String: [Int32]], types: [String: String] = [:]) throws {
            root = NSTemporaryDirectory() + "memd-members-\(getpid())-\(UInt32.random(in: 0...999_999))"
            for (path, pids) in cgroups.sorted(by: { $0.key < $1.key }) {
                let dir = root + path
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                let lines = pids.map { "\($0)\n" }.joined()
                try lines.write(toFile: dir + "/cgroup.procs", atomically: false, encoding: .utf8)
                if version == .v1 {
                    try "0\n".write(toFile: dir + "/memory.usage_in_bytes", atomically: false, encoding: .utf8)
                } else if path == "/" {
                    try "memory\n".write(toFile: dir + "/cgroup.controllers", atomically: false, encoding: .utf8)
                } else {
                    let type = types[path] ?? "domain"
                    try (type + "\n").write(toFile: dir + "/cgroup.type", atomically: false, encoding: .utf8)
                }
            }
        }

        func members(own: String, pid: Int32 = 1, maxCgroups: Int = 100) throws -> CgroupMembers? {
            var reader = CgroupReader(try CgroupHierarchy.inspect(root).get())
            return reader.members(ownPath: own, ownPID: pid, maxCgroups: maxCgroups)
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }
    }

    @Test func eachPidTakesItsCgroupsPath() throws {
        let tree = try Tree(version: .v1, ["/": [1, 2], "/a": [10, 11], "/a/b": [20], "/c": []])
        let members = try #require(try tree.members(own: "/"))
        #expect(members.paths == [1: "/", 2: "/", 10: "/a", 11: "/a", 20: "/a/b"])
    }

    @Test func pathsAreWhatMemdsOwnLineSays() throws {
        // memd (pid 10) in /a of a tree mounted at /outer/x: /proc/self/cgroup says /outer/x/a.
        let tree = try Tree(version: .v1, ["/": [1], "/a": [10], "/b": [30]])
        let members = try #require(try tree.members(own: "/outer/x/a", pid: 10))
        #expect(members.paths == [1: "/outer/x", 10: "/outer/x/a", 30: "/outer/x/b"])
        // Memd's line does not end with its path in the walk, or leaves its namespace: no map.
        #expect(try tree.members(own: "/xa", pid: 10) == nil)
        #expect(try tree.members(own: "/../a", pid: 10) == nil)
        #expect(try tree.members(own: "/a", pid: 99) == nil, "memd not in the tree")
    }

    @Test func aProcessInTwoListsIsLeftOut() throws {
        // v1 lists the tgid of each thread: a process with a thread moved to /b is in both lists.
        let tree = try Tree(version: .v1, ["/": [1], "/a": [10, 12], "/b": [12]])
        let members = try #require(try tree.members(own: "/"))
        #expect(members[12] == nil && members[10] == "/a" && members[1] == "/")
    }

    @Test func v2ThreadedCgroupsGiveNoMap() throws {
        let domains = try Tree(version: .v2, ["/": [1], "/a": [10]])
        #expect(try domains.members(own: "/")?.paths == [1: "/", 10: "/a"])
        let threaded = try Tree(version: .v2, ["/": [1], "/a": [10], "/a/t": []], types: ["/a/t": "threaded"])
        #expect(try threaded.members(own: "/") == nil)
    }

    @Test func moreCgroupsThanAllowedGiveNoMap() throws {
        let tree = try Tree(version: .v1, ["/": [1], "/a": [], "/b": [], "/c": []])
        #expect(try tree.members(own: "/", maxCgroups: 3) == nil)
        #expect(try tree.members(own: "/", maxCgroups: 4) != nil)
    }

    @Test(
        arguments: [
            ("/", "", ""), ("/x", "", "/x"), ("/a/b", "/b", "/a"), ("/b", "/b", ""), ("/xa/b", "/a/b", nil),
            ("/../a", "/a", nil), ("relative", "", nil),
        ] as [(String, String, String?)]
    )
    func prefixOfTheKernelsPaths(own: String, relative: String, prefix: String?) {
        #expect(CgroupReader.prefix(ownPath: own, relative: relative) == prefix)
    }
}
