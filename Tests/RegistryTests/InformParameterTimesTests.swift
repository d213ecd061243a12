import Foundation
import GRDB
import Registry
import TandemCore
import Testing

/// A periodic Inform writes only the parameter rows whose values changed; every row the Inform
/// reports still reads as reported at that Inform (migration v7-inform-parameter-times).
@Suite struct InformParameterTimesTests {
    let identity = try! CWMPDeviceID(manufacturer: "Acme", oui: "00D09E", productClass: "IGD", serialNumber: "T1")
    static let uptime = "Device.DeviceInfo.UpTime"
    static let version = "Device.DeviceInfo.SoftwareVersion"
    static let ssid = "Device.WiFi.SSID.1.SSID"
    static let extra = "Device.Hosts.HostNumberOfEntries"
    let t1 = t0.addingTimeInterval(60), t2 = t0.addingTimeInterval(120), t3 = t0.addingTimeInterval(180)

    func inform(_ values: [(String, TypedValue)], events: [String] = ["2 PERIODIC"], at time: Date) -> InformRecord {
        InformRecord(
            identity: identity, details: DeviceDetails(softwareVersion: "1.0", dataModelRoot: "Device"), eventCodes: events,
            parameters: values.map { StoredParameter(path: $0.0, value: $0.1, updatedAt: time) })
    }

    func periodic(uptime: UInt32, ssid: String = "home", at time: Date) -> InformRecord {
        inform([(Self.version, .string("1.0")), (Self.uptime, .unsignedInt(uptime)), (Self.ssid, .string(ssid))], at: time)
    }

    /// The rows as stored: each one's own time, and whether the device's Informs report it.
    func storedRows(_ path: String, device: Int64) async throws -> [String: (updatedAt: Double, informed: Bool, value: String?)] {
        let queue = try DatabaseQueue(path: path)
        return try await queue.read { db in
            var rows: [String: (Double, Bool, String?)] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT path, updatedAt, informed, value FROM parameter WHERE deviceId = ?", arguments: [device]) {
                rows[row["path"]] = (row["updatedAt"], row["informed"], row["value"])
            }
            return rows
        }
    }

    /// The device's first Inform, at t0: every row written.
    func registered(_ store: SQLiteRegistryStore) async throws -> Int64 {
        try await store.recordInform(periodic(uptime: 10, at: t0), at: t0).id
    }

    func readTimes(_ store: SQLiteRegistryStore, device: Int64) async throws -> [String: Date] {
        Dictionary(uniqueKeysWithValues: try await store.parameters(deviceID: device, under: "").map { ($0.path, $0.updatedAt) })
    }

    /// The digest is stored in the registry: it must not change between releases (a change costs
    /// every device one full write of its rows, no more).
    @Test func theNamesDigestKeepsItsValue() {
        #expect(periodic(uptime: 10, at: t0).parameterNamesDigest == -6_174_287_680_236_946_235)
        #expect(inform([], at: t0).parameterNamesDigest == -5_808_590_958_014_384_161)
    }

    @Test func aPeriodicInformWritesOnlyTheChangedRowsAndAllReadAsReported() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let store = registry.store
        let device = try await registered(store)
        _ = try await store.recordInform(periodic(uptime: 70, at: t1), at: t1)

        let rows = try await storedRows(registry.path, device: device)
        #expect(rows[Self.uptime]?.value == "70")
        #expect(rows[Self.uptime]?.updatedAt == t1.timeIntervalSince1970, "a changed value is written")
        #expect(rows[Self.version]?.updatedAt == t0.timeIntervalSince1970, "an unchanged value is not rewritten")
        #expect(rows[Self.ssid]?.updatedAt == t0.timeIntervalSince1970)
        #expect(rows.values.allSatisfy { $0.informed })
        #expect(try await readTimes(store, device: device) == [Self.version: t1, Self.uptime: t1, Self.ssid: t1])

        // A value's change is written however many Informs repeated it before.
        _ = try await store.recordInform(periodic(uptime: 130, ssid: "guest", at: t2), at: t2)
        let values = try await store.parameters(deviceID: device, under: "")
        #expect(values.first { $0.path == Self.ssid }?.value == .string("guest"))
        #expect(values.first { $0.path == Self.uptime }?.value == .unsignedInt(130))
        #expect(values.allSatisfy { $0.updatedAt == t2 })
        #expect(try await storedRows(registry.path, device: device)[Self.version]?.updatedAt == t0.timeIntervalSince1970)
    }

    /// The same text with another type is a change (a CPE that now reports `UpTime` as an int).
    @Test func aChangedTypeIsWritten() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let device = try await registered(registry.store)
        _ = try await registry.store.recordInform(
            inform([(Self.version, .string("1.0")), (Self.uptime, .int(10)), (Self.ssid, .string("home"))], at: t1), at: t1)
        let uptime = try await registry.store.parameters(deviceID: device, under: Self.uptime).first
        #expect(uptime?.value == .int(10))
    }

    /// A "4 VALUE CHANGE" Inform carries a parameter the periodic ones do not: it keeps the time
    /// of the Inform that reported it, while the others move on with each periodic Inform.
    @Test func aParameterOnlyOneInformReportedKeepsThatInformsTime() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let store = registry.store
        let device = try await registered(store)
        let changed = inform(
            [(Self.version, .string("1.0")), (Self.uptime, .unsignedInt(70)), (Self.ssid, .string("home")), (Self.extra, .unsignedInt(3))],
            events: ["4 VALUE CHANGE"], at: t1)
        _ = try await store.recordInform(changed, at: t1)
        _ = try await store.recordInform(periodic(uptime: 130, at: t2), at: t2)
        _ = try await store.recordInform(periodic(uptime: 190, at: t3), at: t3)
        let times = try await readTimes(store, device: device)
        #expect(times[Self.extra] == t1)
        #expect(times[Self.version] == t3)
        #expect(times[Self.ssid] == t3)
        #expect(try await storedRows(registry.path, device: device)[Self.extra]?.informed == false)
    }

    /// A row removed since the last Inform (an object deleted, a subtree re-read) comes back with
    /// the next Inform that reports it, though the names are the same as last time.
    @Test func aRemovedRowIsWrittenAgainByTheNextInform() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let store = registry.store
        let device = try await registered(store)
        try await store.removeParameters(deviceID: device, under: "Device.WiFi.")
        #expect(try await store.parameters(deviceID: device, under: Self.ssid).isEmpty)
        _ = try await store.recordInform(periodic(uptime: 70, at: t1), at: t1)
        let ssid = try await store.parameters(deviceID: device, under: Self.ssid).first
        #expect(ssid?.value == .string("home"))
        #expect(ssid?.updatedAt == t1)
    }

    /// A value read later (GetParameterValues) keeps its own, later time; an Inform after it
    /// reads as that Inform's.
    @Test func aLaterReadKeepsItsTimeUntilTheNextInform() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let store = registry.store
        let device = try await registered(store)
        _ = try await store.recordInform(periodic(uptime: 70, at: t1), at: t1)
        try await store.storeParameters(
            deviceID: device, [StoredParameter(path: Self.ssid, value: .string("home"), updatedAt: t2)], replacingSubtree: nil)
        #expect(try await readTimes(store, device: device)[Self.ssid] == t2)
        #expect(try await readTimes(store, device: device)[Self.version] == t1)
        _ = try await store.recordInform(periodic(uptime: 190, at: t3), at: t3)
        #expect(try await readTimes(store, device: device)[Self.ssid] == t3)
    }

    /// A registry written before v7: its rows are not marked; the first Inform after the upgrade
    /// writes them all and marks them, the next one only what changed.
    @Test func rowsWrittenBeforeTheUpgradeAreTakenUpByTheNextInform() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-v6-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/registry.sqlite"
        do { _ = try SQLiteRegistryStore(path: path, upTo: "v6-device-selection-index") }
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            try db.execute(sql: """
                INSERT INTO device (id, cwmpDeviceId, oui, productClass, serialNumber, softwareVersion, protocols, activeProtocol, createdAt, updatedAt)
                VALUES (7, '00D09E-IGD-T1', '00D09E', 'IGD', 'T1', '1.0', 'cwmp', 'cwmp', 1000, 1000);
                INSERT INTO deviceIdentifier (value, deviceId, kind) VALUES ('00D09E-IGD-T1', 7, 'cwmp');
                INSERT INTO parameter (deviceId, path, value, type, writable, updatedAt) VALUES
                    (7, 'Device.DeviceInfo.SoftwareVersion', '1.0', 'string', 0, 1000),
                    (7, 'Device.ManagementServer.URL', 'http://acs', 'string', 1, 1000);
                """)
        }
        let store = try SQLiteRegistryStore(path: path)
        #expect(try await readTimes(store, device: 7)[Self.version] == Date(timeIntervalSince1970: 1000))
        _ = try await store.recordInform(periodic(uptime: 10, at: t1), at: t1)
        var rows = try await storedRows(path, device: 7)
        #expect(rows[Self.version]?.updatedAt == t1.timeIntervalSince1970)
        #expect(rows[Self.version]?.informed == true)
        #expect(rows["Device.ManagementServer.URL"]?.informed == false)
        _ = try await store.recordInform(periodic(uptime: 70, at: t2), at: t2)
        rows = try await storedRows(path, device: 7)
        #expect(rows[Self.version]?.updatedAt == t1.timeIntervalSince1970)
        let times = try await readTimes(store, device: 7)
        #expect(times[Self.version] == t2)
        #expect(times["Device.ManagementServer.URL"] == Date(timeIntervalSince1970: 1000))
    }

    /// A parameter the device stops reporting keeps the time of the last Inform that reported it,
    /// also when that Inform left its row unwritten.
    @Test func aParameterNoLongerReportedKeepsTheTimeOfTheLastInformThatDid() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let store = registry.store
        let device = try await registered(store)
        _ = try await store.recordInform(periodic(uptime: 70, at: t1), at: t1)
        let fewer = inform([(Self.version, .string("1.0")), (Self.uptime, .unsignedInt(130))], at: t2)
        _ = try await store.recordInform(fewer, at: t2)
        _ = try await store.recordInform(inform([(Self.version, .string("1.0")), (Self.uptime, .unsignedInt(190))], at: t3), at: t3)
        let times = try await readTimes(store, device: device)
        #expect(times[Self.ssid] == t1, "the SSID was last reported at t1")
        #expect(times[Self.version] == t3)
        #expect(times[Self.uptime] == t3)
    }

    /// BOOTSTRAP after unwritten periodic rows: the stored data model goes, this Inform's rows are
    /// written, and the next periodic Inform is again a partial write.
    @Test func aBootstrapAfterPeriodicInformsStartsOver() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let store = registry.store
        let device = try await registered(store)
        _ = try await store.recordInform(periodic(uptime: 70, at: t1), at: t1)
        let bootstrap = inform([(Self.version, .string("1.0")), (Self.uptime, .unsignedInt(1))], events: ["0 BOOTSTRAP", "1 BOOT"], at: t2)
        _ = try await store.recordInform(bootstrap, at: t2)
        #expect(try await readTimes(store, device: device) == [Self.version: t2, Self.uptime: t2])
        _ = try await store.recordInform(inform([(Self.version, .string("1.0")), (Self.uptime, .unsignedInt(61))], at: t3), at: t3)
        let rows = try await storedRows(registry.path, device: device)
        #expect(rows[Self.version]?.updatedAt == t2.timeIntervalSince1970, "unchanged, not rewritten")
        #expect(rows[Self.uptime]?.value == "61")
        #expect(try await readTimes(store, device: device) == [Self.version: t3, Self.uptime: t3])
    }

    /// A name an Inform repeats counts with its last value, on the first Inform and on later ones.
    @Test func aRepeatedNameKeepsItsLastValue() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let store = registry.store
        let twice = [(Self.version, TypedValue.string("1.0")), (Self.ssid, .string("first")), (Self.ssid, .string("last"))]
        let device = try await store.recordInform(inform(twice, at: t0), at: t0).id
        #expect(try await store.parameters(deviceID: device, under: Self.ssid).first?.value == .string("last"))
        _ = try await store.recordInform(inform(twice, at: t1), at: t1)
        #expect(try await store.parameters(deviceID: device, under: Self.ssid).first?.value == .string("last"))
    }

    /// A re-read subtree that keeps every reported row leaves the next Inform a partial write; one
    /// that drops a reported row makes it write everything again, which re-creates the row.
    @Test func aReReadSubtreeOnlyResetsTheNamesWhenItDropsAReportedRow() async throws {
        let registry = try TemporaryRegistry()
        defer { registry.remove() }
        let store = registry.store
        let device = try await registered(store)
        try await store.storeParameters(
            deviceID: device, [StoredParameter(path: Self.ssid, value: .string("home"), updatedAt: t1)], replacingSubtree: "Device.WiFi.")
        _ = try await store.recordInform(periodic(uptime: 130, at: t2), at: t2)
        #expect(try await storedRows(registry.path, device: device)[Self.version]?.updatedAt == t0.timeIntervalSince1970)

        try await store.storeParameters(
            deviceID: device, [StoredParameter(path: "Device.WiFi.SSID.2.SSID", value: .string("other"), updatedAt: t2)],
            replacingSubtree: "Device.WiFi.")
        #expect(try await store.parameters(deviceID: device, under: Self.ssid).isEmpty)
        _ = try await store.recordInform(periodic(uptime: 190, at: t3), at: t3)
        let rows = try await storedRows(registry.path, device: device)
        #expect(rows[Self.ssid]?.value == "home")
        #expect(rows[Self.version]?.updatedAt == t3.timeIntervalSince1970, "every row written again")
        #expect(rows["Device.WiFi.SSID.2.SSID"]?.informed == false)
    }
}
