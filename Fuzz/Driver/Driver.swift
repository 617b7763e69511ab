// memd-fuzz: one driver for every target in Fuzz/Targets.
//
// Built by scripts/fuzz with -D FUZZING, libFuzzer and ASan, it is a libFuzzer binary:
// `MEMD_FUZZ_TARGET=maps memd-fuzz [libFuzzer flags] CORPUS...`. In the ordinary build it replays
// files: `memd-fuzz TARGET FILE...` runs the target on each (what FuzzTargetsTests does in-process).
import FuzzTargets

#if canImport(Glibc)
import Glibc
#endif

#if FUZZING
/// The target named by MEMD_FUZZ_TARGET, looked up once.
let selected: FuzzTarget = {
    let name = getenv("MEMD_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = FuzzTarget.named(name) else {
        print("memd-fuzz: set MEMD_FUZZ_TARGET to one of: \(FuzzTarget.all.map(\.name).joined(separator: " "))")
        exit(2)
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    selected.body(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
    return 0
}

/// libFuzzer's entry for a program with a main of its own (SwiftPM links every executable's main
/// itself, so libFuzzer's `main` is never the one taken).
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzer(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt
#endif

@main enum Driver {
    static func main() {
        #if FUZZING
        _ = selected
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runFuzzer(&argc, &argv, fuzzOneInput))
        #else
        replay()
        #endif
    }

    /// `memd-fuzz TARGET FILE...`: each file through the target, as libFuzzer's replay does.
    static func replay() {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = FuzzTarget.named(name) else {
            print("usage: memd-fuzz TARGET FILE...   (targets: \(FuzzTarget.all.map(\.name).joined(separator: " ")))")
            exit(2)
        }
        for path in arguments.dropFirst() {
            guard let bytes = try? FuzzFile.read(path) else {
                print("memd-fuzz: cannot read \(path)")
                exit(1)
            }
            target(bytes)
        }
    }
}
