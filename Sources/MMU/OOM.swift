extension Machine {
    /// The OOM killer (`out_of_memory`): kills the process with the largest rss (ties: the newest),
    /// counting `oom_kill`; with `panicOnOom`, or with nothing left to kill, the machine panics and
    /// this and every later call throws `machinePanicked`.
    func outOfMemory() throws(MMUError) {
        if config.panicOnOom {
            panicReason = "Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled"
            throw MMUError(code: .machinePanicked, message: panicReason!)
        }
        var victim: SimProcess?
        for pid in pids {
            guard let p = processes[pid], p.rssPages > 0 else { continue }
            if victim == nil || p.rssPages >= victim!.rssPages { victim = p }
        }
        guard let victim else {
            panicReason = "Kernel panic - not syncing: Out of memory and no killable processes"
            throw MMUError(code: .machinePanicked, message: panicReason!)
        }
        oomKills += 1
        killedThisCall.append(victim.pid)
        exitProcess(victim)
    }
}
