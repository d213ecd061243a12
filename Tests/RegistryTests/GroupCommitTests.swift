import Foundation
import GRDB
@testable import Registry
import Synchronization
import Testing

/// Group commit on a real SQLite file: writes queued behind a busy writer share one transaction,
/// each still succeeds or fails on its own, in submission order, and returns only once committed.
@Suite struct GroupCommitTests {
    /// A pool with one table, and a gate that holds the writer until the test opens it.
    final class Fixture: Sendable {
        let directory: String
        let pool: DatabasePool
        let commits: GroupCommit

        init(maximumBatch: Int = 256) throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-group-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            pool = try DatabasePool(path: directory + "/db.sqlite")
            try pool.write { db in try db.execute(sql: "CREATE TABLE item (n INTEGER PRIMARY KEY, label TEXT NOT NULL)") }
            commits = GroupCommit(pool: pool, maximumBatch: maximumBatch)
        }

        func rows() throws -> [Int] { try pool.read { db in try Int.fetchAll(db, sql: "SELECT n FROM item ORDER BY rowid") } }

        func waitUntilQueued(_ count: Int) async throws {
            let deadline = ContinuousClock.now + .seconds(10)
            while commits.queued < count {
                guard ContinuousClock.now < deadline else { throw CancellationError() }
                try await Task.sleep(for: .milliseconds(5))
            }
        }

        deinit { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// Submits a write that holds the writer until `gate` opens; returns once it is running.
    static func holdWriter(_ fixture: Fixture, gate: DispatchSemaphore) async throws -> Task<Void, any Error> {
        let started = Atomic<Bool>(false)
        let task = Task {
            try await fixture.commits.write { db in
                started.store(true, ordering: .relaxed)
                gate.wait()
                try db.execute(sql: "INSERT INTO item (n, label) VALUES (0, 'first')")
            }
        }
        while !started.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(2)) }
        return task
    }

    @Test func writesQueuedBehindABusyWriterShareOneTransaction() async throws {
        let fixture = try Fixture()
        let gate = DispatchSemaphore(value: 0)
        let first = try await Self.holdWriter(fixture, gate: gate)
        let before = fixture.commits.transactions
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 1...50 {
                group.addTask { try await fixture.commits.write { db in try db.execute(sql: "INSERT INTO item (n, label) VALUES (?, 'x')", arguments: [n]) } }
            }
            try await fixture.waitUntilQueued(50)
            gate.signal()
            try await group.waitForAll()
        }
        try await first.value
        // The held write (still open when `before` was read) was one transaction; the fifty queued
        // behind it, one more.
        #expect(fixture.commits.transactions - before == 2)
        #expect(Set(try fixture.rows()) == Set(0...50))
    }

    @Test func aFailingWriteRollsBackAloneAndReportsItsOwnError() async throws {
        let fixture = try Fixture()
        let gate = DispatchSemaphore(value: 0)
        let first = try await Self.holdWriter(fixture, gate: gate)
        let outcomes = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
            for n in 1...9 {
                group.addTask {
                    do {
                        try await fixture.commits.write { db in
                            try db.execute(sql: "INSERT INTO item (n, label) VALUES (?, 'x')", arguments: [n + 100])
                            // Write 5 inserts its row, then breaks a constraint: its savepoint undoes both.
                            if n == 5 { try db.execute(sql: "INSERT INTO item (n, label) VALUES (?, NULL)", arguments: [n]) }
                        }
                        return (n, nil)
                    } catch {
                        return (n, "\(error)")
                    }
                }
            }
            try await fixture.waitUntilQueued(9)
            gate.signal()
            var outcomes: [Int: String?] = [:]
            for try await (n, error) in group { outcomes[n] = error }
            return outcomes
        }
        try await first.value
        #expect(outcomes.count == 9)
        for n in 1...9 where n != 5 { #expect(outcomes[n]! == nil, "write \(n) failed: \(outcomes[n]!!)") }
        let failure = try #require(outcomes[5]!)
        #expect(failure.contains("NOT NULL"))
        #expect(Set(try fixture.rows()) == Set([0] + (1...9).filter { $0 != 5 }.map { $0 + 100 }))
    }

    @Test func writesCommitInSubmissionOrderAndBatchesAreBounded() async throws {
        let fixture = try Fixture(maximumBatch: 8)
        let gate = DispatchSemaphore(value: 0)
        let first = try await Self.holdWriter(fixture, gate: gate)
        let before = fixture.commits.transactions
        // One submitter, one write after the other without waiting: the queue keeps its order.
        var pending: [Task<Void, any Error>] = []
        for n in 1...20 {
            let queuedBefore = fixture.commits.queued
            pending.append(Task { try await fixture.commits.write { db in try db.execute(sql: "INSERT INTO item (n, label) VALUES (?, 'x')", arguments: [n]) } })
            try await fixture.waitUntilQueued(queuedBefore + 1)
        }
        gate.signal()
        for task in pending { try await task.value }
        try await first.value
        #expect(try fixture.rows() == Array(0...20))
        // The held write, then twenty queued writes in batches of at most eight: 1 + 3 transactions.
        #expect(fixture.commits.transactions - before == 4)
    }

    @Test func aWriteThatLosesTheSharedTransactionFailsTheWholeBatch() async throws {
        // Some SQLite errors (a full disk, an I/O error) roll back the whole transaction, not just
        // the failing statement; write 2 does that by hand. Nothing of the batch holds then, so every
        // write of it must fail, and no later one may run outside the transaction (in autocommit).
        let fixture = try Fixture()
        let gate = DispatchSemaphore(value: 0)
        let first = try await Self.holdWriter(fixture, gate: gate)
        struct Lost: Error {}
        var pending: [Task<Void, any Error>] = []
        for n in 1...3 {
            let queuedBefore = fixture.commits.queued
            pending.append(Task {
                try await fixture.commits.write { db in
                    try db.execute(sql: "INSERT INTO item (n, label) VALUES (?, 'x')", arguments: [n])
                    if n == 2 {
                        try db.execute(sql: "ROLLBACK")
                        throw Lost()
                    }
                }
            })
            try await fixture.waitUntilQueued(queuedBefore + 1)
        }
        gate.signal()
        try await first.value
        var errors: [String] = []
        for task in pending {
            do {
                try await task.value
                errors.append("committed")
            } catch {
                errors.append("\(error)")
            }
        }
        #expect(errors[0].contains("rolled back"), "write 1: \(errors[0])")
        #expect(errors[1] == "\(Lost())", "write 2: \(errors[1])")
        #expect(errors[2].contains("rolled back"), "write 3: \(errors[2])")
        #expect(try fixture.rows() == [0])
        // The writer carries on with the next batch.
        try await fixture.commits.write { db in try db.execute(sql: "INSERT INTO item (n, label) VALUES (4, 'y')") }
        #expect(try fixture.rows() == [0, 4])
    }

    @Test func aLoneWriteThatFailsLeavesNothing() async throws {
        let fixture = try Fixture()
        await #expect(throws: DatabaseError.self) {
            try await fixture.commits.write { db in
                try db.execute(sql: "INSERT INTO item (n, label) VALUES (1, 'x')")
                try db.execute(sql: "INSERT INTO item (n, label) VALUES (2, NULL)")
            }
        }
        #expect(try fixture.rows().isEmpty)
        let value = try await fixture.commits.write { db in
            try db.execute(sql: "INSERT INTO item (n, label) VALUES (3, 'y')")
            return try Int.fetchOne(db, sql: "SELECT count(*) FROM item")
        }
        #expect(value == 1)
    }
}
