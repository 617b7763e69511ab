import ArgumentParser
import MemdProtocol
import MemdWeb

#if canImport(Glibc)
import Glibc
#endif

/// `memctl web`: the memory lab in a browser. The server runs here, in memctl,
/// as the user who started it; each page's WebSocket is one connection of
/// memctl to memd's socket.
struct WebCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "web",
        abstract: "Serve the memory lab (host, processes, address spaces, translation, experiments, cgroups).",
        discussion: """
            Prints one line, the lab's address with a new token: only whoever has it may use the lab, \
            with your rights on memd. Loopback by default; from another machine use `ssh -L 8731:127.0.0.1:8731 HOST`.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "Where to listen: HOST:PORT ([::1]:PORT for IPv6; port 0: any free one).")
    var listen: String = "127.0.0.1:8731"
    @Flag(name: .long, help: "Also open the lab in a browser (xdg-open).") var open = false

    func run() throws {
        let address: ListenAddress
        do {
            address = try ListenAddress(parsing: listen)
        } catch {
            throw ValidationError("--listen: \(error)")
        }
        let server: LabServer
        do {
            server = try LabServer(options: LabOptions(listen: address, socketPath: global.path))
        } catch {
            standardError("memctl web: cannot listen on \(address): \(error)")
            throw ExitCode(1)
        }
        if !server.isLoopback {
            standardError(
                "memctl web: warning: listening on \(server.address), not loopback: the lab has no TLS, "
                    + "so its token and figures cross the network in clear (prefer ssh -L, or a TLS proxy)"
            )
        }
        // The lab starts anyway (its page waits for memd and says so); the note saves a puzzled look.
        do {
            close(try MemdClient.connectedSocket(path: global.path))
        } catch {
            standardError("memctl web: memd is not reachable yet (\(error)); the page will connect when it is")
        }
        print("memd lab: \(server.url)")
        fflush(nil)
        if open { openBrowser(server.url) }
        try server.wait()
    }

    private func openBrowser(_ url: String) {
        var pid = pid_t()
        let arguments = ["xdg-open", url]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        if posix_spawnp(&pid, "xdg-open", nil, nil, &argv, environ) != 0 {
            standardError("memctl web: could not run xdg-open; open the address above yourself")
        }
    }
}
