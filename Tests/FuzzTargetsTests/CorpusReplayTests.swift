import Foundation
import FuzzTargets
import JSONRPC
import Testing

/// Fuzz/Corpus, the seed inputs (real captures) and every input a fuzzer found crashing (the
/// regression inputs, `crash-*`), replayed through the same target bodies libFuzzer runs:
/// CI proves the corpora in seconds, without a fuzzer build.
@Suite struct CorpusReplayTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz/Corpus")

    static func files(_ target: FuzzTarget) -> [String] {
        let dir = corpus.appendingPathComponent(target.name)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.sorted().map { dir.appendingPathComponent($0).path }
    }

    @Test(arguments: FuzzTarget.all.map(\.name))
    func everyCorpusFileRuns(_ name: String) throws {
        let target = try #require(FuzzTarget.named(name))
        let files = Self.files(target)
        #expect(!files.isEmpty, "Fuzz/Corpus/\(name) has no seed")
        for path in files {
            // A trap here ends the test process; the file is the one named last.
            target(try FuzzFile.read(path))
        }
        // And the empty input, and one of every byte.
        target([])
        for byte in UInt8.min...UInt8.max { target([byte]) }
    }

    @Test func everyCorpusFolderNamesATarget() throws {
        let folders = try FileManager.default.contentsOfDirectory(atPath: Self.corpus.path)
        #expect(Set(folders).subtracting(FuzzTarget.all.map(\.name)).isEmpty)
    }

    /// The params and results targets know every method openrpc.json lists.
    @Test func everyMethodIsFuzzed() throws {
        let path = Self.corpus.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Protocol/openrpc.json")
        let document = try JSONParser.parse(Array(try Data(contentsOf: path)))
        let names = try #require(document["methods"]?.arrayValue).compactMap { $0["name"]?.stringValue }
        #expect(Set(names) == Set(FuzzTarget.methods.map { $0.name }))
    }
}
