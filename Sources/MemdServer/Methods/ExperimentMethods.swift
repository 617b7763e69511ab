import Experiments
import JSONRPC
import MemdProtocol

#if canImport(Glibc)
import Glibc
#endif

enum ExperimentMethods {
    /// One runner for the server: it counts the experiments running at once.
    static func runner(config: ServerConfig) -> ExperimentRunner {
        ExperimentRunner(
            helperPath: config.helperPath ?? defaultHelperPath(),
            limits: ExperimentLimits(
                maxConcurrent: config.maxExperiments,
                maxPerUID: config.maxExperimentsPerUID,
                timeout: .milliseconds(Int(config.experimentTimeoutSeconds * 1000))
            )
        )
    }

    static func register(into table: inout MethodTable<CallContext>, config: ServerConfig) {
        let runner = runner(config: config)
        table.async(RunExperimentMethod.self) { request, context in
            let requestID = context.requestID
            let client = ClientIdentity(uid: context.peer.uid, gid: context.peer.gid)
            config.health?.experimentStarted()
            defer { config.health?.experimentFinished() }
            return try await runner.experiment(request, client: client) { progress in
                var params = progress.objectValue ?? [:]
                params.members.insert(("requestId", requestID), at: 0)
                context.notify(RunExperimentMethod.progressNotification, .object(params))
            }
        }
    }

    /// memlab beside memd (a build tree: `.build/<config>/`), else where the package installs it
    /// for /usr/sbin/memd: `<prefix>/libexec/memd/memlab`.
    static func defaultHelperPath() -> String {
        let beside = besideExecutable("memlab")
        if access(beside, X_OK) == 0 { return beside }
        let packaged = besideExecutable("../libexec/memd/memlab")
        return access(packaged, X_OK) == 0 ? packaged : beside
    }

    /// A file in the directory of the running executable (/proc/self/exe).
    static func besideExecutable(_ name: String) -> String {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return name }
        let path = String(decoding: buffer[..<count], as: UTF8.self)
        guard let slash = path.lastIndex(of: "/") else { return name }
        return String(path[..<slash]) + "/" + name
    }
}
