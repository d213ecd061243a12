import Synchronization
import TandemCore

/// Correlates requests with their answers: a key (a USP msg_id, a CWMP cwmp:ID) is registered
/// before the request goes out, the answer fulfils it, and the caller waits with a timeout.
///
/// Registration comes first so that an answer arriving before the caller starts waiting is kept,
/// not lost. State sits behind a mutex (not an actor) so that cancellation can resume a waiter
/// synchronously.
public final class PendingRequests<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private enum Entry {
        case waiting(CheckedContinuation<Value, any Error>?)
        case arrived(Value)
        case failed(any Error)
    }

    private let entries = Mutex<[Key: Entry]>([:])

    public init() {}

    /// Keys registered and not yet collected.
    public var count: Int { entries.withLock { $0.count } }

    /// Registers `key`; call before sending the request.
    public func register(_ key: Key) {
        entries.withLock { $0[key] = .waiting(nil) }
    }

    /// Delivers the answer for `key`; returns false when nobody registered it (a late or unknown answer).
    @discardableResult
    public func fulfil(_ key: Key, with value: Value) -> Bool {
        let waiter: CheckedContinuation<Value, any Error>?? = entries.withLock { entries in
            guard case .waiting(let continuation)? = entries[key] else { return nil }
            if let continuation {
                entries[key] = nil
                return .some(continuation)
            }
            entries[key] = .arrived(value)
            return .some(nil)
        }
        guard let waiter else { return false }
        waiter?.resume(returning: value)
        return true
    }

    /// Fails the request for `key` (the peer went away, the send failed).
    public func fail(_ key: Key, with error: any Error) {
        let waiter: CheckedContinuation<Value, any Error>? = entries.withLock { entries in
            guard case .waiting(let continuation)? = entries[key] else { return nil }
            if let continuation {
                entries[key] = nil
                return continuation
            }
            entries[key] = .failed(error)
            return nil
        }
        waiter?.resume(throwing: error)
    }

    /// Forgets `key` without an answer.
    public func cancel(_ key: Key) {
        fail(key, with: CancellationError())
        entries.withLock { _ = $0.removeValue(forKey: key) }
    }

    /// Waits for the answer to a registered key, at most `timeout`; on timeout throws `onTimeout`.
    public func wait(for key: Key, timeout: Duration, onTimeout: @autoclosure @escaping @Sendable () -> any Error) async throws -> Value {
        try await withThrowingTaskGroup(of: Value.self) { group in
            group.addTask { try await self.waitWithoutTimeout(key) }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw onTimeout()
            }
            defer {
                group.cancelAll()
            }
            do {
                return try await group.next()!
            } catch {
                self.cancel(key)
                throw error
            }
        }
    }

    private func waitWithoutTimeout(_ key: Key) async throws -> Value {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value, any Error>) in
                let outcome: Result<Value, any Error>? = entries.withLock { entries in
                    switch entries[key] {
                    case .arrived(let value)?:
                        entries[key] = nil
                        return .success(value)
                    case .failed(let error)?:
                        entries[key] = nil
                        return .failure(error)
                    case .waiting?:
                        if Task.isCancelled { return .failure(CancellationError()) }
                        entries[key] = .waiting(continuation)
                        return nil
                    case nil:
                        return .failure(Fault(category: .internalError, message: "no pending request \(key)"))
                    }
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let waiter: CheckedContinuation<Value, any Error>? = entries.withLock { entries in
                guard case .waiting(let continuation?)? = entries[key] else { return nil }
                entries[key] = .waiting(nil)
                return continuation
            }
            waiter?.resume(throwing: CancellationError())
        }
    }
}
