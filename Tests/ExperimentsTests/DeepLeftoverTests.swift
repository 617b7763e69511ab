import Foundation
import Testing

@testable import Experiments

#if canImport(Glibc)
import Glibc
#endif

/// Leftovers are removed whatever their depth (limits.md §5, v3): a client's tree in an
/// experiment's directory, nested 100 or 10,000 levels, with files and symlinks pointing
/// outside at each level, is gone when the experiment ends; what the symlinks point at
/// is untouched; memd neither runs out of descriptors nor recurses without bound.
@Suite(.serialized) struct DeepLeftoverTests {
    /// Makes, level by level through descriptors (no path is too long), the next level's
    /// directory and, every `every` levels, a file, a symlink to `outside` and one to
    /// `outside/keep`.
    static let treeScript = #"""
        import os, sys
        fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
        for level in range(int(sys.argv[2])):
            if level % int(sys.argv[4]) == 0:
                f = os.open("file", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=fd)
                os.write(f, b"x")
                os.close(f)
                os.symlink(sys.argv[3], "outside", dir_fd=fd)
                os.symlink(sys.argv[3] + "/keep", "outside-file", dir_fd=fd)
            os.mkdir("d", 0o700, dir_fd=fd)
            deeper = os.open("d", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = deeper
        """#

    static let nobody = ClientIdentity(uid: 65534, gid: 65534)

    /// Runs the tree script as the client (uid 65534 when the test is root).
    func makeTree(in directory: String, depth: Int, every: Int, outside: String) throws {
        let process = Process()
        // The system's python3 (a PATH one may be under /root, which uid 65534 cannot enter).
        let python = ["/usr/bin/python3", "-c", Self.treeScript, directory, String(depth), outside, String(every)]
        process.executableURL = URL(fileURLWithPath: getuid() == 0 ? "/usr/bin/setpriv" : python[0])
        process.arguments =
            getuid() == 0 ? ["--reuid=65534", "--regid=65534", "--clear-groups"] + python : Array(python.dropFirst())
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "the tree script failed")
    }

    /// 10,000 levels: symlinks and files every 10th level (this filesystem takes seconds
    /// for 10,000 levels of directories alone; every level would triple it).
    @Test(arguments: [(100, 1), (10_000, 10)]) func aClientsTreeIsGoneWhateverItsDepth(depth: Int, every: Int) throws {
        let outside = try #require(mkdtempPath("memd-deep-outside-"))
        defer { try? FileManager.default.removeItem(atPath: outside) }
        chmod(outside, 0o755)
        try "kept\n".write(toFile: outside + "/keep", atomically: false, encoding: .utf8)
        mkdir(outside + "/sub", 0o755)
        let directory = try ExperimentDirectory(
            in: Leftovers.temporaryDirectory,
            owner: getuid() == 0 ? Self.nobody : nil
        )
        try makeTree(in: directory.path, depth: depth, every: every, outside: outside)
        var info = stat()
        #expect(lstat(directory.path + "/d/d/d/d/d/d/d/d/d/d", &info) == 0, "the tree was not made")
        directory.remove()
        #expect(lstat(directory.path, &info) != 0 && errno == ENOENT, "\(directory.path) is left behind")
        #expect((try? String(contentsOfFile: outside + "/keep", encoding: .utf8)) == "kept\n")
        #expect(lstat(outside + "/sub", &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR)
        #expect(lstat(outside, &info) == 0 && info.st_mode & 0o7777 == 0o755)
    }

    /// `mkdtemp` in the temporary directory: its path, or nil.
    func mkdtempPath(_ prefix: String) -> String? {
        var template = Array("\(Leftovers.temporaryDirectory)/\(prefix)XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else { return nil }
        return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
