/// LLVM's `llvm.prefetch` intrinsic (x86 `prefetcht0` with these arguments), reached by its symbol name:
/// the standard library has no prefetch, and the MMU module imports nothing. The name is the intrinsic's
/// for opaque pointers (LLVM 15 and later); were it renamed, linking would fail on an undefined symbol.
@_silgen_name("llvm.prefetch.p0")
private func llvmPrefetch(_ address: UnsafeRawPointer, _ write: Int32, _ locality: Int32, _ cacheType: Int32)

/// Asks the CPU to bring the cache line holding `address` into every cache level, for a read soon.
/// A hint: it never faults, whatever the address, and changes nothing the program can see.
/// Nothing under ThreadSanitizer (MEMD_NO_PREFETCH, Package.swift): it makes the call an invoke, which
/// LLVM refuses for an intrinsic ("Cannot invoke an intrinsic"), and the build fails.
@inline(__always) func prefetch(_ address: UnsafeRawPointer) {
    #if !MEMD_NO_PREFETCH
    llvmPrefetch(address, 0, 3, 1)
    #endif
}
