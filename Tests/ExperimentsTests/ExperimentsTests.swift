import Dispatch
import JSONRPC
import MemdProtocol
import ProcFS
import Synchronization
import Testing

@testable import Experiments

#if canImport(Glibc)
import Glibc
#endif

// These run the real memlab against the real kernel, and check what /proc says
// against what the kernel must do — never against constants from the code.
// Build memlab first: `swift build --product memlab` (or set MEMLAB_PATH).

/// memlab beside the test bundle (the build directory of this test run), or $MEMLAB_PATH.
let memlabPath: String = {
    if let path = getenv("MEMLAB_PATH") { return String(cString: path) }
    var candidates: [String] = []
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    if n > 0 { candidates.append(String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)) }
    candidates.append(CommandLine.arguments[0])
    for exe in candidates {
        var dir = exe
        // …/debug/memdPackageTests.xctest (a file on Linux), or a path inside a bundle.
        while let slash = dir.lastIndex(of: "/") {
            dir = String(dir[..<slash])
            if access(dir + "/memlab", X_OK) == 0 { return dir + "/memlab" }
            if dir.isEmpty { break }
        }
    }
    return ".build/debug/memlab"
}()

let root = ClientIdentity(uid: 0, gid: 0)
let me = ClientIdentity(uid: getuid(), gid: getgid())
let pageBytes = 4096

func runner(_ limits: ExperimentLimits = ExperimentLimits()) -> ExperimentRunner {
    ExperimentRunner(helperPath: memlabPath, limits: limits)
}

func real(_ result: JSON) throws -> JSONObject {
    try #require(result["real"]?.objectValue)
}

func int(_ value: JSON?) throws -> Int { try #require(value?.intValue) }

/// The wire code memd gives the error a call threw (its ExperimentMethods boundary), or nil.
func errorCode(_ body: () async throws -> Void) async -> Int? {
    do {
        try await body()
        return nil
    } catch let error as ExperimentError {
        switch error.code {
        case .resourceLimit: return -32003
        case .unsupported: return -32004
        case .cancelled: return -32006
        case .processNotFound: return -32001
        case .untrustedOutput, .failed: return -32603
        }
    } catch let error as RPCError {
        return error.code.rawValue
    } catch {
        return -1
    }
}

func hostTHPMode() -> String? {
    transparentHugePageMode()
}

/// Whether a process exists at all (a zombie counts: it is not reaped).
func exists(_ pid: Int32) -> Bool { access("/proc/\(pid)", F_OK) == 0 }

/// /proc/PID/stat, or nil once the process is gone.
func quickStat(_ pid: Int32) -> ProcessStat? {
    var proc = ProcReader()
    return try? proc.stat(pid: pid)
}

/// The memlab children of `parent` (other suites may have started other children, e.g. memd).
func children(of parent: Int32) -> [Int32] {
    ((try? processIDs()) ?? []).filter { pid in
        guard let stat = quickStat(pid) else { return false }
        return stat.ppid == parent && stat.comm == "memlab"
    }
}

@Suite(.serialized) struct ExperimentsTests {
    @Test func memlabIsBuilt() {
        #expect(
            access(memlabPath, X_OK) == 0,
            "build memlab first: swift build --product memlab (looked at \(memlabPath))"
        )
    }

    @Test func demandPagingGrowsRSSOnlyWhenTouched() async throws {
        let size = 64 << 20
        let step = 8 << 20
        let result = try await runner().run(
            ExperimentRequest(name: .demandPaging, sizeBytes: size, stepBytes: step),
            client: root
        )
        let r = try real(result)
        #expect(r["thp"]?.stringValue == hostTHPMode())
        let samples = try #require(r["samples"]?.arrayValue)
        #expect(
            samples.map { $0["phase"]?.stringValue ?? "" } == ["beforeAlloc", "allocated"]
                + Array(repeating: "touched", count: 8)
        )
        let before = samples[0]
        let allocated = samples[1]
        // vsz jumps by the size at `allocated`; rss stays flat.
        let vszJump = try int(allocated["vsz"]) - int(before["vsz"])
        #expect(abs(vszJump - size) <= 16 * pageBytes, "vsz grew by \(vszJump)")
        let rssJump = try int(allocated["rss"]) - int(before["rss"])
        #expect(abs(rssJump) <= 16 * pageBytes, "rss moved by \(rssJump) at allocation")
        // rss grows about one step per step.
        for (previous, sample) in zip(samples.dropFirst(1), samples.dropFirst(2)) {
            let growth = try int(sample["rss"]) - int(previous["rss"])
            #expect(abs(growth - step) <= step / 10, "rss grew by \(growth) in a step of \(step)")
            #expect(try int(sample["vsz"]) == int(allocated["vsz"]))
        }
        // NOHUGEPAGE: one fault per 4 KiB page, whatever the host's THP mode.
        let faults = try int(r["faultsDuringTouch"])
        #expect(
            abs(faults - size / pageBytes) <= size / pageBytes / 10,
            "\(faults) faults for \(size / pageBytes) pages"
        )
        #expect(try int(r["pid"]) > 0)
        #expect(try int(r["uid"]) == 0)
    }

    @Test func demandPagingWithHugePagesFollowsTheHostsTHPMode() async throws {
        let size = 64 << 20
        let result = try await runner().run(
            ExperimentRequest(name: .demandPaging, sizeBytes: size, stepBytes: 16 << 20, hugePages: true),
            client: root
        )
        let r = try real(result)
        let faults = try int(r["faultsDuringTouch"])
        let pages = size / pageBytes
        switch hostTHPMode() {
        case "always", "madvise":
            // MADV_HUGEPAGE where THP allows it: 2 MiB per fault (fewer if the kernel
            // found no free huge page, so only "far fewer" is asserted).
            #expect(faults < pages / 4, "\(faults) faults for \(pages) pages with THP \(hostTHPMode() ?? "-")")
        default:
            #expect(abs(faults - pages) <= pages / 10)
        }
    }

    @Test func copyOnWriteCopiesAtTheWriteNotAtTheFork() async throws {
        let size = 128 << 20
        let result = try await runner().run(
            ExperimentRequest(name: .cow, sizeBytes: size, stepBytes: 32 << 20),
            client: root
        )
        let r = try real(result)
        let beforeFork = try #require(r["beforeFork"]?.objectValue)
        let child = try #require(r["child"]?.objectValue)
        let beforeWrite = try #require(child["beforeWrite"]?.objectValue)
        let afterWrite = try #require(child["afterWrite"]?.objectValue)
        #expect(try int(beforeFork["parentRss"]) >= size)
        // Before the write: the region is shared with the parent.
        #expect(try int(beforeWrite["shared"]) >= size * 9 / 10)
        #expect(try int(beforeWrite["private"]) <= size / 10)
        // After: private, one fault per page.
        #expect(try int(afterWrite["private"]) >= size * 9 / 10)
        #expect(try int(afterWrite["shared"]) <= size / 10)
        let faults = try int(r["faultsDuringWrite"])
        #expect(
            abs(faults - size / pageBytes) <= size / pageBytes / 10,
            "\(faults) faults writing \(size / pageBytes) pages"
        )
        // System memory grows at the write, not at the fork: AnonPages (/proc/meminfo)
        // by about the size at the write and far less at the fork. (free's `used`
        // can miss it: pages freed by an earlier test wait on the kernel's per-CPU
        // lists, counted neither free nor used, and are handed out from there.)
        // AnonPages is the whole host's: every other process's frees and faults land in it too, so
        // the claim must hold in one of three runs (if the copy were made at the fork, none would).
        var misses: [String] = []
        var run = r
        while true {
            let anon = try #require(run["anonPages"])
            let atFork = try int(anon["afterFork"]) - int(anon["beforeFork"])
            let atWrite = try int(anon["afterWrite"]) - int(anon["afterFork"])
            if atFork < size / 4, atWrite > size * 8 / 10, atWrite < size * 5 / 4 { break }
            misses.append("AnonPages grew by \(atFork) at the fork, \(atWrite) at the write")
            if misses.count == 3 { break }
            run = try real(
                try await runner().run(
                    ExperimentRequest(name: .cow, sizeBytes: size, stepBytes: 32 << 20),
                    client: root
                )
            )
        }
        #expect(misses.count < 3, "\(misses)")
        #expect(r["systemUsedAfterWrite"]?.intValue != nil && r["systemUsedAfterFork"]?.intValue != nil)
    }

    @Test func filemapWritesThroughTheMappingAndLeavesNoFile() async throws {
        let result = try await runner().run(ExperimentRequest(name: .filemap, sizeBytes: 1 << 20), client: root)
        let r = try real(result)
        let path = try #require(r["path"]?.stringValue)
        // In memd's own directory, memd.<pid>.XXXXXX, removed afterwards with the file.
        #expect(path.hasPrefix("\(Leftovers.temporaryDirectory)/memd.\(getpid()).") && path.contains("/filemap-"))
        #expect(access(String(path[..<path.lastIndex(of: "/")!]), F_OK) != 0, "the directory is gone")
        let mapping = try #require(r["mapping"]?.objectValue)
        #expect(mapping["perms"]?.stringValue == "rw-s")
        #expect(mapping["path"]?.stringValue == path)
        #expect(mapping["kind"]?.stringValue == "file")
        #expect(r["before"]?.stringValue == "hello")
        #expect(r["after"]?.stringValue == "HELLO")
        #expect(r["fileAfter"]?.stringValue == "HELLO\n")
        #expect(access(path, F_OK) != 0, "\(path) is still there")
    }

    @Test func segvIsReportedAndMemdLivesOn() async throws {
        let result = try await runner().run(ExperimentRequest(name: .segv), client: root)
        let r = try real(result)
        #expect(r["terminatedBy"]?.stringValue == "SIGSEGV")
        #expect(r["signal"]?.intValue == Int(SIGSEGV))
        #expect(r["output"] == ["Before invalid access"])
        #expect(r["faultAddress"]?.stringValue == "0x0")
        // The next experiment runs as usual.
        let again = try await runner().run(ExperimentRequest(name: .mmap, sizeBytes: 1 << 20), client: root)
        #expect(again["real"]?["address"] != nil)
    }

    @Test func mmapAddsOneMappingCoveringTheRegion() async throws {
        let size = 100 << 20
        let result = try await runner().run(ExperimentRequest(name: .mmap, sizeBytes: size), client: root)
        let r = try real(result)
        let address = try #require(r["address"]?.stringValue.flatMap { UInt64($0.dropFirst(2), radix: 16) })
        let added = try #require(r["added"]?.arrayValue)
        let covering = added.filter { m in
            guard let start = m["start"]?.stringValue.flatMap({ UInt64($0.dropFirst(2), radix: 16) }),
                let end = m["end"]?.stringValue.flatMap({ UInt64($0.dropFirst(2), radix: 16) })
            else { return false }
            return start <= address && end >= address + UInt64(size)
        }
        #expect(covering.count == 1, "added: \(added)")
        #expect(covering.first?["perms"]?.stringValue == "rw-p")
        #expect(covering.first?["kind"]?.stringValue == "anon")
        #expect(try #require(r["mapsAfter"]?.arrayValue).count >= (try #require(r["mapsBefore"]?.arrayValue).count))
        // memlab is a C program: its maps hold itself and libc, not the Swift or C++ runtimes.
        let files = Set(try #require(r["mapsAfter"]?.arrayValue).compactMap { $0["path"]?.stringValue })
        #expect(!files.contains { $0.contains("libswift") || $0.contains("libstdc++") }, "\(files)")
    }

    @Test func mallocTakesMoreFromTheKernelThanItHandsOut() async throws {
        let size = 32 << 20
        let result = try await runner().run(ExperimentRequest(name: .malloc, sizeBytes: size), client: root)
        let r = try real(result)
        #expect(try int(r["requestedBytes"]) == size)
        #expect(try int(r["allocations"]) == size / 1024)
        let growth = try int(r["heapGrowthBytes"])
        #expect(growth >= size)
        #expect(try int(r["overheadBytes"]) == growth - size)
    }

    @Test func vmExhaustionRunsOutOfAddressSpaceNotMemory() async throws {
        let result = try await runner().run(ExperimentRequest(name: .vmExhaustion, sizeBytes: 64 << 20), client: root)
        let r = try real(result)
        #expect(r["errno"]?.stringValue == "ENOMEM")
        #expect(try int(r["attemptBytes"]) > int(r["limitBytes"]))
        #expect(try int(r["memAvailable"]) > 4 * int(r["attemptBytes"]))
    }

    static let cgroupAvailable: Bool = {
        guard var cgroup = try? MemoryCgroup(limitBytes: 16 << 20) else { return false }
        cgroup.remove()
        return true
    }()

    @Test(.enabled(if: cgroupAvailable, "no memory cgroup can be made here (not root, or no memory controller)"))
    func oomKillsInsideItsCgroup() async throws {
        let size = 32 << 20
        let result = try await runner().run(
            ExperimentRequest(name: .oom, sizeBytes: size, stepBytes: 8 << 20),
            client: root
        )
        let r = try real(result)
        #expect(r["killedBy"]?.stringValue == "SIGKILL")
        #expect(try int(r["oomKillsAfter"]) > int(r["oomKillsBefore"]))
        #expect(try int(r["limitBytes"]) == size)
        let version = try #require(r["cgroup"]?.stringValue)
        #expect(version == "v1" || version == "v2")
        #expect(try leftoverCgroups().isEmpty)
    }

    /// memd.<our pid>.oom-* directories anywhere under /sys/fs/cgroup.
    func leftoverCgroups() throws -> [String] {
        var proc = ProcReader()
        let mounts = try proc.text("/proc/self/mountinfo")
        var left: [String] = []
        let prefix = "memd.\(getpid()).oom-"
        for mount in MemoryCgroup.mountPoints(mounts, type: "cgroup2", option: nil)
            + MemoryCgroup.mountPoints(mounts, type: "cgroup", option: "memory")
        {
            let membership = try proc.text("/proc/self/cgroup")
            for parent in MemoryCgroup.candidates(
                mount: mount,
                own: MemoryCgroup.ownPath(membership, controller: "memory")
            )
                + MemoryCgroup.candidates(mount: mount, own: MemoryCgroup.ownPath(membership, controller: nil))
            {
                guard let dir = opendir(parent) else { continue }
                while let entry = readdir(dir) {
                    let name = withUnsafeBytes(of: entry.pointee.d_name) {
                        String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
                    }
                    if name.hasPrefix(prefix) { left.append(parent + "/" + name) }
                }
                closedir(dir)
            }
        }
        return left
    }

    @Test func cancellingKillsChildAndGrandchildWithoutZombies() async throws {
        let seen = Mutex<[Int32]>([])
        let cancelledAt = Mutex<ContinuousClock.Instant?>(nil)
        let taskBox = Mutex<Task<JSON, Error>?>(nil)
        let started = DispatchSemaphore(value: 0)
        let runner = runner()
        let task = Task {
            try await runner.run(
                ExperimentRequest(name: .cow, sizeBytes: 64 << 20, stepBytes: 8 << 20, progress: true),
                client: root
            ) { params in
                guard params["phase"]?.stringValue == "beforeWrite" else { return }
                // memlab and its forked child, both standing at a point right now. Other suites'
                // experiments may be running too: this one is the memlab that has forked.
                let memlabs = children(of: getpid()).filter { !children(of: $0).isEmpty }
                seen.withLock { $0 = memlabs + memlabs.flatMap { children(of: $0) } }
                cancelledAt.withLock { $0 = ContinuousClock.now }
                taskBox.withLock { $0?.cancel() }
                started.signal()
            }
        }
        taskBox.withLock { $0 = task }
        let code = await errorCode { _ = try await task.value }
        let took = ContinuousClock.now - (try #require(cancelledAt.withLock { $0 }))
        #expect(code == -32006)
        #expect(took < .seconds(2), "run() returned \(took) after the cancel")
        let pids = seen.withLock { $0 }
        #expect(pids.count == 2, "memlab and its child: \(pids)")
        // Gone (not even a zombie) within 2 s; in fact gone when run() returns.
        let deadline = ContinuousClock.now + .seconds(2)
        while pids.contains(where: exists), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(!pids.contains(where: exists), "still in /proc: \(pids.filter(exists))")
    }

    @Test func timeoutKillsTheChild() async throws {
        let pid = Mutex<Int32?>(nil)
        let limits = ExperimentLimits(timeout: .milliseconds(500))
        let code = await errorCode {
            _ = try await runner(limits).run(
                ExperimentRequest(name: .demandPaging, sizeBytes: 8 << 20, stepBytes: 4 << 20, progress: true),
                client: root
            ) { params in
                guard params["phase"]?.stringValue == "allocated" else { return }
                pid.withLock { $0 = children(of: getpid()).first }
                usleep(1_000_000)  // hold memlab at its point past the deadline
            }
        }
        #expect(code == -32006)
        let child = try #require(pid.withLock { $0 })
        #expect(!exists(child))
    }

    @Test func filemapLeavesNoFileWhenCancelled() async throws {
        let path = Mutex<String?>(nil)
        let limits = ExperimentLimits(timeout: .milliseconds(300))
        // memlab reports the file at `created`; read it from /proc/PID/fd while it waits there.
        let code = await errorCode {
            _ = try await runner(limits).run(
                ExperimentRequest(name: .filemap, sizeBytes: 1 << 20, progress: true),
                client: root
            ) {
                params in
                guard params["phase"]?.stringValue == "created", let child = children(of: getpid()).first else {
                    return
                }
                var buffer = [CChar](repeating: 0, count: 4096)
                let n = readlink("/proc/\(child)/fd/3", &buffer, buffer.count - 1)
                if n > 0 {
                    path.withLock { $0 = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
                }
                usleep(600_000)
            }
        }
        #expect(code == -32006)
        let file = try #require(path.withLock { $0 })
        #expect(file.hasPrefix("\(Leftovers.temporaryDirectory)/memd.\(getpid())."))
        #expect(access(file, F_OK) != 0, "\(file) left behind")
    }

    @Test func sizeOverTheLimitIsResourceLimit() async throws {
        let code = await errorCode {
            _ = try await runner(ExperimentLimits(maxBytes: 1 << 20)).run(
                ExperimentRequest(name: .demandPaging, sizeBytes: 2 << 20),
                client: root
            )
        }
        #expect(code == -32003)
        // The default: min(1 GiB, 25% of MemAvailable), read at call time.
        var proc = ProcReader()
        let available = FreeFigures(try proc.meminfo()).available
        let limit = try runner().maxBytes()
        #expect(abs(limit - min(1 << 30, available / 4)) < 64 << 20)
        let over = await errorCode {
            _ = try await runner().run(ExperimentRequest(name: .mmap, sizeBytes: limit + (64 << 20)), client: root)
        }
        #expect(over == -32003)
    }

    @Test func aThirdConcurrentExperimentIsResourceLimit() async throws {
        let shared = runner()
        let holding = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let held = Mutex(Set<String>())
        let request = ExperimentRequest(name: .demandPaging, sizeBytes: 4 << 20, stepBytes: 4 << 20, progress: true)
        func hold(_ tag: String) -> @Sendable (JSON) -> Void {
            { _ in
                let first = held.withLock { $0.insert(tag).inserted }
                if first {
                    holding.signal()
                    release.wait()
                }
            }
        }
        let holdA = hold("a")
        let holdB = hold("b")
        let first = Task { try await shared.run(request, client: root, progress: holdA) }
        let second = Task { try await shared.run(request, client: root, progress: holdB) }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                holding.wait()
                holding.wait()
                done.resume()
            }
        }
        let code = await errorCode { _ = try await shared.run(request, client: root) }
        #expect(code == -32003)
        release.signal()
        release.signal()
        _ = try await first.value
        _ = try await second.value
        // Slots are given back.
        _ = try await shared.run(ExperimentRequest(name: .mmap, sizeBytes: 1 << 20), client: root)
    }

    @Test(.enabled(if: geteuid() == 0, "dropping to another uid needs root"))
    func runsAsTheClientsUid() async throws {
        let nobody = ClientIdentity(uid: 65534, gid: 65534)
        let result = try await runner().run(ExperimentRequest(name: .filemap, sizeBytes: 1 << 20), client: nobody)
        let r = try real(result)
        #expect(r["uid"]?.intValue == 65534)
        #expect(r["fileAfter"]?.stringValue == "HELLO\n")
    }

    @Test func progressReportsEachStep() async throws {
        let phases = Mutex<[JSON]>([])
        _ = try await runner().run(
            ExperimentRequest(name: .demandPaging, sizeBytes: 8 << 20, stepBytes: 2 << 20, progress: true),
            client: root
        ) { params in phases.withLock { $0.append(params) } }
        let seen = phases.withLock { $0 }
        #expect(
            seen.map { $0["phase"]?.stringValue ?? "" } == ["started", "beforeAlloc", "allocated"]
                + Array(repeating: "touched", count: 4)
        )
        #expect(seen.last?["touchedBytes"]?.intValue == 8 << 20)
        #expect(seen.last?["totalBytes"]?.intValue == 8 << 20)
        #expect(seen.allSatisfy { $0["message"]?.stringValue?.isEmpty == false })
    }

    @Test func badParamsAreInvalidParams() throws {
        #expect(throws: RPCError.self) { try ExperimentRequest(params: ["name": "fork-bomb"]) }
        #expect(throws: RPCError.self) { try ExperimentRequest(params: ["name": "cow", "sizeBytes": -1]) }
        #expect(throws: RPCError.self) { try ExperimentRequest(params: ["name": "cow", "colour": "red"]) }
        let request = try ExperimentRequest(params: ["name": "cow", "hugePages": true])
        #expect(request.sizeBytes == 100 << 20 && request.stepBytes == 10 << 20 && request.hugePages)
        do {
            _ = try ExperimentRequest(params: ["name": "fork-bomb"])
        } catch {
            #expect(error.code == .invalidParams)
        }
    }

    @Test func bothPutsTheSimulatorBesideTheKernel() async throws {
        let size = 32 << 20
        let result = try await runner().run(
            ExperimentRequest(name: .demandPaging, sizeBytes: size, stepBytes: 8 << 20, backend: .both),
            client: root
        )
        #expect(result["backend"]?.stringValue == "both")
        let sim = try #require(result["sim"]?.objectValue)
        // The simulator has nothing else resident: exactly one fault per page.
        #expect(try int(sim["faultsDuringTouch"]) == size / pageBytes)
        #expect(sim["samples"]?.arrayValue?.count == 2 + 4)
        let comparison = try #require(result["comparison"]?.objectValue)
        #expect(comparison["faultsDuringTouch"]?["real"] == result["real"]?["faultsDuringTouch"])
        #expect(comparison["faultsDuringTouch"]?["sim"] == sim["faultsDuringTouch"])
        #expect(comparison["note"]?.stringValue?.isEmpty == false)

        let cow = try await runner().run(ExperimentRequest(name: .cow, sizeBytes: size, backend: .sim), client: root)
        #expect(cow["real"] == nil)
        #expect(try int(cow["sim"]?["faultsDuringWrite"]) == size / pageBytes)
        #expect(try int(cow["sim"]?["child"]?["afterWrite"]?["private"]) == size)

        let malloc = await errorCode {
            _ = try await runner().run(ExperimentRequest(name: .malloc, backend: .sim), client: root)
        }
        #expect(malloc == -32004)
    }
}
