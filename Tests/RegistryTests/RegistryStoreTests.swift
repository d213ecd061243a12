import Foundation
import GRDB
import Registry
import TandemCore
import Testing

@Suite struct RegistryStoreTests {
    @Test func opensOneWALFileWithEveryMigration() throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        #expect(registry.path.hasSuffix("/registry.sqlite"))
        #expect(FileManager.default.fileExists(atPath: registry.path))
        #expect(try registry.store.journalMode() == "wal")
        #expect(try registry.store.appliedMigrations() == SQLiteRegistryStore.knownMigrations)
        #expect(SQLiteRegistryStore.knownMigrations == ["v1-devices-parameters", "v2-tasks-events-tags", "v3-credentials", "v4-api-tokens", "v5-provisioning-migration", "v6-device-selection-index",
            "v7-inform-parameter-times",
        ])
    }

    /// A selection by product class and software version reads the index, not the device table
    /// (issue 7: selection over 1,000,000 devices under 1 s).
    @Test func selectionByProductClassAndVersionUsesTheIndex() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let queue = try DatabaseQueue(path: registry.path)
        let plan = try await queue.read { db in
            try Row.fetchAll(
                db, sql: "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM device d WHERE d.productClass = ? AND d.softwareVersion = ?",
                arguments: ["BenchGateway", "2.0.0"]
            ).map { $0["detail"] as String }.joined(separator: "\n")
        }
        #expect(plan.contains("INDEX device_productClass_softwareVersion"), "query plan: \(plan)")
        // The store's own count agrees with the rows.
        for (serial, version) in [("A1", "1.0.0"), ("A2", "2.0.0"), ("A3", "2.0.0")] {
            var details = DeviceDetails()
            details.softwareVersion = version
            _ = try await registry.store.recordInform(
                InformRecord(
                    identity: try CWMPDeviceID(oui: "ACDE48", productClass: "BenchGateway", serialNumber: serial), details: details,
                    eventCodes: ["1 BOOT"], parameters: []),
                at: Date())
        }
        #expect(try await registry.store.countDevices(matching: DeviceFilter(productClass: "BenchGateway", softwareVersion: "2.0.0")) == 2)
    }

    @Test func upgradesADatabaseWrittenByAnEarlierMigration() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-upgrade-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/registry.sqlite"
        // Given: a database at v1, with rows written the way v1 wrote them.
        do {
            let old = try SQLiteRegistryStore(path: path, upTo: "v1-devices-parameters")
            #expect(try old.appliedMigrations() == ["v1-devices-parameters"])
        }
        do {
            let queue = try DatabaseQueue(path: path)
            try await queue.write { db in
                try db.execute(sql: """
                    INSERT INTO device (id, cwmpDeviceId, oui, productClass, serialNumber, protocols, activeProtocol, createdAt, updatedAt)
                    VALUES (7, '00D09E-IGD-OLD1', '00D09E', 'IGD', 'OLD1', 'cwmp', 'cwmp', 1000, 1000);
                    INSERT INTO deviceIdentifier (value, deviceId, kind) VALUES ('00D09E-IGD-OLD1', 7, 'cwmp');
                    INSERT INTO parameter (deviceId, path, value, type, writable, updatedAt)
                    VALUES (7, 'Device.DeviceInfo.SoftwareVersion', '3.2.1', 'string', 0, 1000);
                    """)
                #expect(try db.tableExists("task") == false)
            }
        }
        // When: the current version opens it.
        let store = try SQLiteRegistryStore(path: path)
        // Then: every migration is applied and the old rows are intact and usable.
        #expect(try store.appliedMigrations() == SQLiteRegistryStore.knownMigrations)
        let device = try #require(try await store.device(try DeviceIdentifier(parsing: "00D09E-IGD-OLD1")))
        #expect(device.id == 7)
        #expect(device.tags.isEmpty)
        let parameters = try await store.parameters(deviceID: 7, under: "Device.")
        #expect(parameters.map(\.path) == ["Device.DeviceInfo.SoftwareVersion"])
        #expect(parameters.first?.value == .string("3.2.1"))
        #expect(parameters.first?.writable == false)
        let task = try await store.enqueueTask(deviceID: 7, operation: .reboot(commandKey: nil), expiresAt: nil, actor: "test")
        #expect(task.state == .queued)
        #expect(try await store.updateTags(deviceID: 7, adding: ["legacy"], removing: [], actor: "test") == ["legacy"])
    }

    @Test func parametersStoreReplaceAndRemove() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let store = registry.store
        let device = try await store.recordCWMPContact(try CWMPDeviceID(oui: "00D09E", serialNumber: "1"), details: DeviceDetails(), at: t0)
        try await store.storeParameters(deviceID: device.id, [
            StoredParameter(path: "Device.WiFi.SSID.1.SSID", value: .string("home"), writable: true, updatedAt: t0),
            StoredParameter(path: "Device.WiFi.SSID.2.SSID", value: .string("guest"), writable: true, updatedAt: t0),
            StoredParameter(path: "Device.WiFi.SSID.10.SSID", value: .string("ten"), writable: true, updatedAt: t0),
            StoredParameter(path: "Device.DeviceInfo.UpTime", value: .unsignedInt(42), writable: false, updatedAt: t0),
        ], replacingSubtree: nil)
        // A value-only update keeps the writability learnt earlier.
        try await store.storeParameters(deviceID: device.id, [
            StoredParameter(path: "Device.DeviceInfo.UpTime", value: .unsignedInt(43), writable: nil, updatedAt: t0),
        ], replacingSubtree: nil)
        let upTime = try await store.parameters(deviceID: device.id, under: "Device.DeviceInfo.UpTime")
        #expect(upTime.first?.value == .unsignedInt(43))
        #expect(upTime.first?.writable == false)
        // A path listed twice in one write keeps its later value, whether it existed (UpTime) or
        // is new (Channel): existing rows are updated first, new ones inserted after them.
        try await store.storeParameters(deviceID: device.id, [
            StoredParameter(path: "Device.WiFi.Radio.1.Channel", value: .unsignedInt(1), writable: true, updatedAt: t0),
            StoredParameter(path: "Device.DeviceInfo.UpTime", value: .unsignedInt(44), writable: nil, updatedAt: t0),
            StoredParameter(path: "Device.WiFi.Radio.1.Channel", value: .unsignedInt(6), writable: nil, updatedAt: t0),
            StoredParameter(path: "Device.DeviceInfo.UpTime", value: .unsignedInt(45), writable: nil, updatedAt: t0),
        ], replacingSubtree: nil)
        let twice = try await store.parameters(deviceID: device.id, under: "Device.")
        #expect(twice.first { $0.path == "Device.DeviceInfo.UpTime" }?.value == .unsignedInt(45))
        #expect(twice.first { $0.path == "Device.WiFi.Radio.1.Channel" }?.value == .unsignedInt(6))
        #expect(twice.first { $0.path == "Device.WiFi.Radio.1.Channel" }?.writable == true)
        #expect(twice.filter { $0.path == "Device.WiFi.Radio.1.Channel" }.count == 1)
        try await store.removeParameters(deviceID: device.id, under: "Device.WiFi.Radio.")
        // A full read of SSID.1. removes nothing outside it; "SSID.1." must not match "SSID.10.".
        try await store.storeParameters(deviceID: device.id, [], replacingSubtree: "Device.WiFi.SSID.1.")
        let ssids = try await store.parameters(deviceID: device.id, under: "Device.WiFi.")
        #expect(ssids.map(\.path) == ["Device.WiFi.SSID.10.SSID", "Device.WiFi.SSID.2.SSID"])
        try await store.removeParameters(deviceID: device.id, under: "Device.")
        #expect(try await store.parameters(deviceID: device.id, under: "").isEmpty)
    }

    /// A claim answers "nothing queued" from memory for devices without queued tasks; every way a
    /// task becomes queued is still seen: queued after a claim found nothing, requeued by a retried
    /// fault, queued before the store was opened.
    @Test func claimsFindEveryQueuedTask() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-claims-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let queued: DeviceTask
        let deviceID: Int64
        do {
            let store = try SQLiteRegistryStore(dataDirectory: directory)
            deviceID = try await store.recordCWMPContact(try CWMPDeviceID(oui: "00D09E", serialNumber: "Q1"), details: DeviceDetails(), at: t0).id
            #expect(try await store.claimNextTask(deviceID: deviceID, at: t0) == nil)
            queued = try await store.enqueueTask(deviceID: deviceID, operation: .reboot(commandKey: nil), expiresAt: nil, actor: "token:ops")
            #expect(try await store.claimNextTask(deviceID: deviceID, at: t0)?.id == queued.id)
            #expect(try await store.claimNextTask(deviceID: deviceID, at: t0) == nil)
            try await store.failTask(id: queued.id, fault: Fault(category: .unreachable, message: "no answer"), retry: true, at: t0)
            #expect(try await store.claimNextTask(deviceID: deviceID, at: t0)?.id == queued.id)
            try await store.failTask(id: queued.id, fault: Fault(category: .unreachable, message: "no answer"), retry: true, at: t0)
        }
        let reopened = try SQLiteRegistryStore(dataDirectory: directory)
        let claimed = try #require(try await reopened.claimNextTask(deviceID: deviceID, at: t0))
        #expect(claimed.id == queued.id)
        #expect(claimed.attempts == 3)
        #expect(try await reopened.claimNextTask(deviceID: deviceID, at: t0) == nil)
    }

    @Test func taskLifecycle() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let store = registry.store
        let device = try await store.recordCWMPContact(try CWMPDeviceID(oui: "00D09E", serialNumber: "1"), details: DeviceDetails(), at: t0)
        let path = try PathExpression("Device.DeviceInfo.SoftwareVersion")
        let expired = try await store.enqueueTask(deviceID: device.id, operation: .factoryReset, expiresAt: t0.addingTimeInterval(-1), actor: "token:ops")
        let first = try await store.enqueueTask(deviceID: device.id, operation: .get(paths: [path]), expiresAt: nil, actor: "token:ops")
        let second = try await store.enqueueTask(deviceID: device.id, operation: .reboot(commandKey: "r"), expiresAt: t0.addingTimeInterval(3600), actor: "token:ops")

        let claimed = try #require(try await store.claimNextTask(deviceID: device.id, at: t0))
        #expect(claimed.id == first.id)
        #expect(claimed.state == .running)
        #expect(claimed.attempts == 1)
        #expect(try await store.task(id: expired.id)?.state == .expired)

        let result = OperationResult(entries: [PathResult(path: path.description, outcome: .value(.string("4.0")))])
        try await store.completeTask(id: first.id, result: result, parameters: [
            StoredParameter(path: path.description, value: .string("4.0"), updatedAt: t0),
        ], at: t0)
        let done = try #require(try await store.task(id: first.id))
        #expect(done.state == .done)
        #expect(done.result == result)
        #expect(try await store.parameters(deviceID: device.id, under: path.description).first?.value == .string("4.0"))

        // A retryable fault requeues; a final one faults.
        let running = try #require(try await store.claimNextTask(deviceID: device.id, at: t0))
        #expect(running.id == second.id)
        try await store.failTask(id: second.id, fault: Fault(category: .unreachable, message: "no answer"), retry: true, at: t0)
        #expect(try await store.task(id: second.id)?.state == .queued)
        _ = try await store.claimNextTask(deviceID: device.id, at: t0)
        try await store.failTask(id: second.id, fault: Fault(cwmp: .requestDenied), retry: false, at: t0)
        let faulted = try #require(try await store.task(id: second.id))
        #expect(faulted.state == .faulted)
        #expect(faulted.attempts == 2)
        #expect(faulted.fault == Fault(cwmp: .requestDenied))
        #expect(try await store.claimNextTask(deviceID: device.id, at: t0) == nil)

        let third = try await store.enqueueTask(deviceID: device.id, operation: .factoryReset, expiresAt: nil, actor: "token:admin")
        #expect(try await store.cancelTask(id: third.id, actor: "token:admin", at: t0))
        #expect(try await store.cancelTask(id: third.id, actor: "token:admin", at: t0) == false)
        #expect(try await store.tasks(deviceID: device.id, states: [.faulted, .cancelled]).map(\.id) == [third.id, second.id])
        await #expect(throws: RegistryError.taskNotFound(999)) { try await store.cancelTask(id: 999, actor: "x", at: t0) }
        await #expect(throws: RegistryError.deviceNotFound(999)) {
            try await store.enqueueTask(deviceID: 999, operation: .factoryReset, expiresAt: nil, actor: "x")
        }

        let statistics = try await store.statistics()
        #expect(statistics.tasksByState[.done] == 1)
        #expect(statistics.tasksByState[.faulted] == 1)
        #expect(statistics.tasksByState[.expired] == 1)
        #expect(statistics.tasksByState[.cancelled] == 1)
        let actors = try await store.events(deviceID: device.id, limit: 100).map(\.actor)
        #expect(actors.contains("token:admin"))
    }

    @Test func completingATaskReplacesAndRemovesSubtreesInOneTransaction() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let store = registry.store
        let device = try await store.recordCWMPContact(try CWMPDeviceID(oui: "00D09E", serialNumber: "2"), details: DeviceDetails(), at: t0)
        try await store.storeParameters(deviceID: device.id, [
            StoredParameter(path: "Device.WiFi.SSID.1.SSID", value: .string("a"), updatedAt: t0),
            StoredParameter(path: "Device.WiFi.SSID.9.SSID", value: .string("gone"), updatedAt: t0),
            StoredParameter(path: "Device.Hosts.Host.1.HostName", value: .string("tv"), updatedAt: t0),
            StoredParameter(path: "Device.Time.Enable", value: .boolean(true), updatedAt: t0),
        ], replacingSubtree: nil)
        let task = try await store.enqueueTask(
            deviceID: device.id, operation: .discover(object: try PathExpression("Device.WiFi."), nextLevel: false), expiresAt: nil, actor: "test")
        _ = try await store.claimNextTask(deviceID: device.id, at: t0)
        try await store.completeTask(
            id: task.id, result: OperationResult(),
            parameters: [StoredParameter(path: "Device.WiFi.SSID.1.SSID", value: nil, writable: true, updatedAt: t0)],
            replacingSubtrees: ["Device.WiFi."], removingSubtrees: ["Device.Hosts.Host.1."], at: t0)
        let left = try await store.parameters(deviceID: device.id, under: "")
        #expect(left.map(\.path) == ["Device.Time.Enable", "Device.WiFi.SSID.1.SSID"])
        // A listing without values keeps the value already stored and learns the writability.
        #expect(left.last?.value == .string("a"))
        #expect(left.last?.writable == true)
        #expect(try await store.task(id: task.id)?.state == .done)
    }

    @Test func eventLogIsAppendOnly() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        try await registry.store.appendEvent(DeviceEvent(deviceID: nil, at: t0, kind: "operator", summary: "hello", actor: "token:ops", detail: ["k": "v"]))
        let events = try await registry.store.events(deviceID: nil, limit: 5)
        #expect(events.count == 1)
        #expect(events.first?.detail == ["k": "v"])
        let queue = try DatabaseQueue(path: registry.path)
        #expect(throws: DatabaseError.self) { try queue.write { db in try db.execute(sql: "UPDATE event SET summary = 'x'") } }
        #expect(throws: DatabaseError.self) { try queue.write { db in try db.execute(sql: "DELETE FROM event") } }
        #expect(try await registry.store.events(deviceID: nil, limit: 5).first?.summary == "hello")
    }

    @Test func filtersPagingAndTags() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let store = registry.store
        var ids: [Int64] = []
        for index in 1...25 {
            let device = try await store.recordCWMPContact(
                try CWMPDeviceID(manufacturer: index % 2 == 0 ? "Acme" : "Other", oui: "00D09E", productClass: "P\(index % 3)", serialNumber: "S\(index)"),
                details: DeviceDetails(softwareVersion: "v\(index % 4)"), at: t0)
            ids.append(device.id)
        }
        _ = try await store.recordUSPContact(try EndpointID("os::00D09E-S5"), identity: nil, details: DeviceDetails(), at: t0)
        #expect(try await store.updateTags(deviceID: ids[0], adding: ["beta", "lab"], removing: [], actor: "t") == ["beta", "lab"])
        #expect(try await store.updateTags(deviceID: ids[0], adding: [], removing: ["lab"], actor: "t") == ["beta"])
        await #expect(throws: RegistryError.invalidTag("has space")) {
            try await store.updateTags(deviceID: ids[0], adding: ["has space"], removing: [], actor: "t")
        }

        #expect(try await store.countDevices(matching: DeviceFilter(manufacturer: "Acme")) == 12)
        #expect(try await store.countDevices(matching: DeviceFilter(productClass: "P0")) == 8)
        #expect(try await store.countDevices(matching: DeviceFilter(protocolSpoken: .usp)) == 1)
        #expect(try await store.countDevices(matching: DeviceFilter(tag: "beta")) == 1)
        #expect(try await store.devices(matching: DeviceFilter(tag: "beta"), page: Page()).first?.tags == ["beta"])
        #expect(try await store.countDevices(matching: DeviceFilter(text: "S1")) == 11)  // S1, S10-S19
        #expect(try await store.countDevices(matching: DeviceFilter(text: "%")) == 0)
        #expect(try await store.countDevices(matching: DeviceFilter(oui: "00d09e", softwareVersion: "v1")) == 7)

        var seen: [Int64] = []
        var after: Int64?
        while true {
            let page = try await store.devices(matching: DeviceFilter(), page: Page(limit: 10, after: after))
            if page.isEmpty { break }
            seen += page.map(\.id)
            after = page.last?.id
        }
        #expect(seen == ids)
        let statistics = try await store.statistics()
        #expect(statistics.devices == 25)
        #expect(statistics.devicesByProtocol[.cwmp] == 25)
    }
}
