import PackagePlugin

/// Compiles the target's openrpc.json into the target as a string constant,
/// so memd serves the document without a resource bundle (and without Foundation).
@main
struct EmbedOpenRPC: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        guard let target = target as? SourceModuleTarget else { return [] }
        let input = target.directoryURL.appending(path: "openrpc.json")
        let output = context.pluginWorkDirectoryURL.appending(path: "OpenRPCText.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(input.lastPathComponent) in \(target.name)",
                executable: try context.tool(named: "embed-json").url,
                arguments: [input.path, output.path],
                inputFiles: [input],
                outputFiles: [output]
            )
        ]
    }
}
