import JSONRPC
import MemdProtocol
import ProcFS

/// The `meminfo` result's text from a fresh read of /proc/meminfo and /proc/pressure/memory, parsed
/// and encoded again only when the kernel's text differs from the last read's.
///
/// The kernel folds its per-CPU counters into the figures /proc/meminfo prints about once a second
/// (or past a threshold), so reads a few milliseconds apart are mostly the same bytes: a byte
/// compare (~1.7 KB) then stands for the parse of ~55 lines and the writing of ~1.9 KB of JSON.
/// Every call still reads both files.
struct MeminfoText {
    let meminfoPath: String
    let pressurePath: String
    private var file = ProcFile(capacity: 8 * 1024)
    /// Both files' bytes as read now, and as last parsed (meminfo's, then pressure's).
    private var current: [UInt8] = []
    private var parsed: [UInt8] = []
    private var json: JSON?

    init(meminfoPath: String = "/proc/meminfo", pressurePath: String = ProcMethods.pressurePath) {
        (self.meminfoPath, self.pressurePath) = (meminfoPath, pressurePath)
    }

    /// The result's text for what the kernel shows now.
    mutating func read() throws(HostReadError) -> JSON {
        current.removeAll(keepingCapacity: true)
        do {
            try file.read(meminfoPath)
        } catch {
            throw HostReadError(error)
        }
        file.withBytes { current.append(contentsOf: $0) }
        let meminfoEnd = current.count
        let hasPressure = ProcMethods.readPressure(pressurePath, into: &file)
        if hasPressure { file.withBytes { current.append(contentsOf: $0) } }
        if let json, current == parsed { return json }

        let text: JSON
        do {
            text = try current.withUnsafeBufferPointer { all throws(ProcError) -> JSON in
                let meminfo = try Meminfo.parse(UnsafeBufferPointer(rebasing: all[..<meminfoEnd]))
                var result = MeminfoResult(meminfo, source: .proc)
                let pressure = UnsafeBufferPointer(rebasing: all[meminfoEnd...])
                result.pressure = .some(hasPressure ? try Pressure.parse(pressure, path: pressurePath) : nil)
                return result.json
            }
        } catch {
            throw HostReadError(error)
        }
        swap(&current, &parsed)
        json = text
        return text
    }
}
