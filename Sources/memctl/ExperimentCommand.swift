import ArgumentParser
import JSONRPC
import MemdProtocol

/// `memctl experiment NAME`: runs one of the seed's experiments with a progress
/// bar, then shows the result as a person would draw it.
struct ExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Run an experiment: segv, mmap, malloc, filemap, demandPaging, cow, vmExhaustion, oom."
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The experiment.") var name: String
    @Option(name: .long, help: "Size, e.g. 100M, 1G, 65536 (default 100M).") var size: String?
    @Option(name: .long, help: "Step for demandPaging samples, e.g. 10M (default 10M).") var step: String?
    @Option(name: .long, help: "real (default), sim, or both.") var backend: String?
    @Flag(name: .long, help: "Allow transparent huge pages (default: 4 KiB pages, as in the seed).") var huge = false
    @Flag(name: .long, help: "Print the result as JSON instead of the view.") var json = false

    func validate() throws {
        guard let experiment = ExperimentName(rawValue: name) else {
            throw ValidationError(
                "no experiment '\(name)'; the experiments: "
                    + ExperimentName.allCases.map(\.rawValue).joined(separator: ", ")
            )
        }
        if size != nil, !experiment.takesSize {
            throw ValidationError("--size: the \(name) experiment has no size (it touches one unmapped page)")
        }
        if step != nil, !experiment.takesStep {
            let stepped = ExperimentName.allCases.filter(\.takesStep).map(\.rawValue).joined(separator: ", ")
            throw ValidationError("--step: the \(name) experiment has no steps (only \(stepped) do)")
        }
    }

    func run() throws {
        var object: JSONObject = ["name": .string(name), "progress": true]
        if let size { object["sizeBytes"] = .int(try ExperimentCommand.bytes(size, option: "--size")) }
        if let step { object["stepBytes"] = .int(try ExperimentCommand.bytes(step, option: "--step")) }
        if let backend { object["backend"] = .string(backend) }
        if huge { object["hugePages"] = true }
        let showProgress = isatty(STDERR_FILENO) == 1
        let result = try global.session { client in
            try client.call(RunExperimentMethod.self, try RunExperimentMethod.params(object)) { method, progress in
                guard method == RunExperimentMethod.progressNotification else { return }
                if showProgress { standardErrorRaw("\r\u{1B}[K" + renderExperimentProgress(progress, width: 30)) }
            }
        }
        if showProgress { standardErrorRaw("\r\u{1B}[K") }
        if json { printJSON(result.json) } else { print(renderExperiment(result)) }
    }

    /// `100M`, `1G`, `4K`, `65536`: binary units, as dd and the seed use them.
    static func bytes(_ text: String, option: String) throws -> Int {
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        var digits = text.uppercased()
        if digits.hasSuffix("IB") { digits.removeLast(2) } else if digits.hasSuffix("B") { digits.removeLast() }
        var scale = 1
        if let last = digits.last, let unit = units[last] {
            scale = unit
            digits.removeLast()
        }
        guard let value = Int(digits) else {
            throw ValidationError("\(option) must be a size like 100M, 1G or 65536, not '\(text)'")
        }
        guard value > 0 else { throw ValidationError("\(option) must be more than 0 bytes, not '\(text)'") }
        guard case (let bytes, false) = value.multipliedReportingOverflow(by: scale) else {
            throw ValidationError("\(option) '\(text)' is too large: more than \(Int.max) bytes")
        }
        return bytes
    }
}

func standardErrorRaw(_ text: String) {
    let bytes = Array(text.utf8)
    _ = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
}

#if canImport(Glibc)
import Glibc
#endif
