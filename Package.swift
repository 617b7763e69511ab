// swift-tools-version:6.1
import PackageDescription

/// This manifest's directory: memlab's linker script is found from it, wherever the build runs.
let packageRoot = String(#filePath.dropLast("/Package.swift".count))

let package = Package(
    name: "memd",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "memd", targets: ["memd"]),
        .executable(name: "memctl", targets: ["memctl"]),
        .executable(name: "memlab", targets: ["memlab"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
    ],
    targets: [
        // Leaves: no NIO, no sockets.
        .target(name: "JSONRPC"),
        .target(name: "ProcFS"),
        // Under ThreadSanitizer (scripts/sanitize sets MEMD_SANITIZER=thread for its build) the batch walk
        // does not prefetch: TSan turns the call to llvm.prefetch into an invoke, which the compiler
        // rejects (a prefetch is a hint; what the walk computes is the same).
        // Under ThreadSanitizer: Synchronization.Mutex's contended hand-off (futex calls in a library TSan
        // does not instrument) shown to TSan, else it reports accesses made under one lock as races.
        // Empty in any other build. A dependency of every target that locks a Mutex.
        .target(name: "MutexTSan"),
        .target(
            name: "MMU",
            dependencies: ["MutexTSan"],
            swiftSettings: Context.environment["MEMD_SANITIZER"] == "thread" ? [.define("MEMD_NO_PREFETCH")] : []
        ),
        .target(
            name: "MemdProtocol",
            dependencies: ["JSONRPC", "ProcFS"],
            exclude: ["openrpc.json"],
            plugins: ["EmbedText"]
        ),
        .executableTarget(name: "embed-text", path: "Sources/embed-text"),
        .plugin(name: "EmbedText", capability: .buildTool(), dependencies: ["embed-text"]),
        .target(name: "ExperimentsShims"),
        .target(name: "HeapShims"),
        // The HTTP doors' first defence (the metrics listener's and the lab's): request size and time.
        .target(name: "HTTPLimits", dependencies: [.product(name: "NIOCore", package: "swift-nio")]),
        .target(
            name: "Experiments",
            dependencies: ["JSONRPC", "MemdProtocol", "ProcFS", "MMU", "ExperimentsShims", "MutexTSan"]
        ),
        // The HTTP /metrics listener: node_exporter's names for /proc, memd's health.
        .target(
            name: "MemdMetrics",
            dependencies: [
                "ProcFS", "MemdProtocol", "HTTPLimits",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "MemdServer",
            dependencies: [
                "JSONRPC", "MemdProtocol", "ProcFS", "MMU", "Experiments", "MemdMetrics", "HeapShims", "MutexTSan",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "memd",
            dependencies: [
                "MemdServer", "MemdMetrics", "MemdProtocol", "ProcFS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // memctl run's gated child: fork and exec in plain C (nothing of Swift runs in the child).
        .target(name: "MemctlShims"),
        // The lab of `memctl web`: HTTP, the WebSocket bridge to memd's socket, the token
        // rules, and the page (Assets/, compiled in).
        .target(
            name: "MemdWeb",
            dependencies: [
                "MemdProtocol", "HTTPLimits",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            exclude: ["Assets"],
            plugins: ["EmbedText"]
        ),
        .executableTarget(
            name: "memctl",
            dependencies: [
                "JSONRPC", "MemdProtocol", "MemctlShims", "ProcFS", "MemdWeb", "MutexTSan",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The experiment child: plain C, so fork/mmap/touch do exactly what the seed shows.
        // Linked as a C program: without swiftrt.o (-nostartfiles) and with --as-needed (scripts/ld-as-needed),
        // it needs libc only, not libswiftCore and libstdc++ (its maps, shown by the experiments, are its own).
        .executableTarget(
            name: "memlab",
            cSettings: [.unsafeFlags(["-Wall", "-Wextra", "-Werror", "-O2"])],
            linkerSettings: [.unsafeFlags(["-nostartfiles", "-ld-path=\(packageRoot)/scripts/ld-as-needed"])]
        ),
        .executableTarget(name: "mmubench", dependencies: ["MMU"]),
        // Fuzz targets: one function per parser that takes bytes from outside (Fuzz/Targets), run by
        // libFuzzer through memd-fuzz (scripts/fuzz) and replayed over Fuzz/Corpus by FuzzTargetsTests.
        .target(
            name: "FuzzTargets",
            dependencies: [
                "JSONRPC", "MemdProtocol", "ProcFS", "MMU", "MemdServer", "MemdMetrics",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Fuzz/Targets"
        ),
        .executableTarget(name: "memd-fuzz", dependencies: ["FuzzTargets"], path: "Fuzz/Driver"),
        // What the tests share about the build they run in: its sanitizer and how much slower it is.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "JSONRPCTests", dependencies: ["JSONRPC"]),
        .testTarget(name: "ProcFSTests", dependencies: ["ProcFS"], resources: [.copy("Fixtures")]),
        .testTarget(name: "MMUTests", dependencies: ["MMU"]),
        .testTarget(name: "FuzzTargetsTests", dependencies: ["FuzzTargets", "JSONRPC"]),
        .testTarget(name: "ExperimentsTests", dependencies: ["Experiments", "ProcFS", "JSONRPC"]),
        .testTarget(
            name: "MemdMetricsTests",
            dependencies: [
                "MemdMetrics", "HTTPLimits", "ProcFS", "MemdProtocol", "JSONRPC", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .testTarget(name: "MemdWebTests", dependencies: ["MemdWeb", "MemdProtocol"]),
        .testTarget(
            name: "MemdServerTests",
            dependencies: [
                "MemdServer", "JSONRPC", "MemdProtocol", "ProcFS", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
    ]
)
