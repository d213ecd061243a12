import Synchronization

/// Wakes whoever waits for a task to change state, once the change has committed.
///
/// The registry signals a task's id after every committed write that moved it to a final state
/// (done, faulted, cancelled, expired) or back to queued. A waiter registers a ``Ticket`` *before*
/// it reads the task, so a change that commits between its read and its wait is not missed: the
/// ticket remembers it. Signals are hints, never data: the waiter reads the task again.
///
/// Waiting used to mean polling the task row (1, 2, 4 ... 50 ms): about ten reader hops per
/// answer under load, each a thread wake-up on GRDB's pool, and up to 50 ms added to every answer.
/// State sits behind a mutex (not an actor) so that a signal from the writer's commit and a
/// waiter's cancellation resume continuations synchronously.
public final class TaskChangeSignals: Sendable {
    /// One wait for one task. Release it (``release(_:)``) when done with it, or wait on it once;
    /// releasing it after the wait does nothing.
    public struct Ticket: Sendable, Hashable {
        public let taskID: Int64
        let number: UInt64
    }

    private enum Entry {
        /// Registered, nobody suspended yet.
        case armed
        /// A waiter is suspended on it.
        case waiting(CheckedContinuation<Void, Never>)
        /// The task changed (or the wait ended) before anyone waited.
        case fired
    }

    private struct State {
        var next: UInt64 = 0
        var tickets: [Int64: [UInt64: Entry]] = [:]
        /// The latest signalled task ids, a ring of at most `recentCapacity` (oldest at `recentHead`
        /// once full), and how often each id is in it.
        var recent: [Int64] = []
        var recentHead = 0
        var recentCounts: [Int64: Int] = [:]

        mutating func remember(_ id: Int64, capacity: Int) {
            guard capacity > 0 else { return }
            if recent.count < capacity {
                recent.append(id)
            } else {
                let evicted = recent[recentHead]
                if let count = recentCounts[evicted], count > 1 { recentCounts[evicted] = count - 1 } else { recentCounts[evicted] = nil }
                recent[recentHead] = id
                recentHead = (recentHead + 1) % capacity
            }
            recentCounts[id, default: 0] += 1
        }

        /// Removes the ticket; returns its suspended waiter, if any, to be resumed outside the lock.
        mutating func remove(_ ticket: Ticket) -> CheckedContinuation<Void, Never>? {
            guard let entry = tickets[ticket.taskID]?.removeValue(forKey: ticket.number) else { return nil }
            if tickets[ticket.taskID]?.isEmpty == true { tickets[ticket.taskID] = nil }
            if case .waiting(let continuation) = entry { return continuation }
            return nil
        }
    }

    private let state = Mutex(State())
    /// How many of the latest signals ``registerAfterSubmitting(_:)`` can look back on.
    private let recentCapacity: Int

    public init(recentCapacity: Int = 4096) {
        self.recentCapacity = max(0, recentCapacity)
    }

    /// Tickets registered and not yet released (for tests and metrics).
    public var pendingCount: Int { state.withLock { $0.tickets.values.reduce(0) { $0 + $1.count } } }

    /// Registers interest in `taskID`; call before reading the task.
    public func register(_ taskID: Int64) -> Ticket {
        register(taskID, lookingBack: false)
    }

    /// Registers interest in a task the caller has just queued, without reading it first: if the
    /// task was signalled already (between its enqueue's commit and this call, say a device that
    /// answered at once), the ticket is fired. It looks back on the latest signals only; a task
    /// signalled that long ago is missed here, and found by the waiter's next poll.
    public func registerAfterSubmitting(_ taskID: Int64) -> Ticket {
        register(taskID, lookingBack: true)
    }

    private func register(_ taskID: Int64, lookingBack: Bool) -> Ticket {
        state.withLock { state in
            state.next &+= 1
            state.tickets[taskID, default: [:]][state.next] = lookingBack && state.recentCounts[taskID] != nil ? .fired : .armed
            return Ticket(taskID: taskID, number: state.next)
        }
    }

    /// Forgets a ticket that will not be waited on.
    public func release(_ ticket: Ticket) {
        let waiter = state.withLock { $0.remove(ticket) }
        waiter?.resume()
    }

    /// Wakes every ticket registered for the task.
    public func signal(_ taskID: Int64) {
        signal(CollectionOfOne(taskID))
    }

    /// Wakes every ticket registered for these tasks.
    public func signal(_ taskIDs: some Sequence<Int64>) {
        var waiters: [CheckedContinuation<Void, Never>] = []
        state.withLock { state in
            for id in taskIDs {
                state.remember(id, capacity: recentCapacity)
                guard var entries = state.tickets[id] else { continue }
                for (number, entry) in entries {
                    if case .waiting(let continuation) = entry { waiters.append(continuation) }
                    entries[number] = .fired
                }
                state.tickets[id] = entries
            }
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Suspends until the ticket's task is signalled, `timeout` passes, or the calling task is
    /// cancelled, whichever comes first; a signal that came after ``register(_:)`` returns at
    /// once. Releases the ticket.
    public func wait(_ ticket: Ticket, upTo timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.suspend(ticket) }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
            // The other child: a suspended waiter is resumed by its cancellation handler.
            self.release(ticket)
        }
    }

    private func suspend(_ ticket: Ticket) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    switch state.tickets[ticket.taskID]?[ticket.number] {
                    case .armed?:
                        if Task.isCancelled { return true }
                        state.tickets[ticket.taskID]![ticket.number] = .waiting(continuation)
                        return false
                    case .waiting?, .fired?, nil:
                        // Fired, released, or (never) waited on twice.
                        return true
                    }
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard case .waiting(let continuation)? = state.tickets[ticket.taskID]?[ticket.number] else { return nil }
                state.tickets[ticket.taskID]![ticket.number] = .fired
                return continuation
            }
            waiter?.resume()
        }
    }
}
