import ExperimentsShims
import JSONRPC
import MemdProtocol
import ProcFS

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How memlab ended, from waitpid.
enum ExitStatus: Sendable, Equatable {
    case exited(Int32)
    case signaled(Int32)

    init(_ status: Int32) {
        // WIFEXITED / WTERMSIG, written out: the macros do not import.
        let signal = status & 0x7f
        self = signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    }
}

/// Why the event loop stopped.
enum HelperEnd: Sendable, Equatable {
    /// memlab closed its stdout: it exited, or was killed by the kernel (segv, oom).
    case finished
    case cancelled
    case timedOut
}

/// Everything memlab left behind, once it is reaped.
struct HelperOutcome {
    var pid: Int32
    var status: ExitStatus
    var end: HelperEnd
    /// Lines memlab printed that are not events: the program's own output.
    var output: [String] = []
    /// Events other than points (`started`, `fault`, `error`, `done`), in order.
    var events: [JSONObject] = []
    var stderr: String = ""

    func event(_ name: String) -> JSONObject? { events.last { $0["event"]?.stringValue == name } }
}

/// What runs one experiment's measurements. memlab stops at each point until
/// ``point(_:_:_:)`` returns, so every figure is read from /proc of a process
/// that is standing still.
protocol ExperimentProbe {
    /// memlab (or its child) waits at `phase`; measure it.
    mutating func point(_ phase: String, _ event: JSONObject, _ context: inout ProbeContext) throws(ExperimentError)
    /// memlab is reaped; the experiment's own fields of `real`.
    mutating func finish(_ outcome: HelperOutcome, _ context: inout ProbeContext) throws(ExperimentError) -> JSONObject
    /// Runs on every path, after the reap: temporary files, cgroups.
    mutating func cleanUp()
}

extension ExperimentProbe {
    mutating func cleanUp() {}
}

/// What a probe measures with: a /proc reader of its own (one buffer for the
/// whole experiment), memlab's pid and the request.
struct ProbeContext {
    var proc = ProcReader()
    var pid: Int32 = 0
    let request: ExperimentRequest

    mutating func stat(_ pid: Int32? = nil) throws(ExperimentError) -> ProcessStat {
        let pid = pid ?? self.pid
        do { return try proc.stat(pid: pid) } catch { throw .proc(error, pid: pid) }
    }

    mutating func maps(_ pid: Int32? = nil) throws(ExperimentError) -> [Mapping] {
        let pid = pid ?? self.pid
        do { return try proc.maps(pid: pid) } catch { throw .proc(error, pid: pid) }
    }

    /// Reads files of memlab's child `pid` through one /proc/PID directory descriptor,
    /// first checking through it that the process is memlab's child (its stat's ppid):
    /// what is read is that child's, even if the pid were reused meanwhile.
    mutating func child<T>(
        _ pid: Int32,
        _ body: (inout ProcessFiles) throws(ProcError) -> T
    )
        throws(ExperimentError) -> T
    {
        do {
            var files = try ProcessFiles(pid: pid, client: ProcClient(uid: geteuid(), gid: getegid()))
            guard try files.stat().ppid == self.pid else {
                throw ExperimentError.untrusted("process \(pid) is not memlab's child")
            }
            return try body(&files)
        } catch let error as ProcError {
            throw .proc(error, pid: pid)
        } catch let error as ExperimentError {
            throw error
        } catch {
            throw .internalError("\(error)")
        }
    }

    mutating func meminfo() throws(ExperimentError) -> Meminfo {
        do { return try proc.meminfo() } catch { throw .internalError("reading /proc/meminfo: \(error)") }
    }

    /// System used memory as free and sar compute it: MemTotal − MemAvailable.
    mutating func systemUsed() throws(ExperimentError) -> Int { FreeFigures(try meminfo()).used }

    /// free's `used` and the AnonPages line, from one read of /proc/meminfo.
    ///
    /// AnonPages counts anonymous pages as they are mapped; `used` (MemTotal −
    /// MemAvailable) can miss an allocation served from pages the kernel keeps on
    /// its per-CPU free lists (counted neither free nor used), so both are reported.
    mutating func systemMemory() throws(ExperimentError) -> (used: Int, anonPages: Int) {
        let info = try meminfo()
        return (FreeFigures(info).used, info["AnonPages"] ?? 0)
    }
}

/// A pipe that wakes the helper's event loop: cancellation writes one byte.
///
/// The descriptors live as long as the object, so a late `wake()` never writes
/// to a closed (or reused) descriptor.
final class WakePipe: @unchecked Sendable {
    let readEnd: Int32
    let writeEnd: Int32

    init() throws(ExperimentError) {
        var fds: [Int32] = [-1, -1]
        let rc = memd_pipe2(&fds, O_CLOEXEC | O_NONBLOCK)
        guard rc == 0 else { throw .internalError("pipe2: errno \(rc)") }
        readEnd = fds[0]
        writeEnd = fds[1]
    }

    func wake() {
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }

    var isWoken: Bool {
        var pfd = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
        return poll(&pfd, 1, 0) > 0
    }

    deinit {
        close(readEnd)
        close(writeEnd)
    }
}

/// Runs `body` on a thread of its own (detached).
///
/// The helper is spawned from this thread and reaped by it, and it lives as long as
/// the helper: memlab's PR_SET_PDEATHSIG fires when the *thread* that spawned it
/// ends, so a pool thread that might be retired mid-experiment would not do.
func runOnOwnThread(_ body: @escaping @Sendable () -> Void) throws(ExperimentError) {
    final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(
        &thread,
        nil,
        { raw in
            Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        },
        box
    )
    guard rc == 0 else {
        Unmanaged<Box>.fromOpaque(box).release()
        throw .internalError("pthread_create: errno \(rc)")
    }
    pthread_detach(thread)
}

/// One run of memlab: spawn, the point-by-point conversation, kill, reap.
///
/// Everything here runs on the experiment's own thread, blocking in poll(2) on
/// memlab's stdout, its stderr and the wake pipe, with the deadline as poll's
/// timeout: readiness, never a sleep loop. Only this thread kills and reaps, so
/// the process group it signals is always still memlab's (an unreaped pid cannot
/// be reused).
struct HelperConversation: Sendable {
    let helperPath: String
    let arguments: [String]
    let deadline: ContinuousClock.Instant
    let wake: WakePipe
    let progress: @Sendable (String, JSONObject) -> Void

    /// Runs memlab to its end and hands back how it ended. `probe` is called at each point.
    func run<Probe: ExperimentProbe>(
        _ probe: inout Probe,
        _ context: inout ProbeContext
    ) throws(ExperimentError)
        -> HelperOutcome
    {
        // Sockets, not pipes, for memlab's stdin+stdout: send(MSG_NOSIGNAL) to a dead
        // memlab is EPIPE, never a SIGPIPE that would kill memd.
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw .internalError("socketpair: errno \(errno)")
        }
        var errPipe: [Int32] = [-1, -1]
        guard memd_pipe2(&errPipe, O_CLOEXEC | O_NONBLOCK) == 0 else {
            close(pair[0])
            close(pair[1])
            throw .internalError("pipe2: errno \(errno)")
        }
        let channel = pair[0]
        defer {
            close(channel)
            close(errPipe[0])
        }
        if wake.isWoken {
            close(pair[1])
            close(errPipe[1])
            throw .timeout("experiment cancelled before it started")
        }
        let argv = [helperPath] + arguments
        var pid: pid_t = 0
        let spawnError = withCStrings(argv) { cArgv in
            memd_spawn_helper(helperPath, cArgv, pair[1], errPipe[1], &pid)
        }
        close(pair[1])
        close(errPipe[1])
        guard spawnError == 0 else {
            throw .internalError(
                "cannot start the experiment helper \(helperPath): \(String(cString: strerror(spawnError)))"
            )
        }
        context.pid = pid

        var outcome = HelperOutcome(pid: pid, status: .exited(0), end: .finished)
        var failure: ExperimentError?
        var lines = HelperLines()
        var budget = HelperBudget(sizeBytes: context.request.sizeBytes, stepBytes: context.request.stepBytes)
        var stderrBytes: [UInt8] = []
        var stderrOpen = true
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)

        loop: while true {
            var fds = [
                pollfd(fd: channel, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wake.readEnd, events: Int16(POLLIN), revents: 0),
                pollfd(fd: stderrOpen ? errPipe[0] : -1, events: Int16(POLLIN), revents: 0),
            ]
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else {
                outcome.end = .timedOut
                break
            }
            let timeoutMs = Int32(clamping: Int((remaining / .milliseconds(1)).rounded(.up)))
            let ready = poll(&fds, nfds_t(fds.count), timeoutMs)
            if ready < 0 {
                if errno == EINTR { continue }
                failure = .internalError("poll: errno \(errno)")
                break
            }
            if ready == 0 { continue }  // the deadline check above ends it
            if fds[1].revents != 0 {
                outcome.end = .cancelled
                break
            }
            if fds[2].revents != 0 {
                let n = read(errPipe[0], &chunk, chunk.count)
                if n > 0 {
                    if stderrBytes.count < 64 * 1024 { stderrBytes.append(contentsOf: chunk[0..<n]) }
                } else if n == 0 || errno != EINTR {
                    stderrOpen = false
                }
            }
            if fds[0].revents != 0 {
                let n = read(channel, &chunk, chunk.count)
                if n < 0 {
                    if errno == EINTR { continue }
                    break  // ECONNRESET: memlab is gone
                }
                if n == 0 { break }  // EOF: memlab (and any child of it) closed stdout
                do throws(ExperimentError) {
                    lines.append(chunk[0..<n])
                    while let line = try lines.next() {
                        try handle(line, &outcome, &probe, &context, &budget, channel: channel)
                    }
                } catch {
                    failure = error
                    break loop
                }
            }
        }

        // Whatever happened, nothing of this experiment outlives it: SIGKILL the whole
        // group (memlab and any child of it), then reap all of it. memd is a child
        // subreaper, so a child orphaned by the kill comes back to us and is reaped here.
        kill(-pid, SIGKILL)
        if let status = reap(pid) { outcome.status = status }
        // What is left in the (non-blocking) stderr pipe; a writer that escaped the group
        // cannot hold us here.
        while stderrOpen {
            let n = read(errPipe[0], &chunk, chunk.count)
            if n > 0, stderrBytes.count < 64 * 1024 {
                stderrBytes.append(contentsOf: chunk[0..<n])
            } else if n <= 0 {
                stderrOpen = false
            }
        }
        outcome.stderr = String(decoding: stderrBytes, as: UTF8.self)
        if let failure { throw failure }
        return outcome
    }

    /// Reaps memlab and what is left of its process group (just SIGKILLed), waiting at
    /// most `reapTimeout` in all: memlab's exit is awaited on a pidfd (readiness), the
    /// rest of the group with WNOHANG. Never a blocking waitpid that could hold the
    /// experiment's slot forever (a process stuck in the kernel, one that left the group).
    private func reap(_ pid: Int32) -> ExitStatus? {
        let deadline = ContinuousClock.now + Self.reapTimeout
        func remainingMs() -> Int32 {
            let left = deadline - ContinuousClock.now
            return left > .zero ? Int32(clamping: Int(left / .milliseconds(1)) + 1) : 0
        }
        let pidfd = memd_pidfd_open(pid)
        if pidfd >= 0 {
            var pfd = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
            while poll(&pfd, 1, remainingMs()) < 0 && errno == EINTR {}
            close(pidfd)
        }
        var status: ExitStatus?
        while true {
            var raw: Int32 = 0
            let reaped = waitpid(-pid, &raw, WNOHANG)
            if reaped > 0 {
                if reaped == pid { status = ExitStatus(raw) }
                continue
            }
            if reaped < 0 && errno == EINTR { continue }
            if reaped < 0 { break }  // ECHILD: the group is gone
            // 0: a member is still dying. Give it a moment, within the deadline.
            guard remainingMs() > 0 else { break }
            var none = pollfd(fd: -1, events: 0, revents: 0)
            _ = poll(&none, 1, min(remainingMs(), 5))
        }
        return status
    }

    static let reapTimeout: Duration = .seconds(2)

    private func handle<Probe: ExperimentProbe>(
        _ line: [UInt8],
        _ outcome: inout HelperOutcome,
        _ probe: inout Probe,
        _ context: inout ProbeContext,
        _ budget: inout HelperBudget,
        channel: Int32
    ) throws(ExperimentError) {
        let memlab = context.pid
        let parsed = try HelperLine.parse(line, memlab: memlab, sizeBytes: context.request.sizeBytes) { pid in
            isDescendant(pid, of: memlab, proc: &context.proc)
        }
        try budget.admit(parsed, bytes: line.count + 1)
        guard case .event(let event) = parsed else {
            if case .output(let text) = parsed { outcome.output.append(text) }
            return
        }
        guard event["event"]?.stringValue == "point", let phase = event["phase"]?.stringValue else {
            var event = event
            if event["event"]?.stringValue == "started" {
                // The uid memlab runs as, from the kernel (memlab is not reaped yet,
                // so /proc/PID/status is there even if it has exited).
                if let status = try? context.proc.status(pid: memlab) { event["statusUid"] = .int(Int(status.realUID)) }
                progress("started", event)
            }
            outcome.events.append(event)
            return
        }
        try probe.point(phase, event, &context)
        progress(phase, event)
        // Never blocks: a memlab that does not read its "go"s fills the buffer and is ended.
        let go = Array("go\n".utf8)
        let sent = go.withUnsafeBytes { send(channel, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        if sent < 0 && errno == EAGAIN { throw .untrusted("memlab does not read what memd sends") }
    }
}

/// Calls `body` with a NULL-terminated `char *[]` of `strings`.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    let pointers = strings.map { strdup($0) }
    defer {
        for pointer in pointers { free(pointer) }
    }
    return (pointers + [nil]).withUnsafeBufferPointer { body($0.baseAddress!) }
}
