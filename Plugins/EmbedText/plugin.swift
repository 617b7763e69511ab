import Foundation
import PackagePlugin

/// Compiles a target's text files into the target as string constants, so the
/// program serves them without a resource bundle (and without Foundation):
///
/// - `openrpc.json` becomes `openRPCText` (memd's `rpc.discover`);
/// - every file under `Assets/` becomes an entry of `assetTexts`, keyed by its
///   path below `Assets/` (the lab of `memctl web`).
///
/// The target excludes what is embedded (`exclude:` in Package.swift), so
/// nothing is copied twice.
@main
struct EmbedText: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        guard let target = target as? SourceModuleTarget else { return [] }
        let tool = try context.tool(named: "embed-text").url
        let files = FileManager.default
        var commands: [Command] = []
        let document = target.directoryURL.appending(path: "openrpc.json")
        if files.fileExists(atPath: document.path) {
            let output = context.pluginWorkDirectoryURL.appending(path: "OpenRPCText.swift")
            commands.append(
                .buildCommand(
                    displayName: "Embedding \(document.lastPathComponent) in \(target.name)",
                    executable: tool,
                    arguments: ["--string", "openRPCText", output.path, document.path],
                    inputFiles: [document],
                    outputFiles: [output]
                )
            )
        }
        let assets = target.directoryURL.appending(path: "Assets")
        var isDirectory: ObjCBool = false
        if files.fileExists(atPath: assets.path, isDirectory: &isDirectory), isDirectory.boolValue,
            let walk = files.enumerator(at: assets, includingPropertiesForKeys: [.isRegularFileKey])
        {
            let inputs = walk.compactMap { $0 as? URL }
                .filter { (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true }
                .sorted { $0.path < $1.path }
            let output = context.pluginWorkDirectoryURL.appending(path: "AssetTexts.swift")
            commands.append(
                .buildCommand(
                    displayName: "Embedding \(inputs.count) files of Assets/ in \(target.name)",
                    executable: tool,
                    arguments: ["--table", "assetTexts", output.path, assets.path] + inputs.map(\.path),
                    inputFiles: inputs,
                    outputFiles: [output]
                )
            )
        }
        return commands
    }
}
