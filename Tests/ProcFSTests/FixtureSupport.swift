import Foundation

/// Bytes of a captured /proc file in Fixtures/.
func fixture(_ name: String) throws -> [UInt8] {
    guard let url = Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil) else {
        throw CocoaError(.fileNoSuchFile)
    }
    return Array(try Data(contentsOf: url))
}

/// Lines of a captured /proc file, as text.
func fixtureLines(_ name: String) throws -> [Substring] {
    String(decoding: try fixture(name), as: UTF8.self).split(separator: "\n")
}
