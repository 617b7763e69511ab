#if canImport(Glibc)
import Glibc
#endif

/// The lab's secret: 128 random bits per run of `memctl web`, in hex.
///
/// Whoever holds it may use memd with the rights of the user who started the
/// lab, so it is compared in constant time and never logged.
public struct LabToken: Sendable, Equatable, CustomStringConvertible {
    public let text: String

    /// A new token from the kernel's random source (getrandom(2), through
    /// `SystemRandomNumberGenerator`).
    public init() {
        var generator = SystemRandomNumberGenerator()
        let words = [generator.next(), generator.next()] as [UInt64]
        text = words.map { word in
            let hex = String(word, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    /// A known token (tests).
    public init(text: String) { self.text = text }

    /// Whether `candidate` is the token: every byte compared whatever differs first,
    /// so the time taken says nothing about how much of a guess was right.
    public func matches<S: StringProtocol>(_ candidate: S) -> Bool {
        let expected = Array(text.utf8)
        let given = Array(candidate.utf8)
        var difference = UInt8(truncatingIfNeeded: expected.count ^ given.count)
        if expected.count != given.count { difference |= 1 }
        for index in expected.indices {
            difference |= expected[index] ^ (index < given.count ? given[index] : 0)
        }
        return difference == 0
    }

    public var description: String { "LabToken(…)" }
}
