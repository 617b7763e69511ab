/// One fuzz target: a name (its seed corpus is `Fuzz/Corpus/<name>/`) and a body that takes
/// any bytes from outside memd and must never trap, leak or read out of bounds.
///
/// libFuzzer runs a body through `memd-fuzz` (`scripts/fuzz`); the debug build replays every
/// corpus file through the same body (`FuzzTargetsTests`), so CI checks the corpora in seconds.
public struct FuzzTarget: Sendable {
    public let name: String
    public let body: @Sendable (UnsafeRawBufferPointer) -> Void

    public init(_ name: String, _ body: @escaping @Sendable (UnsafeRawBufferPointer) -> Void) {
        self.name = name
        self.body = body
    }

    /// Runs the body on `bytes`.
    public func callAsFunction(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { body($0) }
    }

    /// Every target, one per parser that takes bytes from outside.
    public static let all: [FuzzTarget] = [
        .json, .envelope, .framing, .params,
        .meminfo, .vmstat, .maps, .smaps, .smapsRollup, .stat, .status, .statm, .pressure,
        .cgroupMembership, .cgroupFiles,
        .metricsHead, .results, .mmu,
    ]

    public static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }
}

extension UnsafeRawBufferPointer {
    /// The bytes as the `UnsafeBufferPointer<UInt8>` the ProcFS parsers read.
    var uint8: UnsafeBufferPointer<UInt8> { assumingMemoryBound(to: UInt8.self) }
}

/// A structure-aware target's choices, read from the fuzz input: each call consumes bytes,
/// and an exhausted input reads as zeros, so every input is a valid (finite) program.
struct FuzzInput {
    private let bytes: UnsafeRawBufferPointer
    private var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var isExhausted: Bool { offset >= bytes.count }

    mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// Eight bytes, little-endian (fewer at the end of the input).
    mutating func uint64() -> UInt64 {
        var value: UInt64 = 0
        for shift in stride(from: 0, to: 64, by: 8) { value |= UInt64(byte()) << UInt64(shift) }
        return value
    }

    /// A number in 0..<count (count > 0).
    mutating func below(_ count: Int) -> Int { Int(byte()) % count }

    mutating func pick<T>(_ values: [T]) -> T { values[below(values.count)] }

    mutating func chance(_ percent: Int) -> Bool { Int(byte()) % 100 < percent }
}
