import ArgumentParser
import JSONRPC
import MemdProtocol

#if canImport(Glibc)
import Glibc
#endif

/// memctl: the thin client. `call` speaks the protocol; the views only format
/// what memd returns.
@main
struct Memctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memctl",
        abstract: "Talks to memd: any method by name, or views that read like free, pmap, ps and sar.",
        discussion:
            "Exit status: 0 ok, 1 memd answered an error, 2 usage, 3 cannot connect to memd (or the server is not root or you).",
        subcommands: [
            CallCommand.self, MethodsCommand.self, FreeCommand.self, MapsCommand.self, PsCommand.self,
            SarCommand.self, ExperimentCommand.self, TranslateCommand.self, SimCommand.self,
            SmemCommand.self, CgroupsCommand.self, WatchCommand.self, RunCommand.self, WssCommand.self,
            PageTypesCommand.self, WebCommand.self,
        ]
    )

    @OptionGroup var global: GlobalOptions

    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let exit as ExitCode {
            Memctl.exit(withError: exit)
        } catch {
            let code = exitCode(for: error)
            if code == .success || code == .failure && error is CleanExit {
                Memctl.exit(withError: error)
            }
            // Usage errors: the message ArgumentParser writes, and the contract's exit 2.
            if code == .validationFailure || code.rawValue == 64 {
                standardError(fullMessage(for: error))
                Glibc.exit(2)
            }
            Memctl.exit(withError: error)
        }
    }
}

/// `--socket PATH`, accepted before or after the command.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long,
        help:
            "memd's socket (default: $MEMD_SOCKET, $XDG_RUNTIME_DIR/memd.sock, /run/memd.sock for root, /tmp/memd-<uid>.sock then /run/memd.sock for others)."
    )
    var socket: String?

    var path: String { SocketPath.forClient(explicit: socket) }

    /// Runs `body` with a connected client, turning failures into the contract's exit codes.
    func session<T>(_ body: (MemdClient) throws -> T) throws -> T {
        let client: MemdClient
        do {
            client = try MemdClient(path: path)
        } catch {
            switch error {
            case .cannotConnect(let path, let reason):
                standardError("memctl: cannot connect to memd at \(path): \(reason)")
                standardError("hint: start it with `memd --socket \(path)` (or `swift run memd`), or pass --socket")
            case .untrustedServer(let path, let uid):
                standardError("memctl: the server at \(path) runs as uid \(uid), not root or you")
            default:
                standardError("memctl: \(error)")
            }
            throw ExitCode(3)
        }
        do {
            return try body(client)
        } catch let failure as MemdClient.Failure {
            switch failure {
            case .server(let error):
                standardError("error \(error.code.rawValue) \(error.kind): \(error.message)")
            case .connectionLost(let reason):
                standardError("memctl: \(reason)")
            case .unexpectedResult:
                standardError("memctl: \(failure)")
            case .cannotConnect, .untrustedServer:
                standardError("memctl: \(failure)")
                throw ExitCode(3)
            }
            throw ExitCode(1)
        }
    }
}

func standardError(_ text: String) {
    var line = text
    if !line.hasSuffix("\n") { line += "\n" }
    let bytes = Array(line.utf8)
    _ = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
}

var isTerminal: Bool { isatty(STDOUT_FILENO) == 1 }

/// Prints JSON: pretty on a terminal, one line otherwise.
func printJSON(_ json: JSON) {
    print(isTerminal ? Format.pretty(json) : JSONWriter.string(json))
}
