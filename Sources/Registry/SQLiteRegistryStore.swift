import Foundation
import GRDB
import TandemCore

/// The embedded registry: one SQLite file in WAL mode, through GRDB over the system libsqlite3.
///
/// GRDB's rule applies: open each database file once per process ("Connect to any database file only
/// once"), which the composition root does.
public final class SQLiteRegistryStore: RegistryStore {
    let pool: DatabasePool
    /// Every write goes through it: concurrent writes share a transaction.
    private let commits: GroupCommit
    /// The file this store writes.
    public let path: String
    /// Devices that may have queued tasks (``claimNextTask(deviceID:at:)`` skips the others).
    let queuedHint: QueuedTaskHint
    /// Signalled after each committed change of a task's state (``DeviceOperations`` waits on it).
    public let taskChanges = TaskChangeSignals()

    /// The registry file's name under the data directory.
    public static let fileName = "registry.sqlite"

    /// Opens (creating if needed) `registry.sqlite` under `dataDirectory` and migrates it.
    public convenience init(dataDirectory: String) throws {
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        try self.init(path: (dataDirectory as NSString).appendingPathComponent(Self.fileName))
    }

    /// Opens the database at `path` and applies every pending migration.
    public init(path: String, upTo migration: String? = nil) throws {
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(5)
        configuration.label = "tandem.registry"
        configuration.prepareDatabase { db in
            // WAL with NORMAL sync is durable across process crashes; a power loss can lose the last
            // transactions but never corrupts the file (SQLite WAL documentation).
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // Statement journals (the savepoint of each write in a group commit) and temporary
            // tables stay in memory: no temporary file to open per transaction, none to fail to
            // open when a connection storm has taken most of the process's descriptors.
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
        }
        // The registry holds device credentials: readable by its owner only. SQLite gives the WAL and
        // shared-memory files the database file's permissions.
        if !FileManager.default.fileExists(atPath: path) {
            // When it cannot be created, opening the pool below names the reason.
            _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        self.pool = try DatabasePool(path: path, configuration: configuration)
        self.commits = GroupCommit(pool: pool)
        self.path = path
        if let migration {
            try RegistryMigrations.migrator.migrate(pool, upTo: migration)
        } else {
            try RegistryMigrations.migrator.migrate(pool)
        }
        let queuedDevices = try pool.read { db in
            // (A database opened `upTo:` an early migration has no task table.)
            try db.tableExists("task") ? Int64.fetchAll(db, sql: "SELECT DISTINCT deviceId FROM task WHERE state = 'queued'") : []
        }
        self.queuedHint = QueuedTaskHint(devices: queuedDevices)
    }

    /// Runs `updates` in a write transaction, possibly shared with other writes (``GroupCommit``);
    /// returns once it has committed.
    func write<T: Sendable>(_ updates: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await commits.write(updates)
    }

    /// Names of the migrations this database has applied, oldest first.
    public func appliedMigrations() throws -> [String] {
        try pool.read { db in try RegistryMigrations.migrator.appliedMigrations(db) }
    }

    /// Every migration this version knows, oldest first.
    public static var knownMigrations: [String] { RegistryMigrations.migrator.migrations }

    /// The journal mode in force (`wal`).
    public func journalMode() throws -> String {
        try pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "" }
    }

    // MARK: Devices

    public func recordCWMPContact(_ identity: CWMPDeviceID, details: DeviceDetails, at: Date) async throws -> Device {
        try await write { db in
            let id = try Self.upsertCWMPDevice(db, identity, details: details, at: at)
            return try Self.fetchDevice(db, id: id)!
        }
    }

    public func recordInform(_ inform: InformRecord, at: Date) async throws -> RecordedInform {
        try await write { db in
            let (id, active) = try Self.writeInform(db, inform, at: at)
            return RecordedInform(id: id, activeProtocol: active.flatMap(ManagementProtocol.init(rawValue:)))
        }
    }

    /// Records many Informs in one transaction, each exactly as ``recordInform(_:at:)`` would: for
    /// bulk imports and the registry-scale benchmark, where one commit per device would dominate.
    public func recordInforms(_ informs: [InformRecord], at: Date) async throws {
        try await write { db in
            for inform in informs { _ = try Self.writeInform(db, inform, at: at) }
        }
    }

    /// The writes of one Inform: the device row, its parameters, the event; returns the device id
    /// and its active protocol.
    static func writeInform(_ db: Database, _ inform: InformRecord, at: Date) throws -> (id: Int64, activeProtocol: String?) {
        let id: Int64
        let activeProtocol: String?
        let names = inform.parameterNamesDigest
        var sameNames = false
        /// The device's last Inform before this one.
        let previousInform: Double?
        if let known = try Self.updateKnownCWMPDevice(db, inform.identity, details: inform.details, at: at) {
            (id, activeProtocol) = (known.id, known.activeProtocol)
            sameNames = known.informNames == names
            previousInform = known.lastInformAt
        } else {
            id = try Self.upsertCWMPDevice(db, inform.identity, details: inform.details, at: at)
            let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT activeProtocol, lastInformAt FROM device WHERE id = ?"), arguments: [id])
            activeProtocol = row?["activeProtocol"]
            previousInform = row?["lastInformAt"]
        }
        let bootstrap = inform.eventCodes.contains("0 BOOTSTRAP")
        if bootstrap {
            // TR-069 A.3.3.1: BOOTSTRAP means a new installation or a factory reset; what Tandem
            // believed about the device's data model no longer holds.
            try Self.removeSubtree(db, deviceID: id, prefix: "", keeping: [])
        }
        if sameNames && !bootstrap {
            // The rows of the last Inform's names all exist and are marked `informed` (a removal
            // clears `informNames`), and the device row now holds this Inform's time: only what
            // changed is written.
            let refresh = try db.cachedStatement(sql: InformStatements.parameterRefresh)
            for parameter in inform.parameters {
                try refresh.executeDirect { Self.bindParameterUpdate(&$0, parameter, deviceID: id) }
            }
        } else {
            // Other names than last time (the first Inform, a value change notified, new firmware):
            // only the rows of this Inform count as reported from now on. The rows the last Inform
            // reported keep the time they read as (that Inform's), whether this one reports them
            // again or not.
            if !bootstrap {  // after BOOTSTRAP no row is left
                try db.cachedStatement(sql: """
                    UPDATE parameter SET informed = 0, updatedAt = MAX(updatedAt, COALESCE(?, updatedAt)) WHERE deviceId = ? AND informed = 1
                    """).execute(arguments: [previousInform, id])
            }
            try Self.upsertParameters(db, deviceID: id, inform.parameters, informed: true)
            try db.cachedStatement(sql: "UPDATE device SET informNames = ?, lastInformAt = ? WHERE id = ?").execute(
                arguments: [names, at.timeIntervalSince1970, id])
        }
        try Self.insertEvent(db, inform.event(deviceID: id, at: at))
        return (id, activeProtocol)
    }

    /// Every Inform after a device's first: the row already is this CWMP device, so one read and one
    /// update do what ``upsertCWMPDevice(_:_:details:at:)`` and ``apply(_:to:adding:db:)`` do in
    /// five statements. Nil when the row is not (yet) this CWMP device: the general path decides.
    static func updateKnownCWMPDevice(
        _ db: Database, _ identity: CWMPDeviceID, details: DeviceDetails, at: Date
    ) throws -> (id: Int64, activeProtocol: String?, informNames: Int64?, lastInformAt: Double?)? {
        let canonical = identity.canonical
        let current = try db.cachedStatement(sql: InformStatements.lookup).fetchFirstDirect({ $0.bind(canonical) }) { row in
            (id: row.int64(0), cwmpDeviceID: row.string(1), protocols: row.string(2), activeProtocol: row.string(3),
             oui: row.string(4), productClass: row.string(5), serialNumber: row.string(6), softwareVersion: row.string(7),
             informNames: row.int64(8), lastInformAt: row.double(9))
        }
        guard let current, let id = current.id, current.cwmpDeviceID == canonical else { return nil }
        let protocols = Self.protocols(current.protocols ?? "", adding: .cwmp)
        let activeProtocol = current.activeProtocol ?? ManagementProtocol.cwmp.rawValue
        let manufacturer = details.manufacturer ?? (identity.manufacturer.isEmpty ? nil : identity.manufacturer)
        let time = at.timeIntervalSince1970
        // SQLite rewrites the entries of every index whose columns an UPDATE assigns, changed or
        // not: the device's identity and software version (device_oui_serial,
        // device_productClass_softwareVersion) are assigned only when one of them differs, which a
        // periodic Inform almost never brings. Two index rewrites fewer per Inform.
        // Compared byte for byte, as SQLite compares them (Swift's `==` on String would call two
        // Unicode spellings of the same text equal, and keep the row's).
        func differs(_ stored: String?, _ reported: String) -> Bool { stored.map { !$0.utf8.elementsEqual(reported.utf8) } ?? true }
        let assignIndexed = differs(current.oui, identity.oui) || differs(current.productClass, identity.productClass)
            || differs(current.serialNumber, identity.serialNumber)
            || details.softwareVersion.map { differs(current.softwareVersion, $0) } ?? false
        try db.cachedStatement(sql: assignIndexed ? InformStatements.deviceUpdateWithIdentity : InformStatements.deviceUpdate).executeDirect { row in
            if assignIndexed {
                row.bind(identity.oui)
                row.bind(identity.productClass)
                row.bind(identity.serialNumber)
                row.bind(details.softwareVersion)
            }
            row.bind(manufacturer)
            row.bind(details.modelName)
            row.bind(details.hardwareVersion)
            row.bind(details.dataModelRoot)
            row.bind(details.connectionRequestURL)
            row.bind(details.connection.map { json($0) })
            row.bind(protocols)
            row.bind(activeProtocol)
            row.bind(time)
            row.bind(time)
            row.bind(time)
            row.bind(id)
        }
        return (id, activeProtocol, current.informNames, current.lastInformAt)
    }

    /// Creates or updates the row of a CWMP device and links it; returns its id.
    static func upsertCWMPDevice(_ db: Database, _ identity: CWMPDeviceID, details: DeviceDetails, at: Date) throws -> Int64 {
        var deviceID = try Self.deviceID(db, identifier: identity.canonical)
        var linked = false
        // The row is this CWMP device already (every Inform after the first): its identifiers were
        // added with it and are never removed, so they are not inserted again.
        var known = false
        if let id = deviceID {
            // Found through an identifier derived earlier: the row exists but had no CWMP side yet.
            let current = try String.fetchOne(db.cachedStatement(sql: "SELECT cwmpDeviceId FROM device WHERE id = ?"), arguments: [id])
            linked = current == nil
            known = current == identity.canonical
        } else {
            for endpoint in identity.derivedEndpointIDs {
                if let found = try Self.deviceID(db, identifier: endpoint.lookupKey) {
                    deviceID = found
                    break
                }
            }
            if deviceID == nil { deviceID = try Self.deviceIDByIdentity(db, identity) }
            linked = deviceID != nil
        }
        let id = try deviceID ?? Self.insertDevice(db, at: at)
        try db.cachedStatement(
            sql: """
                UPDATE device SET cwmpDeviceId = ?, oui = ?, productClass = ?, serialNumber = ?,
                    manufacturer = CASE WHEN ? = '' THEN manufacturer ELSE ? END,
                    activeProtocol = COALESCE(activeProtocol, 'cwmp'), lastContact = ?, updatedAt = ?
                WHERE id = ?
                """
        ).execute(
            arguments: [identity.canonical, identity.oui, identity.productClass, identity.serialNumber,
                        identity.manufacturer, identity.manufacturer, at.timeIntervalSince1970, at.timeIntervalSince1970, id])
        try Self.apply(details, to: id, adding: .cwmp, db: db)
        if known { return id }
        try Self.addIdentifier(db, identity.canonical, kind: "cwmp", deviceID: id)
        for endpoint in identity.derivedEndpointIDs {
            try Self.addIdentifier(db, endpoint.lookupKey, kind: "derived", deviceID: id)
        }
        if deviceID == nil || linked {
            try Self.insertEvent(db, DeviceEvent(
                deviceID: id, at: at, kind: linked ? "link" : "registered",
                summary: linked ? "CWMP device \(identity.canonical) linked to the existing USP agent" : "CWMP device \(identity.canonical) registered",
                actor: "device"))
        }
        return id
    }

    // MARK: Credentials

    public func setCredentials(deviceID: Int64, purpose: CredentialPurpose, username: String, password: String, actor: String) async throws {
        try await write { db in
            guard try Self.exists(db, deviceID: deviceID) else { throw RegistryError.deviceNotFound(deviceID) }
            try db.cachedStatement(
                sql: """
                    INSERT INTO deviceCredential (deviceId, purpose, username, password) VALUES (?, ?, ?, ?)
                    ON CONFLICT (deviceId, purpose) DO UPDATE SET username = excluded.username, password = excluded.password
                    """).execute(
                arguments: [deviceID, purpose.rawValue, username, password])
            // The event names the change, never the secret.
            try Self.insertEvent(db, DeviceEvent(
                deviceID: deviceID, at: Date(), kind: "credentials", summary: "\(purpose.rawValue) credentials set for user \(username)", actor: actor))
        }
    }

    public func credentials(deviceID: Int64, purpose: CredentialPurpose) async throws -> DeviceCredentials? {
        try await pool.read { db in
            try Row.fetchOne(
                db.cachedStatement(sql: "SELECT username, password FROM deviceCredential WHERE deviceId = ? AND purpose = ?"),
                arguments: [deviceID, purpose.rawValue]
            ).map { DeviceCredentials(deviceID: deviceID, username: $0["username"], password: $0["password"]) }
        }
    }

    public func cpeCredentials(username: String) async throws -> DeviceCredentials? {
        try await pool.read { db in
            try Row.fetchOne(
                db.cachedStatement(sql: "SELECT deviceId, username, password FROM deviceCredential WHERE purpose = 'cpe' AND username = ?"),
                arguments: [username]
            ).map { DeviceCredentials(deviceID: $0["deviceId"], username: $0["username"], password: $0["password"]) }
        }
    }

    public func recordUSPContact(_ endpoint: EndpointID, identity: CWMPDeviceID?, details: DeviceDetails, at: Date) async throws -> Device {
        try await write { db in
            var deviceID = try Self.deviceID(db, identifier: endpoint.lookupKey)
            var linked = false
            if let id = deviceID {
                // Found through the os::/ops:: ID derived from a CWMP identity: the agent is new.
                linked = try String.fetchOne(db.cachedStatement(sql: "SELECT uspEndpointId FROM device WHERE id = ?"), arguments: [id]) == nil
            } else {
                if let identity {
                    deviceID = try Self.deviceID(db, identifier: identity.canonical)
                    if deviceID == nil { deviceID = try Self.deviceIDByIdentity(db, identity) }
                }
                if deviceID == nil { deviceID = try Self.deviceIDByDerivedEndpoint(db, endpoint) }
                linked = deviceID != nil
            }
            let id = try deviceID ?? Self.insertDevice(db, at: at)
            try db.cachedStatement(
                sql: """
                    UPDATE device SET uspEndpointId = ?, activeProtocol = COALESCE(activeProtocol, 'usp'),
                        lastContact = ?, updatedAt = ?
                    WHERE id = ?
                    """
            ).execute(arguments: [endpoint.rawValue, at.timeIntervalSince1970, at.timeIntervalSince1970, id])
            // Fill the identity fields a USP-only row lacks, from OnBoardRequest or the os::/ops:: ID.
            if let identity {
                try db.cachedStatement(
                    sql: """
                        UPDATE device SET oui = CASE WHEN oui = '' THEN ? ELSE oui END,
                            productClass = CASE WHEN productClass = '' THEN ? ELSE productClass END,
                            serialNumber = CASE WHEN serialNumber = '' THEN ? ELSE serialNumber END
                        WHERE id = ?
                        """).execute(
                    arguments: [identity.oui, identity.productClass, identity.serialNumber, id])
            } else if endpoint.scheme == .os, let oui = endpoint.derivedOUI, let serial = endpoint.derivedTail {
                try db.cachedStatement(
                    sql: "UPDATE device SET oui = CASE WHEN oui = '' THEN ? ELSE oui END, serialNumber = CASE WHEN serialNumber = '' THEN ? ELSE serialNumber END WHERE id = ?").execute(
                    arguments: [oui, serial, id])
            }
            try Self.apply(details, to: id, adding: .usp, db: db)
            try Self.addIdentifier(db, endpoint.lookupKey, kind: "usp", deviceID: id)
            if deviceID == nil || linked {
                try Self.insertEvent(db, DeviceEvent(
                    deviceID: id, at: at, kind: linked ? "link" : "registered",
                    summary: linked ? "USP agent \(endpoint) linked to the existing device" : "USP agent \(endpoint) registered",
                    actor: "device"))
            }
            return try Self.fetchDevice(db, id: id)!
        }
    }

    public func device(_ identifier: DeviceIdentifier) async throws -> Device? {
        try await pool.read { db in
            switch identifier {
            case .registryID(let id):
                return try Self.fetchDevice(db, id: id)
            case .cwmp(let identity):
                guard let id = try Self.deviceID(db, identifier: identity.canonical) else { return nil }
                return try Self.fetchDevice(db, id: id)
            case .endpoint(let endpoint):
                guard let id = try Self.deviceID(db, identifier: endpoint.lookupKey) else { return nil }
                return try Self.fetchDevice(db, id: id)
            }
        }
    }

    public func devices(matching filter: DeviceFilter, page: Page) async throws -> [Device] {
        try await pool.read { db in
            var (whereClause, arguments) = Self.whereClause(for: filter)
            if let after = page.after {
                whereClause += whereClause.isEmpty ? " WHERE " : " AND "
                whereClause += "d.id > ?"
                arguments += [after]
            }
            let rows = try Row.fetchAll(
                db, sql: "SELECT d.* FROM device d\(whereClause) ORDER BY d.id LIMIT ?",
                arguments: arguments + [page.limit])
            let tags = try Self.tags(db, deviceIDs: rows.map { $0["id"] })
            return rows.map { Self.device(from: $0, tags: tags[$0["id"]] ?? []) }
        }
    }

    public func countDevices(matching filter: DeviceFilter) async throws -> Int {
        try await pool.read { db in
            let (whereClause, arguments) = Self.whereClause(for: filter)
            return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM device d\(whereClause)", arguments: arguments) ?? 0
        }
    }

    public func updateTags(deviceID: Int64, adding: [String], removing: [String], actor: String) async throws -> [String] {
        for tag in adding + removing {
            guard !tag.isEmpty, tag.count <= 64, !tag.contains(where: { $0.isWhitespace || $0 == "," }) else {
                throw RegistryError.invalidTag(tag)
            }
        }
        return try await write { db in
            guard try Self.exists(db, deviceID: deviceID) else { throw RegistryError.deviceNotFound(deviceID) }
            for tag in adding {
                try db.cachedStatement(sql: "INSERT OR IGNORE INTO deviceTag (deviceId, tag) VALUES (?, ?)").execute(arguments: [deviceID, tag])
            }
            for tag in removing {
                try db.cachedStatement(sql: "DELETE FROM deviceTag WHERE deviceId = ? AND tag = ?").execute(arguments: [deviceID, tag])
            }
            var summary: [String] = []
            if !adding.isEmpty { summary.append("added " + adding.joined(separator: ", ")) }
            if !removing.isEmpty { summary.append("removed " + removing.joined(separator: ", ")) }
            try Self.insertEvent(db, DeviceEvent(deviceID: deviceID, at: Date(), kind: "tags", summary: "tags " + summary.joined(separator: "; "), actor: actor))
            return try String.fetchAll(db.cachedStatement(sql: "SELECT tag FROM deviceTag WHERE deviceId = ? ORDER BY tag"), arguments: [deviceID])
        }
    }

    // MARK: API tokens

    public func createToken(name: String, role: APIRole, secretHash: String, actor: String) async throws -> APIToken {
        guard !name.isEmpty, name.count <= 64, !name.contains(where: { $0.isWhitespace }) else { throw RegistryError.invalidTokenName(name) }
        return try await write { db in
            if try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM apiToken WHERE name = ?)"), arguments: [name]) == true {
                throw RegistryError.tokenExists(name)
            }
            let now = Date()
            try db.cachedStatement(
                sql: "INSERT INTO apiToken (name, role, secretHash, createdAt) VALUES (?, ?, ?, ?)").execute(
                arguments: [name, role.rawValue, secretHash, now.timeIntervalSince1970])
            let id = db.lastInsertedRowID
            // The audit event names the token (name and id), never its secret or hash.
            try Self.insertEvent(db, DeviceEvent(
                deviceID: nil, at: now, kind: "audit", summary: "API token \(name) (id \(id)) created with role \(role.rawValue)", actor: actor,
                detail: ["action": "tokenCreated", "token": name, "tokenId": "\(id)", "role": role.rawValue]))
            return APIToken(id: id, name: name, role: role, secretHash: secretHash, createdAt: now, revokedAt: nil)
        }
    }

    public func token(id: Int64) async throws -> APIToken? {
        try await pool.read { db in try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM apiToken WHERE id = ?"), arguments: [id]).map(Self.token(from:)) }
    }

    public func tokens() async throws -> [APIToken] {
        try await pool.read { db in try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM apiToken ORDER BY id")).map(Self.token(from:)) }
    }

    public func revokeToken(name: String, actor: String) async throws -> Bool {
        try await write { db in
            let now = Date()
            guard let id = try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM apiToken WHERE name = ? AND revokedAt IS NULL"), arguments: [name]) else {
                return false
            }
            try db.cachedStatement(sql: "UPDATE apiToken SET revokedAt = ? WHERE id = ?").execute(arguments: [now.timeIntervalSince1970, id])
            try Self.insertEvent(db, DeviceEvent(
                deviceID: nil, at: now, kind: "audit", summary: "API token \(name) (id \(id)) revoked", actor: actor,
                detail: ["action": "tokenRevoked", "token": name, "tokenId": "\(id)"]))
            return true
        }
    }

    static func token(from row: Row) -> APIToken {
        let revoked: Double? = row["revokedAt"]
        return APIToken(
            id: row["id"], name: row["name"], role: APIRole(rawValue: row["role"]) ?? .readOnly, secretHash: row["secretHash"],
            createdAt: Date(timeIntervalSince1970: row["createdAt"]), revokedAt: revoked.map(Date.init(timeIntervalSince1970:)))
    }

    // MARK: Parameters

    public func storeParameters(deviceID: Int64, _ parameters: [StoredParameter], replacingSubtree: String?) async throws {
        try await write { db in
            if let subtree = replacingSubtree {
                try Self.removeSubtree(db, deviceID: deviceID, prefix: subtree, keeping: Set(parameters.map(\.path)))
            }
            try Self.upsertParameters(db, deviceID: deviceID, parameters)
        }
    }

    public func removeParameters(deviceID: Int64, under prefix: String) async throws {
        try await write { db in try Self.removeSubtree(db, deviceID: deviceID, prefix: prefix, keeping: []) }
    }

    public func parameters(deviceID: Int64, under prefix: String) async throws -> [StoredParameter] {
        try await pool.read { db in
            // A row an Inform reports was reported again by every later Inform with the same names
            // (which left it unwritten when its value had not changed): its time is the latest of
            // its own and the device's last Inform.
            let columns = """
                SELECT p.path, p.value, p.type, p.writable,
                    CASE WHEN p.informed AND d.lastInformAt > p.updatedAt THEN d.lastInformAt ELSE p.updatedAt END AS updatedAt
                FROM parameter p JOIN device d ON d.id = p.deviceId
                """
            let rows: [Row]
            if prefix.isEmpty {
                rows = try Row.fetchAll(db.cachedStatement(sql: columns + " WHERE p.deviceId = ? ORDER BY p.path"), arguments: [deviceID])
            } else {
                rows = try Row.fetchAll(
                    db.cachedStatement(sql: columns + " WHERE p.deviceId = ? AND p.path >= ? AND p.path < ? ORDER BY p.path"),
                    arguments: [deviceID, prefix, Self.prefixUpperBound(prefix)])
            }
            return rows.map { row in
                let type: String? = row["type"]
                let text: String? = row["value"]
                return StoredParameter(
                    path: row["path"],
                    value: text.map { TypedValue.lenient($0, type: type.flatMap(ValueType.init(rawValue:))) },
                    writable: (row["writable"] as Int?).map { $0 != 0 },
                    updatedAt: Date(timeIntervalSince1970: row["updatedAt"]))
            }
        }
    }

    // MARK: Tasks

    public func enqueueTask(deviceID: Int64, operation: TandemCore.Operation, expiresAt: Date?, actor: String) async throws -> DeviceTask {
        try await enqueueTask(deviceID: deviceID, operation: operation, expiresAt: expiresAt, actor: actor, pinnedTo: nil)
    }

    public func enqueueTask(
        deviceID: Int64, operation: TandemCore.Operation, expiresAt: Date?, actor: String, pinnedTo: ManagementProtocol?
    ) async throws -> DeviceTask {
        let encoded = try Self.json(operation)
        let task = try await write { db in
            guard try Self.exists(db, deviceID: deviceID) else { throw RegistryError.deviceNotFound(deviceID) }
            let now = Date().timeIntervalSince1970
            try db.cachedStatement(
                sql: """
                    INSERT INTO task (deviceId, name, operation, state, createdAt, updatedAt, expiresAt, origin, protocol)
                    VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?)
                    """
            ).execute(arguments: [deviceID, operation.name, encoded, now, now, expiresAt?.timeIntervalSince1970, actor, pinnedTo?.rawValue])
            let id = db.lastInsertedRowID
            try Self.insertEvent(db, DeviceEvent(
                deviceID: deviceID, at: Date(timeIntervalSince1970: now), kind: "task",
                summary: "task \(id) queued: \(operation.name)" + (pinnedTo.map { " (over \($0.rawValue) only)" } ?? ""), actor: actor,
                detail: ["task": String(id)]))
            return try Self.fetchTask(db, id: id)!
        }
        queuedHint.noteQueued(deviceID)  // after the commit, before whoever queued it wakes the device
        return task
    }

    public func task(id: Int64) async throws -> DeviceTask? {
        try await pool.read { db in try Self.fetchTask(db, id: id) }
    }

    public func taskState(id: Int64) async throws -> TaskState? {
        try await pool.read { db in
            try String.fetchOne(db.cachedStatement(sql: "SELECT state FROM task WHERE id = ?"), arguments: [id])
                .map { TaskState(rawValue: $0) ?? .faulted }
        }
    }

    public func tasks(deviceID: Int64, states: Set<TaskState>) async throws -> [DeviceTask] {
        try await pool.read { db in
            var sql = "SELECT * FROM task WHERE deviceId = ?"
            var arguments: StatementArguments = [deviceID]
            if !states.isEmpty {
                sql += " AND state IN (\(databaseQuestionMarks(count: states.count)))"
                arguments += StatementArguments(states.map(\.rawValue).sorted())
            }
            return try Row.fetchAll(db, sql: sql + " ORDER BY id DESC", arguments: arguments).map(Self.task(from:))
        }
    }

    public func claimNextTask(deviceID: Int64, at: Date) async throws -> DeviceTask? {
        try await claim(deviceID: deviceID, at: at, filter: "", arguments: [])
    }

    public func claimNextTask(deviceID: Int64, at: Date, over protocol: ManagementProtocol, unpinned: UnpinnedTasks) async throws -> DeviceTask? {
        let name = `protocol`.rawValue
        switch unpinned {
        case .include:
            return try await claim(deviceID: deviceID, at: at, filter: " AND (protocol IS NULL OR protocol = ?)", arguments: [name])
        case .exclude:
            return try await claim(deviceID: deviceID, at: at, filter: " AND protocol = ?", arguments: [name])
        case .whenManagedOverClaimingProtocol:
            return try await claim(
                deviceID: deviceID, at: at,
                filter: " AND (protocol = ? OR (protocol IS NULL AND (SELECT activeProtocol FROM device WHERE id = task.deviceId) = ?))",
                arguments: [name, name])
        }
    }

    private func claim(deviceID: Int64, at: Date, filter: String, arguments: StatementArguments) async throws -> DeviceTask? {
        // Most sessions find nothing queued: a device without queued tasks is answered from memory,
        // without a read or a turn on the single writer that every Inform needs. The hint forgets
        // a device once a claim sees nothing left queued, so a device it names nearly always has
        // work: the claim goes straight to the writer (an EXISTS read before it would be one more
        // reader hop per task, and would nearly always say yes).
        guard let mark = queuedHint.mark(deviceID) else { return nil }
        let (task, expired, anyLeft) = try await write { db in
            let now = at.timeIntervalSince1970
            let expired = try Int64.fetchAll(
                db.cachedStatement(
                    sql: """
                        UPDATE task SET state = 'expired', updatedAt = ?
                        WHERE deviceId = ? AND state = 'queued' AND expiresAt IS NOT NULL AND expiresAt <= ? RETURNING id
                        """),
                arguments: [now, deviceID, now])
            // One of a few fixed filters: the statement is prepared once.
            var task: DeviceTask?
            if let id = try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT id FROM task WHERE deviceId = ? AND state = 'queued'\(filter) ORDER BY id LIMIT 1"),
                arguments: [deviceID] + arguments)
            {
                try db.cachedStatement(
                    sql: "UPDATE task SET state = 'running', attempts = attempts + 1, updatedAt = ? WHERE id = ?").execute(arguments: [now, id])
                task = try Self.fetchTask(db, id: id)
            }
            // Whether anything is still queued (for any protocol): when not, the device's next
            // claims (a runner or session looking for more work) are answered from memory until a
            // task is queued again.
            let anyLeft = try Bool.fetchOne(
                db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM task WHERE deviceId = ? AND state = 'queued')"), arguments: [deviceID]) ?? false
            return (task, expired, anyLeft)
        }
        if !anyLeft { queuedHint.forget(deviceID, ifStill: mark) }
        if !expired.isEmpty { taskChanges.signal(expired) }
        return task
    }

    public func completeTask(
        id: Int64, result: OperationResult, parameters: [StoredParameter], replacingSubtrees: [String], removingSubtrees: [String], at: Date
    ) async throws {
        let encoded = try Self.json(result)
        let kept = Set(parameters.map(\.path))
        try await write { db in
            guard let deviceID = try Int64.fetchOne(db.cachedStatement(sql: "SELECT deviceId FROM task WHERE id = ?"), arguments: [id]) else {
                throw RegistryError.taskNotFound(id)
            }
            try db.cachedStatement(
                sql: "UPDATE task SET state = 'done', result = ?, fault = NULL, updatedAt = ? WHERE id = ?").execute(
                arguments: [encoded, at.timeIntervalSince1970, id])
            for prefix in removingSubtrees { try Self.removeSubtree(db, deviceID: deviceID, prefix: prefix, keeping: []) }
            for prefix in replacingSubtrees { try Self.removeSubtree(db, deviceID: deviceID, prefix: prefix, keeping: kept) }
            try Self.upsertParameters(db, deviceID: deviceID, parameters)
            try Self.insertEvent(db, DeviceEvent(
                deviceID: deviceID, at: at, kind: "task", summary: "task \(id) done", actor: "device", detail: ["task": String(id)]))
        }
        taskChanges.signal(id)
    }

    public func failTask(id: Int64, fault: Fault, retry: Bool, at: Date) async throws {
        let encoded = try Self.json(fault)
        let deviceID = try await write { db in
            guard let deviceID = try Int64.fetchOne(db.cachedStatement(sql: "SELECT deviceId FROM task WHERE id = ?"), arguments: [id]) else {
                throw RegistryError.taskNotFound(id)
            }
            try db.cachedStatement(
                sql: "UPDATE task SET state = ?, fault = ?, updatedAt = ? WHERE id = ?").execute(
                arguments: [retry ? TaskState.queued.rawValue : TaskState.faulted.rawValue, encoded, at.timeIntervalSince1970, id])
            try Self.insertEvent(db, DeviceEvent(
                deviceID: deviceID, at: at, kind: "fault", summary: "task \(id) \(retry ? "will retry after" : "failed with") \(fault)",
                actor: "device", detail: ["task": String(id), "category": fault.category.rawValue]))
            return deviceID
        }
        if retry { queuedHint.noteQueued(deviceID) }
        taskChanges.signal(id)
    }

    public func cancelTask(id: Int64, actor: String, at: Date) async throws -> Bool {
        let cancelled = try await write { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT deviceId, state FROM task WHERE id = ?"), arguments: [id]) else {
                throw RegistryError.taskNotFound(id)
            }
            let state = TaskState(rawValue: row["state"]) ?? .done
            guard !state.isFinal else { return false }
            try db.cachedStatement(sql: "UPDATE task SET state = 'cancelled', updatedAt = ? WHERE id = ?").execute(arguments: [at.timeIntervalSince1970, id])
            try Self.insertEvent(db, DeviceEvent(
                deviceID: row["deviceId"], at: at, kind: "task", summary: "task \(id) cancelled", actor: actor, detail: ["task": String(id)]))
            return true
        }
        if cancelled { taskChanges.signal(id) }
        return cancelled
    }

    // MARK: Events

    public func appendEvent(_ event: DeviceEvent) async throws {
        try await write { db in try Self.insertEvent(db, event) }
    }

    public func events(deviceID: Int64?, limit: Int) async throws -> [DeviceEvent] {
        try await pool.read { db in
            let rows: [Row]
            if let deviceID {
                rows = try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM event WHERE deviceId = ? ORDER BY id DESC LIMIT ?"), arguments: [deviceID, limit])
            } else {
                rows = try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM event ORDER BY id DESC LIMIT ?"), arguments: [limit])
            }
            return rows.map { row in
                DeviceEvent(
                    id: row["id"], deviceID: row["deviceId"], at: Date(timeIntervalSince1970: row["at"]), kind: row["kind"],
                    summary: row["summary"], actor: row["actor"], detail: Self.decode([String: String].self, row["detail"]) ?? [:])
            }
        }
    }

    // MARK: Health

    public func statistics() async throws -> RegistryStatistics {
        try await pool.read { db in
            var byProtocol: [ManagementProtocol: Int] = [:]
            for proto in ManagementProtocol.allCases {
                byProtocol[proto] = try Int.fetchOne(
                    db.cachedStatement(sql: "SELECT COUNT(*) FROM device WHERE activeProtocol = ?"), arguments: [proto.rawValue]) ?? 0
            }
            var byState: [TaskState: Int] = [:]
            for state in TaskState.allCases { byState[state] = 0 }
            for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT state, COUNT(*) AS n FROM task GROUP BY state")) {
                if let state = TaskState(rawValue: row["state"]) { byState[state] = row["n"] }
            }
            return RegistryStatistics(
                devices: try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM device")) ?? 0,
                devicesByProtocol: byProtocol,
                parameters: try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM parameter")) ?? 0,
                tasksByState: byState,
                events: try Int.fetchOne(db.cachedStatement(sql: "SELECT COALESCE(MAX(id), 0) FROM event")) ?? 0)
        }
    }
}

/// Registry failures that callers can act on.
public enum RegistryError: Error, Hashable, Sendable, CustomStringConvertible {
    case deviceNotFound(Int64)
    case taskNotFound(Int64)
    case invalidTag(String)
    case invalidTokenName(String)
    case tokenExists(String)

    public var description: String {
        switch self {
        case .deviceNotFound(let id): "no device with registry id \(id)"
        case .taskNotFound(let id): "no task with id \(id)"
        case .invalidTag(let tag): "invalid tag \"\(tag)\": tags are 1 to 64 characters without spaces or commas"
        case .invalidTokenName(let name): "invalid token name \"\(name)\": 1 to 64 characters without spaces"
        case .tokenExists(let name): "a token named \(name) exists already"
        }
    }
}
