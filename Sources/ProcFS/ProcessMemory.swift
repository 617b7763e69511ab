#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What /proc/PID/smaps_rollup says about one process, in bytes
/// (fs/proc/task_mmu.c, show_smaps_rollup; Linux 4.14+).
///
/// The kernel sums every mapping with full precision before it prints, so Pss here
/// is a little above the sum of smaps' per-mapping Pss lines (each of those is
/// truncated to a whole KiB). `*_Hugetlb` pages are not part of Rss or Pss.
public struct ProcessMemory: Sendable, Equatable {
    public var rss = 0, pss = 0, pssAnon = 0, pssFile = 0, pssShmem = 0
    public var privateClean = 0, privateDirty = 0, swap = 0, swapPss = 0

    public init() {}

    /// Private clean + private dirty: what the process would give back if it exited.
    public var uss: Int { privateClean + privateDirty }

    /// Parses the rollup: a header line like maps, then `Key:  N kB` lines.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> ProcessMemory {
        var memory = ProcessMemory()
        var scanner = ByteScanner(bytes)
        while !scanner.isAtEnd {
            let line = scanner.line()
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            let key = line[line.startIndex..<colon]
            var value = ByteScanner(UnsafeBufferPointer(rebasing: line[(colon + 1)...]))
            guard let bytes = value.kibibytes() else { continue }
            switch key.count {
            case 3 where key.elementsEqual("Rss".utf8): memory.rss = bytes
            case 3 where key.elementsEqual("Pss".utf8): memory.pss = bytes
            case 4 where key.elementsEqual("Swap".utf8): memory.swap = bytes
            case 7 where key.elementsEqual("SwapPss".utf8): memory.swapPss = bytes
            case 8 where key.elementsEqual("Pss_Anon".utf8): memory.pssAnon = bytes
            case 8 where key.elementsEqual("Pss_File".utf8): memory.pssFile = bytes
            case 9 where key.elementsEqual("Pss_Shmem".utf8): memory.pssShmem = bytes
            case 13 where key.elementsEqual("Private_Clean".utf8): memory.privateClean = bytes
            case 13 where key.elementsEqual("Private_Dirty".utf8): memory.privateDirty = bytes
            default: break
            }
        }
        return memory
    }
}

/// The lines of /proc/PID/status that say whose a process is and whether it has
/// memory of its own (fs/proc/array.c, proc_pid_status).
public struct ProcessIdentity: Sendable, Equatable {
    /// `Name:`, the comm, with the kernel's escapes undone (proc_task_name escapes
    /// `\n`, `\t`, … and `\\`).
    public var name = ""
    public var realUID: UInt32 = 0
    public var effectiveUID: UInt32 = 0
    /// The thread-group id: differs from the pid read for a thread (/proc/TID is readable).
    public var tgid: Int32 = 0
    /// Whether a `VmSize:` line is there: kernel threads and zombies have no mm, hence none.
    public var hasMemory = false

    public init() {}

    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> ProcessIdentity {
        var identity = ProcessIdentity()
        var scanner = ByteScanner(bytes)
        while !scanner.isAtEnd {
            var line = ByteScanner(UnsafeBufferPointer(rebasing: scanner.line()))
            if line.hasPrefix("Name:") {
                line.index += 5
                line.skipSpaces()
                identity.name = unescape(line.bytes[line.index...])
            } else if line.hasPrefix("Tgid:") {
                line.index += 5
                identity.tgid = Int32(clamping: line.unsignedDecimal() ?? 0)
            } else if line.hasPrefix("Uid:") {
                line.index += 4
                identity.realUID = UInt32(clamping: line.unsignedDecimal() ?? 0)
                identity.effectiveUID = UInt32(clamping: line.unsignedDecimal() ?? 0)
            } else if line.hasPrefix("VmSize:") {
                identity.hasMemory = true
                break  // Name, Tgid and Uid come before the Vm lines.
            }
        }
        return identity
    }

    static func unescape(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> String {
        guard bytes.contains(UInt8(ascii: "\\")) else { return String(bytes) }
        var out: [UInt8] = []
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            index += 1
            guard byte == UInt8(ascii: "\\"), index < bytes.endIndex else {
                out.append(byte)
                continue
            }
            let next = bytes[index]
            index += 1
            switch next {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "v"): out.append(0x0B)
            case UInt8(ascii: "a"): out.append(0x07)
            case UInt8(ascii: "e"): out.append(0x1B)
            default: out.append(next)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// A process's cgroup in one hierarchy, from /proc/PID/cgroup
/// (kernel/cgroup/cgroup.c, proc_cgroup_show): `0::/path` for v2,
/// `N:ctrl,ctrl:/path` for each v1 hierarchy.
public enum CgroupMembership {
    /// The path in the v2 hierarchy (`controller` nil) or in the v1 hierarchy that
    /// holds `controller`; nil when the file has no such line.
    public static func path(_ bytes: UnsafeBufferPointer<UInt8>, controller: String?) -> String? {
        var scanner = ByteScanner(bytes)
        let wanted = controller.map { Array($0.utf8) }
        while !scanner.isAtEnd {
            let line = scanner.line()
            guard let first = line.firstIndex(of: UInt8(ascii: ":")),
                let second = line[(first + 1)...].firstIndex(of: UInt8(ascii: ":"))
            else { continue }
            let controllers = line[(first + 1)..<second]
            let matches: Bool
            if let wanted {
                matches = controllers.split(separator: UInt8(ascii: ",")).contains { $0.elementsEqual(wanted) }
            } else {
                matches = controllers.isEmpty && line[line.startIndex..<first].elementsEqual("0".utf8)
            }
            if matches { return String(line[(second + 1)...]) }
        }
        return nil
    }
}

extension ProcessFiles {
    /// /proc/PID/smaps_rollup as ``ProcessMemory``. ESRCH for a kernel thread.
    public mutating func processMemory() throws(ProcError) -> ProcessMemory {
        try parse("smaps_rollup") { bytes in ProcessMemory.parse(bytes) }
    }

    /// /proc/PID/status as ``ProcessIdentity``.
    public mutating func identity() throws(ProcError) -> ProcessIdentity {
        try parse("status") { bytes in ProcessIdentity.parse(bytes) }
    }

    /// /proc/PID/comm: the name as status's `Name:` shows it once unescaped (comm_show prints it
    /// raw, proc_task_name without escaping, then `\n`) at a tenth of status's cost.
    public mutating func command() throws(ProcError) -> String {
        try parse("comm") { bytes in
            let end = bytes.last == 0x0A ? bytes.endIndex - 1 : bytes.endIndex
            return String(decoding: bytes[bytes.startIndex..<end], as: UTF8.self)
        }
    }

    /// The process's effective uid, as status's second `Uid:` field: the owner of /proc/PID
    /// (fs/proc/base.c, task_dump_owner gives directories the effective uid whether the task is
    /// dumpable or not), read with fstat(2) on the directory descriptor.
    public func effectiveUID() throws(ProcError) -> UInt32 {
        var info = Glibc.stat()
        guard fstat(directory, &info) == 0 else { throw ProcFile.error("\(root)/\(pid)", errno) }
        return info.st_uid
    }

    /// The process's path in a cgroup hierarchy (see ``CgroupMembership``).
    public mutating func cgroup(controller: String?) throws(ProcError) -> String? {
        try parse("cgroup") { bytes in CgroupMembership.path(bytes, controller: controller) }
    }

    /// /proc/PID/cmdline as smem shows it: the arguments joined by spaces; empty for
    /// kernel threads and zombies.
    public mutating func commandLine() throws(ProcError) -> String {
        try parse("cmdline") { bytes in
            var end = bytes.endIndex
            if end > bytes.startIndex, bytes[end - 1] == 0 { end -= 1 }
            let text = bytes[bytes.startIndex..<end].map { $0 == 0 ? UInt8(ascii: " ") : $0 }
            return String(decoding: text, as: UTF8.self)
        }
    }
}
