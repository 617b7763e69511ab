import Testing

@testable import MMU

/// Boot frames of a machine with ≤ 1 GiB of RAM: 256 kernel text + zero page + 6 kernel tables
/// (swapper PML4; direct map PDPT + PD; kernel text PDPT + PD + PT).
let bootFrames = 256 + 1 + 6

func makeMachine(_ config: MachineConfig = MachineConfig()) throws -> Machine {
    try Machine(config: config)
}

func spawn(_ m: Machine, _ command: String = "prog") throws -> Int {
    try #require(try m.spawn(command: command).pid)
}

func mmapAnon(_ m: Machine, _ pid: Int, _ length: UInt64, at address: UInt64? = nil) throws -> UInt64 {
    try #require(try m.mmap(pid: pid, length: length, protection: [.read, .write], address: address).address)
}

func meminfo(_ m: Machine, _ key: String) throws -> UInt64 {
    try #require(try m.meminfo().first { $0.key == key }?.bytes)
}

func vmstat(_ m: Machine, _ key: String) throws -> UInt64 {
    try #require(try m.vmstat().first { $0.key == key }?.value)
}

let MiB: UInt64 = 1 << 20
let page: UInt64 = 4096
