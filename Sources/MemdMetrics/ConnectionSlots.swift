import HTTPLimits
import NIOConcurrencyHelpers
import NIOCore

/// The metrics listener's connection slots (limits.md §6): nobody can hold them all.
///
/// At most `maxConnections` are open, at most `maxPerPeer` from one peer address (more
/// are closed as soon as they are accepted). When every slot is taken, a new connection
/// is admitted by closing one of the peer holding the most slots — so a scraper's one
/// connection outlasts whatever the others open and close — the one of theirs idle
/// longest (no request under way); when none is idle, the one whose request has been
/// under way longest: a request still arriving, or a response its client does not read.
package final class ConnectionSlots: RequestWatcher {
    private struct Slot {
        let channel: Channel
        let peer: String
        var isIdle = true
        /// When it became idle, or when its request started.
        var since = NIODeadline.now()
    }

    private let maxConnections: Int
    private let maxPerPeer: Int
    private let slots = NIOLockedValueBox<[ObjectIdentifier: Slot]>([:])

    init(maxConnections: Int, maxPerPeer: Int) {
        self.maxConnections = maxConnections
        self.maxPerPeer = maxPerPeer
    }

    /// Gives `channel` a slot, closing another connection if every slot is taken; false
    /// when its peer address already has `maxPerPeer`. The slot is freed when it closes.
    func admit(_ channel: Channel) -> Bool {
        let peer = channel.remoteAddress?.ipAddress ?? "unknown"
        let (admitted, evicted) = slots.withLockedValue { slots -> (Bool, Channel?) in
            guard slots.values.count(where: { $0.peer == peer }) < maxPerPeer else { return (false, nil) }
            var evicted: Channel?
            if slots.count >= maxConnections, let victim = Self.victim(in: slots) {
                evicted = slots.removeValue(forKey: victim)?.channel
            }
            guard slots.count < maxConnections else { return (false, nil) }
            slots[ObjectIdentifier(channel)] = Slot(channel: channel, peer: peer)
            return (true, evicted)
        }
        evicted?.close(promise: nil)
        guard admitted else { return false }
        channel.closeFuture.whenComplete { [self] _ in
            slots.withLockedValue { $0[ObjectIdentifier(channel)] = nil }
        }
        return true
    }

    /// A request of `channel` has started (its first byte arrived).
    package func requestStarted(_ channel: Channel) { mark(channel, isIdle: false) }

    /// `channel`'s last request is answered and sent: it is idle from now.
    package func requestAnswered(_ channel: Channel) { mark(channel, isIdle: true) }

    /// How many connections hold a slot.
    var count: Int { slots.withLockedValue { $0.count } }

    private func mark(_ channel: Channel, isIdle: Bool) {
        slots.withLockedValue { slots in
            let key = ObjectIdentifier(channel)
            guard slots[key] != nil else { return }
            slots[key]?.isIdle = isIdle
            slots[key]?.since = .now()
        }
    }

    /// The slot to free: of the peers holding the most, the longest idle, else the longest under way.
    private static func victim(in slots: [ObjectIdentifier: Slot]) -> ObjectIdentifier? {
        var held: [String: Int] = [:]
        for slot in slots.values { held[slot.peer, default: 0] += 1 }
        let most = held.values.max() ?? 0
        let theirs = slots.filter { held[$0.value.peer] == most }
        let idle = theirs.filter { $0.value.isIdle }
        let candidates = idle.isEmpty ? theirs : idle
        return candidates.min { $0.value.since < $1.value.since }?.key
    }
}
