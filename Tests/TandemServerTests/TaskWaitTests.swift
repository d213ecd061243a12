import Engine
import Foundation
import Registry
import TandemCore
import TandemServer
import Testing

/// `DeviceOperations.wait(forTask:)`, what the REST API's `wait` runs: it answers when the task
/// changes, not at its next poll. The poll interval here is a minute, so a wait that depended on
/// polling would take that long.
@Suite struct TaskWaitTests {
    /// A server on a fresh directory with one CWMP device and one queued task.
    static func withQueuedTask(_ body: (TandemServer, DeviceTask) async throws -> Void) async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let server = try makeServer(dataDirectory: directory, label: "task-wait")
        let device = try await server.registry.recordCWMPContact(
            try CWMPDeviceID(oui: "00D09E", serialNumber: "W1"), details: DeviceDetails(), at: Date())
        try await body(server, try await server.registry.enqueueTask(deviceID: device.id, operation: .factoryReset, expiresAt: nil, actor: "test"))
    }

    @Test func aWaitEndsWhenTheTaskCompletes() async throws { try await Self.withQueuedTask { server, task in
        let registry = server.registry
        _ = try await registry.claimNextTask(deviceID: task.deviceID, at: Date())

        async let waited = server.operations.wait(forTask: task.id, timeout: .seconds(120), pollInterval: .seconds(60))
        try await Task.sleep(for: .milliseconds(100))  // the wait has read the running task and sleeps
        let completed = ContinuousClock.now
        try await registry.completeTask(id: task.id, result: OperationResult(outputArguments: ["k": "v"]), parameters: [], at: Date())
        let final = try await waited
        #expect(ContinuousClock.now - completed < .seconds(10))
        #expect(final.state == .done)
        #expect(final.result?.outputArguments == ["k": "v"])
        #expect(registry.taskChanges.pendingCount == 0)
    } }

    /// The first look reads only the state; a task already final is then returned whole, at once.
    @Test func aWaitForAFinishedTaskReturnsItWhole() async throws { try await Self.withQueuedTask { server, task in
        let registry = server.registry
        #expect(try await registry.taskState(id: task.id) == .queued)
        _ = try await registry.claimNextTask(deviceID: task.deviceID, at: Date())
        #expect(try await registry.taskState(id: task.id) == .running)
        try await registry.completeTask(id: task.id, result: OperationResult(outputArguments: ["k": "v"]), parameters: [], at: Date())
        #expect(try await registry.taskState(id: task.id) == .done)
        #expect(try await registry.taskState(id: 9_999) == nil)
        let start = ContinuousClock.now
        let final = try await server.operations.wait(forTask: task.id, timeout: .seconds(120), pollInterval: .seconds(60))
        #expect(ContinuousClock.now - start < .seconds(10))
        #expect(final.id == task.id)
        #expect(final.state == .done)
        #expect(final.operation == .factoryReset)
        #expect(final.result?.outputArguments == ["k": "v"])
        #expect(registry.taskChanges.pendingCount == 0)
    } }

    /// The REST API's wait for a task it has just queued reads nothing first: a task that finished
    /// before the wait began, or while it waits, still ends the wait at once, not at the next poll.
    @Test func aWaitRightAfterSubmittingSeesAChangeBeforeOrDuringIt() async throws { try await Self.withQueuedTask { server, task in
        let registry = server.registry
        _ = try await registry.claimNextTask(deviceID: task.deviceID, at: Date())
        try await registry.completeTask(id: task.id, result: OperationResult(outputArguments: ["k": "v"]), parameters: [], at: Date())
        let start = ContinuousClock.now
        let before = try await server.operations.wait(forTask: task.id, timeout: .seconds(120), pollInterval: .seconds(60), justSubmitted: true)
        #expect(ContinuousClock.now - start < .seconds(10))
        #expect(before.state == .done)
        #expect(before.result?.outputArguments == ["k": "v"])

        let device = try #require(try await registry.device(.registryID(task.deviceID)))
        let second = try await registry.enqueueTask(deviceID: device.id, operation: .reboot(commandKey: nil), expiresAt: nil, actor: "test")
        async let waited = server.operations.wait(forTask: second.id, timeout: .seconds(120), pollInterval: .seconds(60), justSubmitted: true)
        try await Task.sleep(for: .milliseconds(100))
        let completed = ContinuousClock.now
        _ = try await registry.claimNextTask(deviceID: device.id, at: Date())
        try await registry.failTask(id: second.id, fault: Fault(category: .internalError, message: "no"), retry: false, at: Date())
        let during = try await waited
        #expect(ContinuousClock.now - completed < .seconds(10))
        #expect(during.state == .faulted)
        #expect(registry.taskChanges.pendingCount == 0)
    } }

    /// A cancelled wait (the API client went away) ends at once and leaves no registration behind.
    @Test func aCancelledWaitEndsAndForgetsItsTicket() async throws { try await Self.withQueuedTask { server, task in
        let waiting = Task { try await server.operations.wait(forTask: task.id, timeout: .seconds(120), pollInterval: .seconds(60)) }
        try await Task.sleep(for: .milliseconds(100))
        let cancelled = ContinuousClock.now
        waiting.cancel()
        await #expect(throws: CancellationError.self) { _ = try await waiting.value }
        #expect(ContinuousClock.now - cancelled < .seconds(10))
        #expect(server.registry.taskChanges.pendingCount == 0)
    } }

    @Test func aWaitForAnUnfinishedTaskEndsAtItsTimeout() async throws { try await Self.withQueuedTask { server, task in
        let registry = server.registry
        let start = ContinuousClock.now
        let latest = try await server.operations.wait(forTask: task.id, timeout: .milliseconds(300), pollInterval: .seconds(60))
        let elapsed = ContinuousClock.now - start
        #expect(latest.state == .queued)
        #expect(elapsed >= .milliseconds(300))
        #expect(elapsed < .seconds(10))
        #expect(registry.taskChanges.pendingCount == 0)
        await #expect(throws: RegistryError.self) {
            _ = try await server.operations.wait(forTask: 9_999, timeout: .seconds(1))
        }
    } }
}
