import Foundation
import TandemCore
import Testing

@testable import Registry

/// The in-memory hint that lets a claim skip the registry for devices without queued tasks: it
/// forgets a device only when no task was queued since the claim looked.
@Suite struct QueuedTaskHintTests {
    @Test func aClaimThatFoundNothingForgetsTheDevice() throws {
        let hint = QueuedTaskHint(devices: [1, 2])
        let mark = try #require(hint.mark(1))
        hint.forget(1, ifStill: mark)
        #expect(hint.mark(1) == nil)
        #expect(hint.mark(2) != nil)
        #expect(hint.mark(3) == nil)
    }

    @Test func aTaskQueuedAfterTheMarkKeepsTheDevice() throws {
        let hint = QueuedTaskHint(devices: [])
        hint.noteQueued(5)
        let mark = try #require(hint.mark(5))
        hint.noteQueued(5)  // committed after the claim's read
        hint.forget(5, ifStill: mark)
        #expect(hint.mark(5) != nil)
    }

    /// Two claims look; one forgets; a task is queued; the slower claim must not forget it.
    @Test func aLateClaimDoesNotForgetANewerTask() throws {
        let hint = QueuedTaskHint(devices: [7])
        let first = try #require(hint.mark(7))
        let second = try #require(hint.mark(7))
        hint.forget(7, ifStill: first)
        hint.noteQueued(7)
        hint.forget(7, ifStill: second)
        #expect(hint.mark(7) != nil)
    }

    /// Through the store: after the device's only task ran, its next claims find nothing; a new task
    /// is claimed again, and so is a retried one.
    @Test func theStoreForgetsAndRelearns() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let store = registry.store
        let device = try await store.recordCWMPContact(try CWMPDeviceID(oui: "00D09E", serialNumber: "H1"), details: DeviceDetails(), at: t0)
        let first = try await store.enqueueTask(deviceID: device.id, operation: .factoryReset, expiresAt: nil, actor: "t")
        #expect(try await store.claimNextTask(deviceID: device.id, at: t0)?.id == first.id)
        try await store.completeTask(id: first.id, result: OperationResult(), parameters: [], at: t0)
        #expect(try await store.claimNextTask(deviceID: device.id, at: t0) == nil)
        #expect(try await store.claimNextTask(deviceID: device.id, at: t0) == nil)
        let second = try await store.enqueueTask(deviceID: device.id, operation: .reboot(commandKey: nil), expiresAt: nil, actor: "t")
        #expect(try await store.claimNextTask(deviceID: device.id, at: t0)?.id == second.id)
        #expect(try await store.claimNextTask(deviceID: device.id, at: t0) == nil)
        try await store.failTask(id: second.id, fault: Fault(category: .unreachable, message: "later"), retry: true, at: t0)
        #expect(try await store.claimNextTask(deviceID: device.id, at: t0)?.id == second.id)
    }

    /// The claim that takes a device's last queued task forgets the device in the same step, so the
    /// runner's or session's next look for work needs no registry read; one that leaves work keeps it.
    @Test func claimingTheLastQueuedTaskForgetsTheDeviceAtOnce() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let store = registry.store
        let device = try await store.recordCWMPContact(try CWMPDeviceID(oui: "00D09E", serialNumber: "H2"), details: DeviceDetails(), at: t0)
        let first = try await store.enqueueTask(deviceID: device.id, operation: .factoryReset, expiresAt: nil, actor: "t")
        let second = try await store.enqueueTask(deviceID: device.id, operation: .reboot(commandKey: nil), expiresAt: nil, actor: "t")
        #expect(try await store.claimNextTask(deviceID: device.id, at: t0)?.id == first.id)
        #expect(store.queuedHint.mark(device.id) != nil)
        #expect(try await store.claimNextTask(deviceID: device.id, at: t0)?.id == second.id)
        #expect(store.queuedHint.mark(device.id) == nil)
        // Work pinned to another protocol is still queued work: a claim that may not take it keeps the device.
        let pinned = try await store.enqueueTask(
            deviceID: device.id, operation: .get(paths: [try PathExpression("Device.")]), expiresAt: nil, actor: "t", pinnedTo: .usp)
        #expect(try await store.claimNextTask(deviceID: device.id, at: t0, over: .cwmp, includeUnpinned: true) == nil)
        #expect(store.queuedHint.mark(device.id) != nil)
        #expect(try await store.claimNextTask(deviceID: device.id, at: t0, over: .usp, includeUnpinned: false)?.id == pinned.id)
        #expect(store.queuedHint.mark(device.id) == nil)
    }

    /// A device the hint still names without queued work (its task was cancelled) gets one claim
    /// that finds nothing and forgets it.
    @Test func aClaimAfterACancelFindsNothingAndForgets() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let store = registry.store
        let device = try await store.recordCWMPContact(try CWMPDeviceID(oui: "00D09E", serialNumber: "H3"), details: DeviceDetails(), at: t0)
        let task = try await store.enqueueTask(deviceID: device.id, operation: .factoryReset, expiresAt: nil, actor: "t")
        #expect(try await store.cancelTask(id: task.id, actor: "t", at: t0))
        #expect(store.queuedHint.mark(device.id) != nil)
        #expect(try await store.claimNextTask(deviceID: device.id, at: t0) == nil)
        #expect(store.queuedHint.mark(device.id) == nil)
        #expect(try await store.task(id: task.id)?.state == .cancelled)
    }
}
