// memd-fuzz: one driver for every target in Fuzz/Targets.
//
// Built by scripts/fuzz with `-sanitize=fuzzer,address -parse-as-library -D FUZZING`, it is a
// libFuzzer binary: `MEMD_FUZZ_TARGET=maps memd-fuzz Fuzz/Corpus/maps` (libFuzzer's flags after).
// In the ordinary build it replays files: `memd-fuzz TARGET FILE...` runs the target on each.
import FuzzTargets

#if canImport(Glibc)
import Glibc
#endif

#if FUZZING
/// The target named by MEMD_FUZZ_TARGET, looked up once.
let selected: FuzzTarget = {
    let name = getenv("MEMD_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = FuzzTarget.named(name) else {
        fputs(
            "memd-fuzz: set MEMD_FUZZ_TARGET to one of: \(FuzzTarget.all.map(\.name).joined(separator: " "))\n",
            stderr
        )
        exit(2)
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    selected.body(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
    return 0
}
#else
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
#endif
