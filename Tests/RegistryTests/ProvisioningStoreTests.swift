import Foundation
import Registry
import TandemCore
import Testing

@Suite struct ProvisioningStoreTests {
    @Test func pinnedTasksRunOnlyOverTheirProtocol() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let device = try await registry.store.recordCWMPContact(try CWMPDeviceID(oui: "00D09E", serialNumber: "P1"), details: DeviceDetails(), at: t0)
        let get = TandemCore.Operation.get(paths: [try PathExpression("Device.DeviceInfo.")])
        let usp = try await registry.store.enqueueTask(deviceID: device.id, operation: get, expiresAt: nil, actor: "migration:m", pinnedTo: .usp)
        let unpinned = try await registry.store.enqueueTask(deviceID: device.id, operation: .factoryReset, expiresAt: nil, actor: "token:ops")
        #expect(usp.pinnedTo == .usp && usp.origin == "migration:m")
        #expect(unpinned.pinnedTo == nil && unpinned.origin == "token:ops")

        // CWMP skips the USP-only task and takes the unpinned one; without unpinned work it finds nothing.
        #expect(try await registry.store.claimNextTask(deviceID: device.id, at: t0, over: .cwmp, includeUnpinned: false) == nil)
        #expect(try await registry.store.claimNextTask(deviceID: device.id, at: t0, over: .cwmp, includeUnpinned: true)?.id == unpinned.id)
        #expect(try await registry.store.claimNextTask(deviceID: device.id, at: t0, over: .usp, includeUnpinned: false)?.id == usp.id)
        let events = try await registry.store.events(deviceID: device.id, limit: 10)
        #expect(events.contains { $0.summary == "task \(usp.id) queued: get (over usp only)" && $0.actor == "migration:m" })
    }

    @Test func aClaimCanTakeUnpinnedWorkOnlyWhileTheDeviceIsManagedOverItsProtocol() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let device = try await registry.store.recordCWMPContact(try CWMPDeviceID(oui: "00D09E", serialNumber: "P2"), details: DeviceDetails(), at: t0)
        let unpinned = try await registry.store.enqueueTask(deviceID: device.id, operation: .factoryReset, expiresAt: nil, actor: "token:ops")
        // Managed over CWMP: a USP runner leaves the unpinned task alone, but takes work pinned to USP.
        #expect(try await registry.store.claimNextTask(deviceID: device.id, at: t0, over: .usp, unpinned: .whenManagedOverClaimingProtocol) == nil)
        let get = TandemCore.Operation.get(paths: [try PathExpression("Device.DeviceInfo.")])
        let pinned = try await registry.store.enqueueTask(deviceID: device.id, operation: get, expiresAt: nil, actor: "migration:m", pinnedTo: .usp)
        #expect(try await registry.store.claimNextTask(deviceID: device.id, at: t0, over: .usp, unpinned: .whenManagedOverClaimingProtocol)?.id == pinned.id)
        #expect(try await registry.store.claimNextTask(deviceID: device.id, at: t0, over: .usp, unpinned: .whenManagedOverClaimingProtocol) == nil)
        // Once the device is managed over USP, the same claim takes it.
        try await registry.store.setActiveProtocol(deviceID: device.id, .usp, actor: "migration:m", at: t0)
        let claimed = try await registry.store.claimNextTask(deviceID: device.id, at: t0, over: .usp, unpinned: .whenManagedOverClaimingProtocol)
        #expect(claimed?.id == unpinned.id)
        #expect(claimed?.state == .running)
    }

    @Test func migrationRecordsRoundTripWithTheirHistory() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let device = try await registry.store.recordCWMPContact(try CWMPDeviceID(oui: "00D09E", serialNumber: "M1"), details: DeviceDetails(), at: t0)
        var record = MigrationDeviceRecord(
            migration: "m", deviceID: device.id, state: .enabling, wave: 1, template: "tr181-usp-agent", endpointID: "os::00D09E-M1",
            startedAt: t0, updatedAt: t0)
        try await registry.store.saveMigrationDevice(record, event: "enabling", actor: "migration:m")
        record.bindings = ["client": "Device.MQTT.Client.2."]
        record.created = ["Device.MQTT.Client.2."]
        record.restore = ["Device.X.Port": .unsignedInt(1883)]
        record.step = 1
        record.taskID = 42
        record.state = .verifying
        record.deadline = t0.addingTimeInterval(600)
        record.updatedAt = t0.addingTimeInterval(5)
        try await registry.store.saveMigrationDevice(record, event: "verifying", actor: "migration:m")

        #expect(try await registry.store.migrationDevice(migration: "m", deviceID: device.id) == record)
        #expect(try await registry.store.migrationDevices(deviceID: device.id) == [record])
        #expect(try await registry.store.migrationDevices(migration: "m", states: [.usp]).isEmpty)
        let counts = try await registry.store.migrationCounts(migration: "m")
        #expect(counts.count(wave: 1, [.verifying]) == 1 && counts.count([.enabling]) == 0)
        #expect(try await registry.store.migrationStarts(migration: "m", since: t0) == 1)
        #expect(try await registry.store.migrationStarts(migration: "m", since: t0.addingTimeInterval(1)) == 0)
        let history = try await registry.store.events(deviceID: device.id, limit: 10).filter { $0.kind == "migration" }.map(\.summary)
        #expect(history == ["migration m: verifying", "migration m: enabling"])

        try await registry.store.setMigrationStatus(name: "m", state: .paused, reason: "too many failures", actor: "system", at: t0)
        #expect(try await registry.store.migrationStatus(name: "m")?.state == .paused)
        #expect(try await registry.store.migrationStatus(name: "m")?.reason == "too many failures")
    }

    @Test func policyStatusChangesAreLoggedOnce() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let device = try await registry.store.recordCWMPContact(try CWMPDeviceID(oui: "00D09E", serialNumber: "S1"), details: DeviceDetails(), at: t0)
        let pending = PolicyStatus(deviceID: device.id, policy: "wifi", state: .pending, updatedAt: t0)
        try await registry.store.savePolicyStatuses([pending])
        try await registry.store.savePolicyStatuses([pending])  // no change, no event
        var faulted = pending
        faulted.state = .faulted
        faulted.attempts = 1
        faulted.lastFault = "9007 invalid parameter value"
        faulted.nextAttemptAt = t0.addingTimeInterval(60)
        try await registry.store.savePolicyStatuses([faulted])
        #expect(try await registry.store.policyStatuses(deviceID: device.id) == [faulted])
        #expect(try await registry.store.policyStatusCounts() == ["wifi": [.faulted: 1]])
        let log = try await registry.store.events(deviceID: device.id, limit: 10).filter { $0.kind == "policy" }.map(\.summary)
        #expect(log == ["policy wifi: faulted (9007 invalid parameter value)", "policy wifi: pending"])
    }

    @Test func policyDocumentsAndTheActiveProtocol() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        #expect(try await registry.store.currentPolicyDocument() == nil)
        _ = try await registry.store.storePolicyDocument(fileName: "a.yaml", text: "policies: []", actor: "token:admin", at: t0)
        let second = try await registry.store.storePolicyDocument(fileName: "b.yaml", text: "migrations: []", actor: "token:admin", at: t0)
        #expect(try await registry.store.currentPolicyDocument() == second)

        let device = try await registry.store.recordCWMPContact(try CWMPDeviceID(oui: "00D09E", serialNumber: "A1"), details: DeviceDetails(), at: t0)
        #expect(device.activeProtocol == .cwmp)
        try await registry.store.setActiveProtocol(deviceID: device.id, .usp, actor: "migration:m", at: t0)
        #expect(try await registry.store.device(.registryID(device.id))?.activeProtocol == .usp)
        #expect(try await registry.store.events(deviceID: device.id, limit: 5).first?.summary == "managed over usp from now on")
    }
}
