import Engine
import Foundation
import Logging
import Policy
import Registry
import TandemCore
import TandemServer
import Testing

/// The desired-state engine against a real registry, with the device's side played by completing
/// the tasks it queues.
@Suite struct ProvisioningEngineTests {
    func makeServer(_ directory: String) throws -> TandemServer {
        try TandemServerTests.makeServer(dataDirectory: directory, label: "engine") { $0.provisioning.maxRoundsPerContact = 3 }
    }

    /// A device that acknowledges every write but keeps its old value never converges: the engine
    /// stops after the round limit and reports it, instead of cycling.
    @Test func aDeviceThatNeverHoldsTheValueIsReportedUnsettled() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let server = try makeServer(directory)
        _ = try await server.provisioning.apply(text: """
            policies:
              - name: stubborn
                triggers: [periodic]
                ensure: {parameters: {Device.Time.NTPServer1: ntp.tandem.test}}
            """, fileName: "p.yaml", actor: "test")
        let device = try await server.registry.recordCWMPContact(try CWMPDeviceID(oui: "00D09E", serialNumber: "U1"), details: DeviceDetails(), at: Date())
        await server.provisioning.contactStarted(deviceID: device.id, over: .cwmp, triggers: [.periodic])
        var rounds = 0
        while await server.provisioning.deviceIdle(deviceID: device.id, over: .cwmp) {
            rounds += 1
            let task = try #require(try await server.registry.claimNextTask(deviceID: device.id, at: Date(), over: .cwmp, includeUnpinned: true))
            #expect(task.origin == "policy:stubborn")
            // The device says done, then reports its old value again (a value it silently rewrites).
            try await server.registry.completeTask(id: task.id, result: OperationResult(), parameters: [
                StoredParameter(path: "Device.Time.NTPServer1", value: .string("pool.ntp.org"), updatedAt: Date()),
            ], at: Date())
            #expect(rounds <= 3, "the engine must stop after its round limit")
            if rounds > 3 { break }
        }
        #expect(rounds == 3)
        let status = try #require(try await server.registry.policyStatuses(deviceID: device.id).first)
        #expect(status.state == .unsettled)
        #expect(status.lastFault == "still differing after 3 rounds in one contact")
        #expect(try await server.registry.events(deviceID: device.id, limit: 20).contains { $0.summary.hasPrefix("policy stubborn: unsettled") })
    }

    /// Triggers decide: a policy for `boot` ignores a periodic contact, and `on-demand` runs at apply.
    @Test func policiesRunOnlyOnTheirTriggers() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let server = try makeServer(directory)
        let device = try await server.registry.recordCWMPContact(try CWMPDeviceID(oui: "00D09E", serialNumber: "T1"), details: DeviceDetails(), at: Date())
        let report = try await server.provisioning.apply(text: """
            policies:
              - name: at-boot
                triggers: [boot]
                ensure: {parameters: {Device.A.B: x}}
              - name: now
                triggers: [on-demand]
                ensure: {parameters: {Device.A.C: y}}
            """, fileName: "p.yaml", actor: "test")
        #expect(report.tasksQueued == 1)
        let queued = try await server.registry.tasks(deviceID: device.id, states: [.queued])
        #expect(queued.map(\.origin) == ["policy:now"])
        await server.provisioning.contactStarted(deviceID: device.id, over: .cwmp, triggers: PolicyTrigger.forInform(eventCodes: ["2 PERIODIC"]))
        // "now" still has work queued and "at-boot" is not for periodic contacts: nothing new.
        #expect(!(await server.provisioning.deviceIdle(deviceID: device.id, over: .cwmp)))
        await server.provisioning.contactStarted(deviceID: device.id, over: .cwmp, triggers: PolicyTrigger.forInform(eventCodes: ["1 BOOT"]))
        #expect(await server.provisioning.deviceIdle(deviceID: device.id, over: .cwmp))
        #expect(Set(try await server.registry.tasks(deviceID: device.id, states: [.queued]).compactMap(\.origin)) == ["policy:now", "policy:at-boot"])
    }
}

/// Migration ticks against a real registry, without devices answering: what each tick starts.
@Suite struct MigrationTickTests {
    /// Ticks asked for at once (the timer's, a policy apply's, an operator's) run one after the
    /// other: each device is started once, with one queued step, however the ticks interleave.
    @Test func concurrentTicksStartEachDeviceOnce() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let server = try makeServer(dataDirectory: directory, label: "migration-ticks")
        _ = try await server.provisioning.apply(text: """
            migrations:
              - name: fleet
                select: {protocol: cwmp, productClass: DualStackGW}
                target: {mtp: websocket, host: 127.0.0.1, port: 9, path: /usp}
                controllerEndpointID: self::tandem
                waves: [{name: all, percent: 100}]
            """, fileName: "m.yaml", actor: "test")
        // Devices that appear once the migration is in force: the next ticks find them.
        var ids: [Int64] = []
        for index in 0..<60 {
            let device = try await server.registry.recordCWMPContact(
                try CWMPDeviceID(oui: "00D09E", productClass: "DualStackGW", serialNumber: "TK\(index)"), details: DeviceDetails(), at: Date())
            ids.append(device.id)
        }
        let coordinator = await server.provisioning.migrations
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<4 { group.addTask { await coordinator.tick(now: Date()) } }
        }
        let records = try await server.registry.migrationDevices(migration: "fleet", states: [])
        #expect(records.count == ids.count)
        for id in ids {
            let queued = try await server.registry.tasks(deviceID: id, states: [.queued])
            #expect(queued.count == 1, "device \(id): \(queued.count) queued steps")
            let starts = try await server.registry.events(deviceID: id, limit: 50).filter { $0.summary.hasPrefix("migration fleet: enabling the USP agent") }
            #expect(starts.count == 1, "device \(id) started \(starts.count) times")
        }
    }
}
