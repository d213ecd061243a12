import NIOConcurrencyHelpers

/// Wakes one waiting task: a device's run loop sleeps on it until its next deadline, and a
/// connection request (or any other stimulus) calls `signal()` to wake it early. A signal sent
/// while nobody waits is kept, so none is lost.
///
/// Built on a lock rather than an actor so that the cancellation handler can resume the waiter
/// synchronously, without an unstructured task.
final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var waiter: (id: UInt64, continuation: CheckedContinuation<Void, Never>)?
        var nextID: UInt64 = 0
    }

    private let state = NIOLockedValueBox(State())

    /// Wakes the waiter, or marks the signal pending for the next `wait`.
    func signal() {
        let waiter = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter.continuation
        }
        waiter?.resume()
    }

    /// Returns when signalled, at `deadline` (nil: no deadline), or on cancellation. True when
    /// signalled.
    func wait(until deadline: ContinuousClock.Instant?) async -> Bool {
        if consumePending() { return true }
        guard let deadline else {
            await waitForSignal()
            return !Task.isCancelled
        }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await self.waitForSignal()
                return !Task.isCancelled
            }
            group.addTask {
                try? await Task.sleep(until: deadline, clock: .continuous)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    private func consumePending() -> Bool {
        state.withLockedValue { state in
            defer { state.pending = false }
            return state.pending
        }
    }

    private func waitForSignal() async {
        let id = state.withLockedValue { state in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLockedValue { state -> Bool in
                    if state.pending || Task.isCancelled {
                        state.pending = false
                        return true
                    }
                    state.waiter = (id, continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
                guard let waiter = state.waiter, waiter.id == id else { return nil }
                state.waiter = nil
                return waiter.continuation
            }
            waiter?.resume()
        }
    }
}

/// Limits how many sessions run at once across a fleet (the `--concurrency` of `tandem-sim`).
/// Waiters are served in order; a cancelled waiter leaves the queue at once.
public final class SessionGate: Sendable {
    private struct State {
        var available: Int
        var waiters: [(id: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
        var nextID: UInt64 = 0
    }

    private let state: NIOLockedValueBox<State>
    public let limit: Int

    /// - Parameter limit: sessions allowed at once, at least 1.
    public init(limit: Int) {
        self.limit = max(1, limit)
        self.state = NIOLockedValueBox(State(available: max(1, limit)))
    }

    /// Runs `body` holding one permit.
    public func withPermit<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await acquire()
        do {
            let result = try await body()
            release()
            return result
        } catch {
            release()
            throw error
        }
    }

    /// Waits for a permit; throws `CancellationError` when cancelled while waiting.
    func acquire() async throws {
        let id = state.withLockedValue { state -> UInt64? in
            if state.available > 0 {
                state.available -= 1
                return nil
            }
            state.nextID += 1
            return state.nextID
        }
        guard let id else { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let cancelled = state.withLockedValue { state -> Bool in
                    if Task.isCancelled { return true }
                    state.waiters.append((id, continuation))
                    return false
                }
                if cancelled { continuation.resume(throwing: CancellationError()) }
            }
        } onCancel: {
            let waiter = state.withLockedValue { state -> CheckedContinuation<Void, any Error>? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index).continuation
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// Returns a permit taken by `acquire()`.
    func release() {
        let next = state.withLockedValue { state -> CheckedContinuation<Void, any Error>? in
            if state.waiters.isEmpty {
                state.available += 1
                return nil
            }
            return state.waiters.removeFirst().continuation
        }
        next?.resume()
    }
}
