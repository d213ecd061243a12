import Foundation
import GRDB
import Registry
import TandemCore
import Testing

@Suite struct InformAndCredentialTests {
    let identity = try! CWMPDeviceID(manufacturer: "Acme", oui: "00D09E", productClass: "IGD", serialNumber: "S1")

    func parameter(_ path: String, _ value: TypedValue) -> StoredParameter {
        StoredParameter(path: path, value: value, updatedAt: t0)
    }

    @Test func informStoresParametersAndEventInOneGo() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let device = try await registry.store.recordInform(
            InformRecord(
                identity: identity, details: DeviceDetails(softwareVersion: "1.0", dataModelRoot: "Device"),
                eventCodes: ["1 BOOT", "M Reboot"],
                parameters: [parameter("Device.DeviceInfo.SoftwareVersion", .string("1.0")), parameter("Device.ManagementServer.ConnectionRequestURL", .string("http://cpe/cr"))],
                remoteAddress: "10.0.0.7", retryCount: 2),
            at: t0)
        let stored = try await registry.store.parameters(deviceID: device.id, under: "Device.")
        #expect(stored.map(\.path) == ["Device.DeviceInfo.SoftwareVersion", "Device.ManagementServer.ConnectionRequestURL"])
        let events = try await registry.store.events(deviceID: device.id, limit: 10)
        #expect(events.first?.kind == "boot")
        #expect(events.first?.summary == "Inform: 1 BOOT, M Reboot")
        #expect(events.first?.detail == ["events": "1 BOOT, M Reboot", "remoteAddress": "10.0.0.7", "retryCount": "2"])
    }

    /// A periodic Inform assigns the device's indexed columns (identity, software version) only when
    /// they differ from the row's; every other reported detail and the contact time are written each time.
    @Test func periodicInformsUpdateTheRowAndANewVersionMovesItInTheSelection() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let store = registry.store
        func inform(_ details: DeviceDetails, at time: Date) async throws -> Device {
            let recorded = try await store.recordInform(InformRecord(identity: identity, details: details, eventCodes: ["2 PERIODIC"], parameters: []), at: time)
            return try #require(try await store.device(.registryID(recorded.id)))
        }
        let first = try await inform(DeviceDetails(modelName: "M1", softwareVersion: "1.0"), at: t0)
        #expect(first.softwareVersion == "1.0")
        // No version reported, then the same version with a new model name: the version stays, the rest moves on.
        _ = try await inform(DeviceDetails(), at: t0.addingTimeInterval(60))
        let same = try await inform(DeviceDetails(modelName: "M2", softwareVersion: "1.0"), at: t0.addingTimeInterval(120))
        #expect(same.softwareVersion == "1.0")
        #expect(same.modelName == "M2")
        #expect(same.lastContact == t0.addingTimeInterval(120))
        #expect(same.oui == "00D09E" && same.productClass == "IGD" && same.serialNumber == "S1")
        #expect(try await store.countDevices(matching: DeviceFilter(productClass: "IGD", softwareVersion: "1.0")) == 1)
        // A new version is written, and the selection index follows it.
        let upgraded = try await inform(DeviceDetails(softwareVersion: "2.0"), at: t0.addingTimeInterval(180))
        #expect(upgraded.softwareVersion == "2.0")
        #expect(upgraded.modelName == "M2")
        #expect(try await store.countDevices(matching: DeviceFilter(productClass: "IGD", softwareVersion: "1.0")) == 0)
        #expect(try await store.countDevices(matching: DeviceFilter(productClass: "IGD", softwareVersion: "2.0")) == 1)
        // Compared as bytes, as SQLite stores them: another Unicode spelling of the same text is written.
        let composed = try await inform(DeviceDetails(softwareVersion: "2.0-\u{E9}"), at: t0.addingTimeInterval(240))
        let decomposed = try await inform(DeviceDetails(softwareVersion: "2.0-e\u{301}"), at: t0.addingTimeInterval(300))
        #expect(Array(composed.softwareVersion.utf8) == Array("2.0-\u{E9}".utf8))
        #expect(Array(decomposed.softwareVersion.utf8) == Array("2.0-e\u{301}".utf8))
    }

    @Test func bootstrapForgetsTheOldDataModel() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let device = try await registry.store.recordInform(
            InformRecord(identity: identity, details: DeviceDetails(), eventCodes: ["2 PERIODIC"],
                         parameters: [parameter("Device.WiFi.SSID.1.SSID", .string("old"))]), at: t0)
        try await registry.store.storeParameters(deviceID: device.id, [parameter("Device.WiFi.SSID.2.SSID", .string("older"))], replacingSubtree: nil)
        _ = try await registry.store.recordInform(
            InformRecord(identity: identity, details: DeviceDetails(), eventCodes: ["0 BOOTSTRAP", "1 BOOT"],
                         parameters: [parameter("Device.DeviceInfo.SoftwareVersion", .string("2.0"))]), at: t0)
        let stored = try await registry.store.parameters(deviceID: device.id, under: "")
        #expect(stored.map(\.path) == ["Device.DeviceInfo.SoftwareVersion"])
        #expect(try await registry.store.events(deviceID: device.id, limit: 1).first?.kind == "bootstrap")
    }

    @Test func batchedInformsWriteWhatSingleInformsWrite() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let other = try CWMPDeviceID(manufacturer: "Acme", oui: "00D09E", productClass: "IGD", serialNumber: "S2")
        _ = try await registry.store.recordInform(
            InformRecord(identity: identity, details: DeviceDetails(), eventCodes: ["2 PERIODIC"],
                         parameters: [parameter("Device.WiFi.SSID.1.SSID", .string("old"))]), at: t0)
        try await registry.store.recordInforms([
            InformRecord(identity: identity, details: DeviceDetails(softwareVersion: "2.0"), eventCodes: ["0 BOOTSTRAP", "1 BOOT"],
                         parameters: [parameter("Device.DeviceInfo.SoftwareVersion", .string("2.0"))]),
            InformRecord(identity: other, details: DeviceDetails(softwareVersion: "1.0"), eventCodes: ["1 BOOT"],
                         parameters: [parameter("Device.DeviceInfo.SoftwareVersion", .string("1.0"))]),
        ], at: t0)
        let first = try #require(try await registry.store.device(.cwmp(identity)))
        let second = try #require(try await registry.store.device(.cwmp(other)))
        // BOOTSTRAP in a batch forgets the old data model, as a single Inform does.
        #expect(try await registry.store.parameters(deviceID: first.id, under: "").map(\.path) == ["Device.DeviceInfo.SoftwareVersion"])
        #expect(try await registry.store.events(deviceID: first.id, limit: 1).first?.kind == "bootstrap")
        #expect(try await registry.store.events(deviceID: second.id, limit: 1).first?.kind == "boot")
        #expect(try await registry.store.countDevices(matching: DeviceFilter(softwareVersion: "2.0")) == 1)
    }

    @Test func credentialsPerPurposeAndLookupByUsername() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let store = registry.store
        let device = try await store.recordCWMPContact(identity, details: DeviceDetails(), at: t0)
        try await store.setCredentials(deviceID: device.id, purpose: .cpe, username: "00D09E-IGD-S1", password: "s3cret", actor: "token:admin")
        try await store.setCredentials(deviceID: device.id, purpose: .connectionRequest, username: "cr", password: "crpw", actor: "token:admin")
        try await store.setCredentials(deviceID: device.id, purpose: .cpe, username: "00D09E-IGD-S1", password: "rotated", actor: "token:admin")
        #expect(try await store.credentials(deviceID: device.id, purpose: .cpe)?.password == "rotated")
        #expect(try await store.credentials(deviceID: device.id, purpose: .connectionRequest)?.username == "cr")
        #expect(try await store.cpeCredentials(username: "00D09E-IGD-S1")?.deviceID == device.id)
        #expect(try await store.cpeCredentials(username: "cr") == nil)  // connection request names are not CPE logins
        // Secrets stay out of the event log and out of descriptions.
        let events = try await store.events(deviceID: device.id, limit: 10)
        #expect(!events.contains { $0.summary.contains("rotated") || $0.summary.contains("s3cret") || $0.detail.values.contains("rotated") })
        #expect(try await store.credentials(deviceID: device.id, purpose: .cpe)?.description.contains("rotated") == false)
        // Two devices cannot share a CPE username.
        let other = try await store.recordCWMPContact(try CWMPDeviceID(oui: "00D09E", serialNumber: "S2"), details: DeviceDetails(), at: t0)
        await #expect(throws: DatabaseError.self) {
            try await store.setCredentials(deviceID: other.id, purpose: .cpe, username: "00D09E-IGD-S1", password: "x", actor: "t")
        }
    }

    @Test func registryFileIsPrivate() throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let attributes = try FileManager.default.attributesOfItem(atPath: registry.path)
        #expect((attributes[.posixPermissions] as? Int).map { $0 & 0o077 } == 0)
    }
}
