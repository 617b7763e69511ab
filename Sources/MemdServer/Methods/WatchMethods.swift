import JSONRPC
import MemdProtocol

/// `watch` and `watch.stop`: a stream of `watch.sample` notifications on a clock that does not
/// drift, then the summary as the response.
///
/// Sample k is due at start + k × interval (deadlines, not sleep-after-work). A sample begun too
/// late (after the next one was due) or that cannot be sent now (the client is not reading:
/// `CallContext.canSend`) is skipped, never queued; its events go out with the next sample sent.
/// One begun on time is sent however long it took (hundreds of processes with pss, memd busy):
/// a watch slower than its interval sends what it can, never nothing. The next sample is the
/// first deadline not yet past. `count` counts deadlines, sent or skipped.
enum WatchMethods {
    static func register(into table: inout MethodTable<CallContext>, config: ServerConfig) {
        let registry = WatchRegistry(limit: config.maxWatchesPerUID, health: config.health)
        table.async(WatchMethod.self) { params, context in
            try await run(params, context: context, registry: registry)
        }
        table.inline(WatchStopMethod.self) { params, context in
            WatchStopMethod.Result(stopped: registry.stop(context.peer, id: params.id))
        }
    }

    static func run(
        _ params: WatchMethod.Params,
        context: CallContext,
        registry: WatchRegistry
    ) async throws -> WatchMethod.Result {
        let sampler = WatchSampler(params: params, peer: context.peer)
        defer { sampler.close() }
        // Registered first, so a `watch.stop` sent while the access check of hundreds of pids
        // waits for the uid's share finds the watch.
        let stop = try registry.start(context.peer, id: context.requestID)
        defer { registry.end(context.peer, id: context.requestID) }
        try await context.work.run { _ in try sampler.checkAccess() }

        let clock = ContinuousClock()
        let start = clock.now
        let interval = Duration.milliseconds(params.intervalMs)
        let end = params.durationMs.map { start + .milliseconds($0) }
        var tick = 0
        var sent = 0
        var skipped = 0
        var endedBy = WatchMethod.EndedBy.stop
        while true {
            try Task.checkCancellation()
            if stop.isStopped { break }
            let takenAt = clock.now
            let elapsed = Self.milliseconds(takenAt - start)
            let sample = try await context.work.run { _ in try sampler.take(elapsedMs: elapsed, at: takenAt) }
            try Task.checkCancellation()
            let isLate = takenAt > start + interval * (tick + 1)
            if !isLate, context.canSend {
                var notification: JSONObject = ["requestId": context.requestID, "seq": .int(sent)]
                notification.members.append(contentsOf: sample.members)
                context.notify(WatchMethod.sampleNotification, .object(notification))
                sampler.sent()
                sent += 1
            } else {
                skipped += 1
            }
            tick += 1
            if params.untilExit, sampler.allExited {
                endedBy = .untilExit
                break
            }
            if let count = params.count, tick >= count {
                endedBy = .count
                break
            }
            // The first deadline not yet past: late ones are skipped (they count as ticks).
            let now = clock.now
            if start + interval * tick <= now {
                tick = Int((now - start) / interval) + 1
                if let count = params.count, tick >= count {
                    endedBy = .count
                    break
                }
            }
            let next = start + interval * tick
            if let end, next > end {
                await stop.sleep(until: end)
                try Task.checkCancellation()
                endedBy = stop.isStopped ? .stop : .duration
                break
            }
            await stop.sleep(until: next)
        }
        return summary(
            sampler,
            samples: sent,
            skipped: skipped,
            durationMs: Self.milliseconds(clock.now - start),
            endedBy: endedBy
        )
    }

    static func summary(
        _ sampler: WatchSampler,
        samples: Int,
        skipped: Int,
        durationMs: Int,
        endedBy: WatchMethod.EndedBy
    ) -> WatchMethod.Result {
        let peaks = sampler.peaks
        let pss = sampler.params.pss
        return WatchMethod.Result(
            samples: samples,
            skipped: skipped,
            durationMs: durationMs,
            endedBy: endedBy,
            peaks: WatchMethod.Peaks(
                systemUsed: peaks.systemUsed,
                availableMin: peaks.availableMin,
                pressureSomeAvg10Max: peaks.pressureSomeAvg10Max,
                processes: sampler.tracked.filter { $0.lastAt != nil }.map { $0.summary(pss: pss) },
                treeRssMax: peaks.treeRssMax,
                treePssMax: pss ? .some(peaks.treePssMax) : nil
            ),
            oomKills: sampler.oomKills,
            untracked: sampler.untracked
        )
    }

    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}
