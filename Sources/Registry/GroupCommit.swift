import GRDB
import Synchronization

/// Group commit for the registry's single writer.
///
/// SQLite has one writer, and every transaction pays a fixed cost: a hop to GRDB's writer queue,
/// `BEGIN IMMEDIATE`, the WAL frames of each page it dirtied, `COMMIT`. Hundreds of CPEs and agents
/// write at once (an Inform, a ValueChange), each a few rows. Writes that arrive while the writer is
/// busy therefore wait in a queue and then commit together: one transaction for the whole queue,
/// each write in its own savepoint, so a write that fails rolls back alone and reports its own
/// error. A caller resumes only after the transaction holding its write has committed, so an
/// acknowledgement sent after `write` returns (InformResponse, NotifyResp, an API 2xx) always
/// describes durable state. Writes commit in the order they were submitted.
///
/// Under no contention each write is still its own transaction, with no savepoint and no extra wait.
final class GroupCommit: Sendable {
    private let pool: DatabasePool
    /// Most writes in one transaction: bounds how long the writer holds the lock (and how late the
    /// first write of a large batch learns it has committed).
    private let maximumBatch: Int
    private let state = Mutex(State())
    private let committedTransactions = Atomic<Int>(0)

    private struct State {
        var queue: [any PendingWrite] = []
        var flushing = false
    }

    init(pool: DatabasePool, maximumBatch: Int = 256) {
        self.pool = pool
        self.maximumBatch = max(1, maximumBatch)
    }

    /// Transactions run so far (committed or rolled back): fewer than the writes under contention.
    var transactions: Int { committedTransactions.load(ordering: .relaxed) }

    /// Writes waiting for the writer now.
    var queued: Int { state.withLock { $0.queue.count } }

    /// Runs `updates` inside a write transaction shared with the writes queued beside it, and returns
    /// its result once that transaction has committed.
    func write<T: Sendable>(_ updates: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let pending = Write(updates: updates, continuation: continuation)
            let startFlushing = state.withLock { state in
                state.queue.append(pending)
                guard !state.flushing else { return false }
                state.flushing = true
                return true
            }
            if startFlushing {
                pool.asyncWriteWithoutTransaction { db in self.flush(db) }
            }
        }
    }

    /// On the writer queue: commits batches until the queue is empty.
    private func flush(_ db: Database) {
        while true {
            let batch = state.withLock { state -> [any PendingWrite] in
                guard !state.queue.isEmpty else {
                    state.flushing = false
                    return []
                }
                let count = min(state.queue.count, maximumBatch)
                let batch = Array(state.queue.prefix(count))
                state.queue.removeFirst(count)
                return batch
            }
            guard !batch.isEmpty else { return }
            var transactionError: (any Error)?
            do {
                if batch.count == 1 {
                    // Alone: the transaction is the write's own; a failure rolls it back.
                    try db.inTransaction(.immediate) { try batch[0].apply(db, isolated: false) ? .commit : .rollback }
                } else {
                    try db.inTransaction(.immediate) {
                        for write in batch { _ = try write.apply(db, isolated: true) }
                        return .commit
                    }
                }
            } catch {
                // The commit itself failed (a full disk, an I/O error): nothing of the batch holds.
                transactionError = error
            }
            committedTransactions.add(1, ordering: .relaxed)
            for write in batch { write.finish(transactionError: transactionError) }
        }
    }
}

/// The shared transaction of a batch ended under one of its writes.
enum GroupCommitError: Error, CustomStringConvertible {
    /// SQLite rolled the whole transaction back on this error of one write.
    case transactionRolledBack(any Error)

    var description: String {
        switch self {
        case .transactionRolledBack(let error): "the transaction was rolled back: \(error)"
        }
    }
}

/// A write waiting for its turn on the writer queue.
private protocol PendingWrite: Sendable {
    /// Runs the write (in a savepoint of its own when `isolated`); returns whether it succeeded.
    /// Throws when the shared transaction itself is lost, so that no later write of the batch runs
    /// outside it.
    func apply(_ db: Database, isolated: Bool) throws -> Bool
    /// Resumes the caller: with the transaction's error when it did not commit, else the write's outcome.
    func finish(transactionError: (any Error)?)
}

/// Touched only on the writer queue (`apply`, then `finish`), so its outcome needs no lock.
private final class Write<T: Sendable>: PendingWrite, @unchecked Sendable {
    private let updates: @Sendable (Database) throws -> T
    private let continuation: CheckedContinuation<T, any Error>
    private var outcome: Result<T, any Error>?

    init(updates: @escaping @Sendable (Database) throws -> T, continuation: CheckedContinuation<T, any Error>) {
        self.updates = updates
        self.continuation = continuation
    }

    func apply(_ db: Database, isolated: Bool) throws -> Bool {
        guard isolated else {
            do {
                outcome = .success(try updates(db))
                return true
            } catch {
                outcome = .failure(error)
                return false
            }
        }
        // The savepoint's statements are prepared once per connection: GRDB's `inSavepoint`
        // compiles `SAVEPOINT` and `RELEASE` again for every write, a cost paid hundreds of times
        // per batch on the Inform path. GRDB still sees them (cached statements run through it).
        try db.cachedStatement(sql: "SAVEPOINT groupCommitWrite").execute()
        do {
            let value = try updates(db)
            try db.cachedStatement(sql: "RELEASE SAVEPOINT groupCommitWrite").execute()
            outcome = .success(value)
            return true
        } catch {
            outcome = .failure(error)
            // Undo this write alone. Some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM) make
            // SQLite roll back the whole transaction: then nothing of the batch holds, and the
            // rollback to the savepoint fails; the batch ends with that error.
            guard db.isInsideTransaction else { throw GroupCommitError.transactionRolledBack(error) }
            try db.cachedStatement(sql: "ROLLBACK TRANSACTION TO SAVEPOINT groupCommitWrite").execute()
            try db.cachedStatement(sql: "RELEASE SAVEPOINT groupCommitWrite").execute()
            return false
        }
    }

    func finish(transactionError: (any Error)?) {
        if let transactionError, case .success = outcome {
            continuation.resume(throwing: transactionError)
        } else if let outcome {
            continuation.resume(with: outcome)
        } else {
            continuation.resume(throwing: transactionError ?? DatabaseError(resultCode: .SQLITE_MISUSE, message: "write never applied"))
        }
    }
}
