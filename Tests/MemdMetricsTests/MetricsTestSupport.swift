import Foundation
import MemdProtocol
import ProcFS
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The directory holding the built products (memd, memctl, memlab).
let productsDirectory: URL = {
    if let dir = ProcessInfo.processInfo.environment["MEMD_BIN_DIR"] { return URL(fileURLWithPath: dir) }
    var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    while url.pathComponents.count > 1 {
        url.deleteLastPathComponent()
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("memd").path) { return url }
    }
    return URL(fileURLWithPath: ".build/debug")
}()

enum TestFailure: Error {
    case notStarted(String)
    case http(String)
    case missing(String)
    case timedOut(String)
}

/// A free TCP port on 127.0.0.1, found by binding port 0 and closing again.
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestFailure.missing("socket") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw -> Int32 in
            guard bind(fd, raw, length) == 0 else { return -1 }
            return getsockname(fd, raw, &length)
        }
    }
    guard bound == 0 else { throw TestFailure.missing("bind") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A real memd with `--metrics-listen 127.0.0.1:PORT` on a temporary socket.
final class MetricsMemd {
    let directory: URL
    let socketPath: String
    let port: Int
    let process = Process()
    let stderr = Pipe()

    /// `launcher`: a program and its arguments that run memd (setpriv, to start it with fewer rights).
    init(_ arguments: [String] = [], launcher: [String] = []) throws {
        directory = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("memd-metrics-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        socketPath = directory.appendingPathComponent("memd.sock").path
        port = try freeLoopbackPort()
        let memd = productsDirectory.appendingPathComponent("memd")
        let memdArguments =
            [
                "--socket", socketPath, "--log-level", "warning", "--metrics-listen", "127.0.0.1:\(port)",
            ] + arguments
        if let program = launcher.first {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = launcher.dropFirst() + [memd.path] + memdArguments
        } else {
            process.executableURL = memd
            process.arguments = memdArguments
        }
        process.standardError = stderr
        try process.run()
        for _ in 0..<250 {
            let socketAnswers = (try? MemdClient(path: socketPath)) != nil
            if socketAnswers, (try? HTTPExchange.get(port: port, path: "/metrics")) != nil { return }
            guard process.isRunning else { break }
            usleep(20_000)
        }
        // memd may be up without /metrics answering: end it first, or reading its stderr waits for ever.
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        throw TestFailure.notStarted(String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
    }

    func client() throws -> MemdClient {
        let client = try MemdClient(path: socketPath)
        client.setReadTimeout(seconds: Sanitizer.scaled(20))
        return client
    }

    deinit {
        if process.isRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(3)
            while process.isRunning, Date() < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        // Even when it has ended: only this frees swift-corelibs-foundation's Process, which retains
        // itself through its run-loop source until waitUntilExit() drops it.
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// One HTTP/1.1 exchange over a plain TCP socket to 127.0.0.1, read to EOF
/// (`Connection: close`): the test sees the bytes exactly as sent.
struct HTTPExchange {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    var text: String { String(decoding: body, as: UTF8.self) }

    static func get(port: Int, path: String, method: String = "GET", headers: [String] = []) throws -> HTTPExchange {
        let connection = try TCPConnection(port: port)
        let request =
            (["\(method) \(path) HTTP/1.1", "Host: 127.0.0.1:\(port)", "Connection: close"] + headers)
            .joined(separator: "\r\n") + "\r\n\r\n"
        guard connection.send(Array(request.utf8)) else { throw TestFailure.http("send failed") }
        return try parse(connection.receiveAll())
    }

    static func parse(_ bytes: [UInt8]) throws -> HTTPExchange {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = bytes.indices.first(where: { bytes[$0...].starts(with: separator) }) else {
            throw TestFailure.http("no complete response head in \(bytes.count) bytes")
        }
        let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusFields = lines[0].split(separator: " ")
        guard statusFields.count >= 2, let status = Int(statusFields[1]) else { throw TestFailure.http(lines[0]) }
        let headers = lines.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return HTTPExchange(status: status, headers: headers, body: Array(bytes[(end + 4)...]))
    }
}

/// A blocking TCP connection to 127.0.0.1 with a receive timeout, from `source` (another
/// loopback address, 127.0.0.2 …, stands for another peer: all of 127/8 is loopback).
final class TCPConnection: @unchecked Sendable {
    let fd: Int32

    init(port: Int, source: String? = nil, receiveTimeoutSeconds: Int = 20) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure.http("socket") }
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            let bound = withUnsafePointer(to: &local) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard bound == 0 else {
                close(fd)
                throw TestFailure.http("bind to \(source): errno \(errno)")
            }
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(fd)
            throw TestFailure.http("connect to 127.0.0.1:\(port): errno \(errno)")
        }
        var timeout = timeval(tv_sec: receiveTimeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// false once the peer has closed (EPIPE, ECONNRESET).
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if sent < 0, errno == EINTR { continue }
            guard sent > 0 else { return false }
            offset += sent
        }
        return true
    }

    /// Everything until the peer closes (or the receive timeout, which throws).
    func receiveAll() throws -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if got < 0, errno == EINTR { continue }
            if got < 0, errno == ECONNRESET { return result }
            guard got >= 0 else { throw TestFailure.http("receive timed out after \(result.count) bytes") }
            if got == 0 { return result }
            result.append(contentsOf: chunk[0..<got])
        }
    }

    /// One response on a keep-alive connection: its head, then `Content-Length` bytes of body.
    func receiveResponse() throws -> HTTPExchange {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while !bytes.suffix(4).elementsEqual([13, 10, 13, 10]) {
            let got = recv(fd, &byte, 1, 0)
            if got < 0, errno == EINTR { continue }
            guard got == 1 else { throw TestFailure.http("connection ended after \(bytes.count) bytes of a head") }
            bytes.append(byte)
        }
        var response = try HTTPExchange.parse(bytes)
        var remaining = Int(response.header("Content-Length") ?? "") ?? 0
        var chunk = [UInt8](repeating: 0, count: 65536)
        while remaining > 0 {
            let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, min($0.count, remaining), 0) }
            if got < 0, errno == EINTR { continue }
            guard got > 0 else { throw TestFailure.http("connection ended \(remaining) bytes before the body's end") }
            response.body.append(contentsOf: chunk[0..<got])
            remaining -= got
        }
        return response
    }

    /// True when the peer has closed: a read returns end of file (or a reset) within `seconds`.
    func isClosedByPeer(within seconds: Int) -> Bool {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var byte: UInt8 = 0
        while true {
            let got = recv(fd, &byte, 1, 0)
            if got < 0, errno == EINTR { continue }
            return got == 0 || (got < 0 && errno == ECONNRESET)
        }
    }

    deinit { close(fd) }
}

/// /proc/meminfo as key → bytes (kB × 1024), read by the test itself.
func readMeminfo() throws -> [String: Int] {
    var values: [String: Int] = [:]
    for line in try readProc("/proc/meminfo").split(separator: "\n") {
        let fields = line.split(separator: " ")
        values[String(fields[0].dropLast())] = Int(fields[1])! * (fields.count > 2 ? 1024 : 1)
    }
    return values
}

/// A /proc file read to EOF.
func readProc(_ path: String) throws -> String {
    guard let handle = FileHandle(forReadingAtPath: path) else { throw TestFailure.missing(path) }
    defer { try? handle.close() }
    return String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
}

/// The value of the unlabelled sample `name` in a text exposition.
func sample(_ name: String, in text: String) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
        return Double(line.dropFirst(name.count + 1))
    }
    return nil
}

/// A program from PATH (or /usr/bin, /usr/sbin), or nil.
func which(_ program: String) -> String? {
    let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/bin:/usr/sbin:/bin"
    for dir in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/\(program)") {
        return "\(dir)/\(program)"
    }
    return nil
}

/// Runs a program to its end with `input` on stdin: (status, stdout + stderr).
/// Runs a program to its end, feeding it `input`; one still running after `timeoutSeconds` is
/// killed and the run fails.
func runProgram(
    _ path: String,
    _ arguments: [String],
    input: [UInt8] = [],
    timeoutSeconds: Double = 120
) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let stdin = Pipe()
    let output = Pipe()
    process.standardInput = stdin
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let writer = Thread {
        stdin.fileHandleForWriting.write(Data(input))
        try? stdin.fileHandleForWriting.close()
    }
    writer.start()
    let pid = process.processIdentifier
    let timedOut = StopFlag()
    let watchdog = DispatchWorkItem {
        timedOut.set()
        kill(pid, SIGKILL)
    }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeoutSeconds, execute: watchdog)
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    watchdog.cancel()
    guard !timedOut.isSet else { throw TestFailure.timedOut("\(path) still running after \(timeoutSeconds) s: killed") }
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// `promtool check metrics` on a body: the findings other than those node_exporter's
/// own names cause (camelCase meminfo keys, "abbreviated units" in names such as
/// `node_vmstat_pgpgin`), which the contract accepts.
func promtoolFindings(_ body: [UInt8]) throws -> [String] {
    guard let promtool = which("promtool") else {
        throw TestFailure.missing("promtool (Debian's prometheus package; scripts/test installs it)")
    }
    let (status, output) = try runProgram(promtool, ["check", "metrics"], input: body)
    let findings = output.split(separator: "\n").map(String.init).filter { line in
        !(line.hasPrefix("node_") && (line.contains("camelCase") || line.contains("abbreviated units")))
    }
    if status != 0 && findings.isEmpty { return [] }
    return status == 0 ? [] : findings
}

/// A memory cgroup the test makes directly under the host's memory hierarchy's
/// root (v1 `memory.limit_in_bytes`, v2 `memory.max`), removed when dropped.
/// Its name holds `"` and `\`, which a label value must escape.
final class TestCgroup {
    let directory: String
    /// The path as memd labels it.
    let path: String

    init(limitBytes: Int) throws {
        guard let hierarchy = ProcFS.CgroupHierarchy.detect() else {
            throw TestFailure.missing("a memory cgroup hierarchy")
        }
        let name = "metrics-test-\"q\\\(getpid())-\(UUID().uuidString.prefix(6))"
        path = "/" + name
        directory = hierarchy.root + "/" + name
        guard mkdir(directory, 0o755) == 0 || errno == EEXIST else {
            throw TestFailure.missing("mkdir \(directory): errno \(errno) (the test runs as root)")
        }
        let file = hierarchy.version == .v1 ? "memory.limit_in_bytes" : "memory.max"
        try "\(limitBytes)\n".write(toFile: directory + "/" + file, atomically: false, encoding: .utf8)
    }

    deinit { rmdir(directory) }
}

/// A flag one thread sets and another polls.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
