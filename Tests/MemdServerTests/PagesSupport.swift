import Foundation
import JSONRPC
import MemdProtocol
import Testing

/// An integer member of a result; -1 when missing (never traps in a sum).
func figure(_ json: JSON?) -> Int { json?.intValue ?? -1 }

/// The page helper (Tests/Helpers/touchpages.py): a buffer of known size with a known part touched
/// again and again, and regions the kernel backs in known ways. Ends when its stdin closes.
final class TouchPages {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Helpers/touchpages.py").path

    let process = Process()
    let input = Pipe()
    let output = Pipe()
    /// name → [start, end) as the helper printed them.
    private(set) var regions: [String: (start: UInt64, end: UInt64)] = [:]

    /// Starts it (as `user` through setpriv when given) and waits for `ready`.
    init(_ arguments: [String], user: Int? = nil) throws {
        if let user {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments =
                ["--reuid=\(user)", "--regid=\(user)", "--clear-groups", "/usr/bin/python3", TouchPages.script]
                + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = [TouchPages.script] + arguments
        }
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        var text = ""
        while !text.hasSuffix("ready\n") {
            let data = output.fileHandleForReading.availableData
            guard !data.isEmpty else { throw HarnessError.commandFailed("touchpages.py ended: \(text)") }
            text += String(decoding: data, as: UTF8.self)
        }
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ")
            guard words.count == 3, let start = UInt64(words[1].dropFirst(2), radix: 16),
                let end = UInt64(words[2].dropFirst(2), radix: 16)
            else { continue }
            regions[String(words[0])] = (start, end)
        }
    }

    var pid: Int32 { process.processIdentifier }

    /// The region's bounds as the protocol writes addresses.
    func hex(_ name: String) -> (start: String, end: String) {
        let region = regions[name] ?? (0, 0)
        return ("0x" + String(region.start, radix: 16), "0x" + String(region.end, radix: 16))
    }

    /// Closes its stdin: it exits.
    func end() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    deinit {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()  // frees the Process (MemdHarness's deinit says why)
    }
}

/// The kernel's own answers, read by the tests themselves.
enum KernelPages {
    static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// smaps' `Referenced:` of the mapping starting at `start`, in bytes.
    static func referenced(pid: Int32, mappingAt start: UInt64) throws -> Int? {
        let smaps = try readProc("/proc/\(pid)/smaps")
        var inside = false
        for line in smaps.split(separator: "\n") {
            if let dash = line.firstIndex(of: "-"), let low = UInt64(line[..<dash], radix: 16) {
                inside = low == start
                continue
            }
            if inside, line.hasPrefix("Referenced:") {
                let kb = line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
                return kb.map { $0 * 1024 }
            }
        }
        return nil
    }

    /// Whether the kernel tracks soft-dirty bits, asked on this test process: clear them, write a
    /// fresh page, read its pagemap entry's bit 55.
    static func tracksSoftDirty() throws -> Bool {
        let page = UnsafeMutableRawPointer.allocate(byteCount: pageSize, alignment: pageSize)
        defer { page.deallocate() }
        page.storeBytes(of: 1, as: UInt8.self)
        let clear = open("/proc/self/clear_refs", O_WRONLY)
        guard clear >= 0 else { throw HarnessError.commandFailed("clear_refs: errno \(errno)") }
        _ = write(clear, "4", 1)
        close(clear)
        page.storeBytes(of: 2, as: UInt8.self)
        return try pagemap(pid: getpid(), page: UInt64(UInt(bitPattern: page)) / UInt64(pageSize), count: 1)[0]
            & (1 << 55) != 0
    }

    /// Raw pagemap entries of pages `page ..< page + count`.
    static func pagemap(pid: Int32, page: UInt64, count: Int) throws -> [UInt64] {
        let fd = open("/proc/\(pid)/pagemap", O_RDONLY)
        guard fd >= 0 else { throw HarnessError.commandFailed("pagemap: errno \(errno)") }
        defer { close(fd) }
        var entries = [UInt64](repeating: 0, count: count)
        let got = entries.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count * 8, off_t(page * 8)) }
        guard got == count * 8 else { throw HarnessError.commandFailed("pagemap: short read \(got)") }
        return entries
    }

    /// For the present pages of [start, end) of `pid`: how many, how many with each of `bits` set in
    /// /proc/kpageflags, and how many mapped more than once (/proc/kpagecount) — one pread per page,
    /// the plain way.
    static func flags(
        pid: Int32,
        start: UInt64,
        end: UInt64,
        bits: [Int]
    ) throws -> (
        present: Int, withBit: [Int: Int], shared: Int
    ) {
        let size = UInt64(pageSize)
        let entries = try pagemap(pid: pid, page: start / size, count: Int((end - start) / size))
        let flags = open("/proc/kpageflags", O_RDONLY)
        let counts = open("/proc/kpagecount", O_RDONLY)
        defer {
            close(flags)
            close(counts)
        }
        var present = 0
        var shared = 0
        var withBit: [Int: Int] = [:]
        for entry in entries where entry & (1 << 63) != 0 {
            let frame = entry & ((1 << 55) - 1)
            var word: UInt64 = 0
            var mapCount: UInt64 = 0
            guard pread(flags, &word, 8, off_t(frame * 8)) == 8, pread(counts, &mapCount, 8, off_t(frame * 8)) == 8
            else { continue }
            present += 1
            if mapCount > 1 { shared += 1 }
            for bit in bits where word & (1 << UInt64(bit)) != 0 { withBit[bit, default: 0] += 1 }
        }
        return (present, withBit, shared)
    }

    /// The kernel's page-types (tools/vm, built by scripts/test from linux-source-6.1), if here.
    static var pageTypes: String? {
        let candidates =
            (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/page-types" }
            + ["/usr/local/bin/page-types"]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// `page-types -p PID`'s table: long-symbolic flags → pages, and the total.
    static func pageTypesTable(_ binary: String, pid: Int32) throws -> (rows: [String: Int], total: Int) {
        let out = try run(binary, ["-p", "\(pid)"])
        #expect(out.status == 0, "\(out.err)")
        var rows: [String: Int] = [:]
        var total = 0
        for line in out.out.split(separator: "\n") {
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false)
            if line.hasPrefix("0x"), columns.count >= 3 {
                let pages = Int(columns[1].split(separator: " ").first ?? "") ?? -1
                rows[String(columns.last ?? ""), default: 0] += pages
            } else if line.contains("total"), columns.count >= 2 {
                total = Int(columns[1].split(separator: " ").first ?? "") ?? -1
            }
        }
        return (rows, total)
    }
}
