import MTP
import Synchronization

/// The per-peer queues of one transport's events: each peer's events are handled in order, different
/// peers' side by side. A peer has a lane (a task draining its queue) only while events are queued
/// for it; the lane ends as soon as its queue is empty. An idle agent therefore holds no task, and
/// no task-allocator memory, in the controller: with tens of thousands of idle WebSocket agents a
/// parked task per agent cost about 20 KiB each (its stack slabs stay at their high-water mark).
final class PeerLanes: Sendable {
    /// What ``enqueue(_:for:limit:)`` did with an event.
    enum Admission: Equatable {
        /// Queued behind the peer's running lane, which will handle it.
        case queued
        /// Queued, and the peer had no lane: the caller starts one (``drain(_:_:)``).
        case startLane
        /// Not queued: the peer has no lane and `limit` lanes are running. The caller handles it.
        case full
    }

    /// A key is present while its lane runs; its value holds the events not yet taken.
    private let queues = Mutex<[String: [TransportEvent]]>([:])

    /// Lanes running now.
    var count: Int { queues.withLock { $0.count } }

    /// Queues `event` for the peer `key`.
    func enqueue(_ event: TransportEvent, for key: String, limit: Int) -> Admission {
        queues.withLock { queues in
            if queues[key] != nil {
                queues[key]!.append(event)
                return .queued
            }
            guard queues.count < limit else { return .full }
            queues[key] = [event]
            return .startLane
        }
    }

    /// Queues `event` behind a running lane of `key`; false when it has none.
    func enqueueIfRunning(_ event: TransportEvent, for key: String) -> Bool {
        queues.withLock { queues in
            guard queues[key] != nil else { return false }
            queues[key]!.append(event)
            return true
        }
    }

    /// The body of a lane: hands the peer's events to `handle` in order until none is queued, then
    /// closes the lane (in the same critical section that finds the queue empty, so an event
    /// queued concurrently either is taken here or starts a new lane).
    func drain(_ key: String, _ handle: (TransportEvent) async -> Void) async {
        while let batch = take(key) {
            for event in batch { await handle(event) }
        }
    }

    private func take(_ key: String) -> [TransportEvent]? {
        queues.withLock { queues in
            guard let queued = queues[key], !queued.isEmpty else {
                queues[key] = nil
                return nil
            }
            queues[key] = []
            return queued
        }
    }
}
