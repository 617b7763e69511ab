import Foundation
import JSONRPC
import MemdProtocol
import TestSupport
import Testing

/// The directory holding the built products (memd, memctl, memlab) beside this test bundle.
let productsDirectory: URL = {
    if let dir = ProcessInfo.processInfo.environment["MEMD_BIN_DIR"] { return URL(fileURLWithPath: dir) }
    var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    while url.pathComponents.count > 1 {
        url.deleteLastPathComponent()
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("memd").path) { return url }
    }
    return URL(fileURLWithPath: ".build/debug")
}()

/// A real memd process on a temporary socket, stopped with SIGTERM.
final class MemdHarness {
    let directory: URL
    let socketPath: String
    let process = Process()
    let stderr = Pipe()

    init(_ arguments: [String] = []) throws {
        directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent(
            "memd-test-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        chmod(directory.path, 0o755)
        socketPath = directory.appendingPathComponent("memd.sock").path
        process.executableURL = productsDirectory.appendingPathComponent("memd")
        process.arguments = ["--socket", socketPath, "--log-level", "warning"] + arguments
        process.standardError = stderr
        try process.run()
        try waitForSocket()
    }

    func waitForSocket() throws {
        for _ in 0..<Int(Sanitizer.scaled(200.0)) {
            if (try? MemdClient(path: socketPath)) != nil { return }
            guard process.isRunning else { break }
            usleep(20_000)
        }
        throw HarnessError.notStarted(String(decoding: stderr.fileHandleForReading.availableData, as: UTF8.self))
    }

    func client() throws -> MemdClient {
        let client = try MemdClient(path: socketPath)
        client.setReadTimeout(seconds: Sanitizer.scaled(20))
        return client
    }

    /// SIGTERM, then the exit status (nil if memd did not exit within `seconds`, scaled for a
    /// sanitizer's build).
    @discardableResult
    func stop(within seconds: Double = 3) -> Int32? {
        if process.isRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(Sanitizer.scaled(seconds))
            while process.isRunning, Date() < deadline { usleep(10_000) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                return nil
            }
        }
        process.waitUntilExit()  // at once: it has ended (see deinit)
        return process.terminationStatus
    }

    /// Every Process a test starts ends with waitUntilExit(), even one that has already ended: only
    /// that drops the run-loop source through which swift-corelibs-foundation's Process retains
    /// itself (Process.run), so a Process only polled with isRunning is never freed (LeakSanitizer:
    /// 266 KB of Process, Pipe, arguments and environments, ~90 memd harnesses' worth).
    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: directory)
    }
}

enum HarnessError: Error {
    case notStarted(String)
    case commandFailed(String)
}

/// The OpenRPC document, read from Protocol/ (the file memd bundles).
let openRPC: JSON = {
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Protocol/openrpc.json")
    return try! JSONParser.parse(Array(try! Data(contentsOf: path)))
}()

/// Calls a method and checks the result against the method's result schema.
func call(_ client: MemdClient, _ method: String, _ params: JSONObject = [:]) throws -> JSON {
    let result = try client.call(method, params)
    let problems = SchemaValidator(document: openRPC).validateResult(of: method, result)
    #expect(problems.isEmpty, "\(method) result does not match openrpc.json: \(problems.prefix(5))")
    return result
}

/// Expects the call to fail with `code` and `kind`, validating the error object too.
func expectError(
    _ client: MemdClient,
    _ method: String,
    _ params: JSONObject = [:],
    code: Int,
    kind: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    do {
        let result = try client.call(method, params)
        Issue.record("expected error \(code), got \(result)", sourceLocation: sourceLocation)
    } catch MemdClient.Failure.server(let error) {
        #expect(error.code.rawValue == code, sourceLocation: sourceLocation)
        #expect(error.kind == kind, sourceLocation: sourceLocation)
        #expect(!error.message.isEmpty, sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected error \(code), got \(error)", sourceLocation: sourceLocation)
    }
}

/// Runs a command, returning its stdout; throws on a non-zero exit.
@discardableResult
func run(
    _ command: String,
    _ arguments: [String],
    environment: [String: String]? = nil
) throws -> (out: String, status: Int32, err: String) {
    let process = Process()
    // Through python3 to clear the signal mask the test runner's threads hand down:
    // sar's collector (sadc) waits for SIGALRM and would hang with it blocked.
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments =
        [
            "python3", "-c",
            "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execvp(sys.argv[1], sys.argv[1:])",
            command,
        ] + arguments
    if let environment { process.environment = environment }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (String(decoding: data, as: UTF8.self), process.terminationStatus, String(decoding: errData, as: UTF8.self))
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

/// A /proc file read to EOF (String(contentsOfFile:) trusts st_size, which is 0 there, and stops short).
func readProc(_ path: String) throws -> String {
    guard let handle = FileHandle(forReadingAtPath: path) else {
        throw HarnessError.commandFailed("cannot open \(path)")
    }
    defer { try? handle.close() }
    return String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
}
