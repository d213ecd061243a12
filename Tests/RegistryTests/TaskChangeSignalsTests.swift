import Foundation
import Registry
import Synchronization
import TandemCore
import Testing

/// The wake-ups behind waiting for a task (`DeviceOperations.wait(forTask:)`): a signal after the
/// ticket is registered is never lost, a wait ends at its timeout or cancellation, and the registry
/// signals each committed change to a final state.
@Suite struct TaskChangeSignalsTests {
    /// Each wait below gives a signal a minute; a missed signal shows as a wait of about that long.
    static let long = Duration.seconds(60)

    @Test func aSignalBeforeTheWaitIsKept() async {
        let signals = TaskChangeSignals()
        let ticket = signals.register(7)
        signals.signal([7])
        let elapsed = await ContinuousClock().measure { await signals.wait(ticket, upTo: Self.long) }
        #expect(elapsed < .seconds(10))
        #expect(signals.pendingCount == 0)
    }

    /// A task signalled before anyone registered: `registerAfterSubmitting` (the REST API's wait
    /// for a task it has just queued, which reads nothing first) finds it among the latest signals;
    /// `register` does not, by design (its caller reads the task after registering).
    @Test func aTicketRegisteredAfterSubmittingSeesALatestSignal() async {
        let signals = TaskChangeSignals(recentCapacity: 3)
        signals.signal([7])
        let afterSubmitting = signals.registerAfterSubmitting(7)
        let elapsed = await ContinuousClock().measure { await signals.wait(afterSubmitting, upTo: Self.long) }
        #expect(elapsed < .seconds(10))
        let plain = signals.register(7)
        let plainElapsed = await ContinuousClock().measure { await signals.wait(plain, upTo: .milliseconds(100)) }
        #expect(plainElapsed >= .milliseconds(100))
        // Three later signals push 7 out of the ring of three: then it is not seen (the waiter's
        // poll finds such a change); 9, among the latest, still is.
        signals.signal([8, 9, 10])
        let evicted = await ContinuousClock().measure { await signals.wait(signals.registerAfterSubmitting(7), upTo: .milliseconds(100)) }
        #expect(evicted >= .milliseconds(100))
        let kept = await ContinuousClock().measure { await signals.wait(signals.registerAfterSubmitting(9), upTo: Self.long) }
        #expect(kept < .seconds(10))
        #expect(signals.pendingCount == 0)
    }

    @Test func aWaitEndsAtItsTimeout() async {
        let signals = TaskChangeSignals()
        let ticket = signals.register(7)
        signals.signal([8])  // another task
        let elapsed = await ContinuousClock().measure { await signals.wait(ticket, upTo: .milliseconds(100)) }
        #expect(elapsed >= .milliseconds(100))
        #expect(elapsed < .seconds(10))
        #expect(signals.pendingCount == 0)
    }

    @Test func aSignalWakesEveryWaiterOfThatTaskOnly() async throws {
        let signals = TaskChangeSignals()
        let first = signals.register(1)
        let second = signals.register(1)
        let other = signals.register(2)
        let woken = Counter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for ticket in [first, second] {
                group.addTask {
                    await signals.wait(ticket, upTo: Self.long)
                    woken.add()
                }
            }
            let otherWait = Task {
                await signals.wait(other, upTo: Self.long)
                woken.add()
            }
            try await Task.sleep(for: .milliseconds(50))  // let the waiters suspend
            #expect(woken.value == 0)
            signals.signal([1])
            let elapsed = try await ContinuousClock().measure { try await group.waitForAll() }
            #expect(elapsed < .seconds(10))
            #expect(woken.value == 2)
            // The other task's waiter still waits; cancelling it ends the wait at once.
            #expect(signals.pendingCount == 1)
            otherWait.cancel()
            let cancelled = await ContinuousClock().measure { await otherWait.value }
            #expect(cancelled < .seconds(10))
            #expect(woken.value == 3)
            #expect(signals.pendingCount == 0)
        }
    }

    @Test func aReleasedTicketIsForgotten() {
        let signals = TaskChangeSignals()
        let ticket = signals.register(3)
        #expect(signals.pendingCount == 1)
        signals.release(ticket)
        #expect(signals.pendingCount == 0)
        signals.signal([3])
        #expect(signals.pendingCount == 0)
    }

    /// Completion, failure, requeue, cancellation and expiry each signal the task after committing.
    @Test func theRegistrySignalsEachCommittedChange() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let store = registry.store
        let device = try await store.recordCWMPContact(try CWMPDeviceID(oui: "00D09E", serialNumber: "S1"), details: DeviceDetails(), at: t0)
        let path = try PathExpression("Device.DeviceInfo.SoftwareVersion")
        let signals = store.taskChanges

        /// Runs `change` with a ticket registered on `taskID`; the wait must end long before its minute.
        func expectSignal(_ taskID: Int64, _ what: String, _ change: () async throws -> Void) async throws {
            let ticket = signals.register(taskID)
            try await change()
            let elapsed = await ContinuousClock().measure { await signals.wait(ticket, upTo: Self.long) }
            #expect(elapsed < .seconds(10), "\(what) did not signal task \(taskID)")
        }

        let expiring = try await store.enqueueTask(deviceID: device.id, operation: .factoryReset, expiresAt: t0.addingTimeInterval(-1), actor: "t")
        let done = try await store.enqueueTask(deviceID: device.id, operation: .get(paths: [path]), expiresAt: nil, actor: "t")
        try await expectSignal(expiring.id, "expiry at claim") { _ = try await store.claimNextTask(deviceID: device.id, at: t0) }
        #expect(try await store.task(id: expiring.id)?.state == .expired)
        try await expectSignal(done.id, "completion") {
            try await store.completeTask(id: done.id, result: OperationResult(), parameters: [], at: t0)
        }
        #expect(try await store.task(id: done.id)?.state == .done)

        let retried = try await store.enqueueTask(deviceID: device.id, operation: .reboot(commandKey: nil), expiresAt: nil, actor: "t")
        #expect(try await store.claimNextTask(deviceID: device.id, at: t0)?.id == retried.id)
        try await expectSignal(retried.id, "requeue") {
            try await store.failTask(id: retried.id, fault: Fault(category: .unreachable, message: "gone"), retry: true, at: t0)
        }
        #expect(try await store.task(id: retried.id)?.state == .queued)
        _ = try await store.claimNextTask(deviceID: device.id, at: t0)
        try await expectSignal(retried.id, "failure") {
            try await store.failTask(id: retried.id, fault: Fault(category: .unreachable, message: "gone"), retry: false, at: t0)
        }
        #expect(try await store.task(id: retried.id)?.state == .faulted)

        let cancelled = try await store.enqueueTask(deviceID: device.id, operation: .factoryReset, expiresAt: nil, actor: "t")
        try await expectSignal(cancelled.id, "cancellation") {
            let accepted = try await store.cancelTask(id: cancelled.id, actor: "t", at: t0)
            #expect(accepted)
        }
        #expect(try await store.task(id: cancelled.id)?.state == .cancelled)
        #expect(signals.pendingCount == 0)
    }
}

/// A count shared by concurrent tasks.
private final class Counter: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func add() { count.withLock { $0 += 1 } }
}
