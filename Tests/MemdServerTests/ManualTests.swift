import Foundation
import JSONRPC
import Testing

/// service.md §3: the manual pages (packaging/man) say every option and subcommand the argument
/// parsers have, and nothing they do not have, and groff renders them without a warning.
///
/// The parsers' own account is `--experimental-dump-help` (swift-argument-parser's ToolInfo JSON):
/// every command, subcommand and argument with its names. A page lists a command's options as
/// `.TP` tags under the command's `.SH`/`.SS` heading, so an option added to the code and not to
/// the page, or left on the page after it left the code, fails here.
@Suite struct ManualTests {
    static let manualDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("packaging/man")

    /// One command of the parser's tree: its full name ("memctl sim create") and option names.
    struct Command {
        let name: String
        let options: Set<String>
    }

    /// Every command of `executable`'s tree, from its `--experimental-dump-help`.
    static func commands(of executable: String) throws -> [Command] {
        let dump = try run(productsDirectory.appendingPathComponent(executable).path, ["--experimental-dump-help"])
        let tree = try JSONParser.parse(Array(dump.out.utf8))
        var found: [Command] = []
        func walk(_ command: JSON, prefix: String) {
            let name = prefix.isEmpty ? command["commandName"]?.stringValue ?? "" : prefix
            var options: Set<String> = []
            for argument in command["arguments"]?.arrayValue ?? [] {
                // Hidden arguments (generate-completion-script and the like) are not the page's.
                guard argument["shouldDisplay"]?.boolValue != false else { continue }
                // --help and --version are every command's: the page lists them once, for the command itself.
                let longNames = (argument["names"]?.arrayValue ?? []).filter { $0["kind"]?.stringValue == "long" }
                if !prefix.isEmpty,
                    longNames.contains(where: { ["help", "version"].contains($0["name"]?.stringValue ?? "") })
                {
                    continue
                }
                for spelling in argument["names"]?.arrayValue ?? [] {
                    guard let kind = spelling["kind"]?.stringValue, let text = spelling["name"]?.stringValue else {
                        continue
                    }
                    options.insert(kind == "short" ? "-" + text : "--" + text)
                }
            }
            // The parser's own, hidden from --help but documented: completion scripts.
            if prefix.isEmpty { options.insert("--generate-completion-script") }
            found.append(Command(name: name, options: options))
            for sub in command["subcommands"]?.arrayValue ?? [] {
                if let subName = sub["commandName"]?.stringValue, subName != "help" {
                    walk(sub, prefix: name + " " + subName)
                }
            }
        }
        guard let root = tree["command"] else { throw HarnessError.commandFailed("no command in \(dump.out)") }
        walk(root, prefix: "")
        return found
    }

    /// A page's text split at headings, with `\-` as `-`: heading → the option tags under it.
    /// A heading is `.SH` or `.SS` text; an option tag is the line after `.TP` starting with `-`.
    static func optionTags(in page: String) -> [String: Set<String>] {
        var sections: [String: Set<String>] = [:]
        var heading = ""
        var afterTP = false
        for raw in page.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.replacingOccurrences(of: "\\-", with: "-").replacingOccurrences(of: "\\fB", with: "")
                .replacingOccurrences(of: "\\fR", with: "").replacingOccurrences(of: "\\fI", with: "")
                .replacingOccurrences(of: "\\fP", with: "")
            if line.hasPrefix(".SH ") || line.hasPrefix(".SS ") {
                heading = String(line.dropFirst(4)).replacingOccurrences(of: "\"", with: "")
                sections[heading, default: []] = []
                afterTP = false
                continue
            }
            if line.hasPrefix(".TP") {
                afterTP = true
                continue
            }
            if afterTP {
                afterTP = false
                let tag =
                    line.hasPrefix(".B ") || line.hasPrefix(".BI ") || line.hasPrefix(".BR ")
                    ? String(line.drop { $0 != " " }.dropFirst()) : line
                for token in tag.split(whereSeparator: { " ,\"=[]".contains($0) }) where token.hasPrefix("-") {
                    // A short flag given twice (pmap's -XX) is that flag, counted.
                    let letters = token.dropFirst()
                    let twice = letters.count == 2 && letters.first != "-" && Set(letters).count == 1
                    sections[heading, default: []].insert(twice ? String(token.dropLast()) : String(token))
                }
            }
        }
        return sections
    }

    static func page(_ name: String) throws -> String {
        try String(contentsOf: manualDirectory.appendingPathComponent(name), encoding: .utf8)
    }

    @Test func memdPageListsEveryOption() throws {
        let commands = try Self.commands(of: "memd")
        let memd = try #require(commands.first)
        #expect(memd.options.count > 20, "the parser's options: \(memd.options)")
        let tags = Self.optionTags(in: try Self.page("memd.8"))
        let listed = tags["OPTIONS"] ?? []
        #expect(memd.options.subtracting(listed).sorted() == [], "in memd --help, missing from memd.8")
        #expect(listed.subtracting(memd.options).sorted() == [], "in memd.8, not an option of memd")
    }

    @Test func memctlPageListsEveryCommandAndOption() throws {
        let commands = try Self.commands(of: "memctl")
        #expect(commands.count > 10, "\(commands.map(\.name))")
        let tags = Self.optionTags(in: try Self.page("memctl.1"))
        let global = commands.first?.options ?? []
        for command in commands {
            // The root's options are the page's OPTIONS; each subcommand has its own heading.
            let heading = command.name == "memctl" ? "OPTIONS" : command.name
            guard let listed = tags[heading] else {
                Issue.record("memctl.1 has no heading \"\(heading)\"")
                continue
            }
            let own = command.options.subtracting(command.name == "memctl" ? [] : global)
            #expect(own.subtracting(listed).sorted() == [], "\(command.name): in --help, missing from memctl.1")
            #expect(listed.subtracting(command.options).sorted() == [], "\(command.name): in memctl.1, not an option")
        }
        let pageCommands = Set(tags.keys.filter { $0.hasPrefix("memctl ") })
        let parserCommands = Set(commands.map(\.name))
        #expect(pageCommands.subtracting(parserCommands).sorted() == [], "commands in memctl.1 that memctl lacks")
    }

    /// `man --warnings -l` (groff -ww) renders each page without a single warning.
    @Test(arguments: ["memd.8", "memctl.1"])
    func rendersWithoutWarnings(page: String) throws {
        let path = Self.manualDirectory.appendingPathComponent(page).path
        var environment = ProcessInfo.processInfo.environment
        environment["MANWIDTH"] = "80"
        let result = try run("man", ["--warnings", "-E", "UTF-8", "-l", path], environment: environment)
        #expect(result.status == 0)
        #expect(result.err.isEmpty, "\(page): \(result.err)")
        for section in ["OPTIONS", "FILES", "SIGNALS", "EXIT STATUS", "SECURITY", "EXAMPLES", "SEE ALSO"] {
            #expect(result.out.contains("\n" + section + "\n"), "\(page) lacks \(section)")
        }
        for reference in ["free(1)", "pmap(1)", "sar(1)", "smem(8)", "proc(5)"] {
            #expect(result.out.contains(reference), "\(page)'s SEE ALSO lacks \(reference)")
        }
    }
}
