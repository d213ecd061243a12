import Foundation
import GRDB
import TandemCore

/// Row mapping and the statements the write methods share. Every function here runs inside the
/// caller's transaction.
extension SQLiteRegistryStore {
    static func deviceID(_ db: Database, identifier: String) throws -> Int64? {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT deviceId FROM deviceIdentifier WHERE value = ?"), arguments: [identifier])
    }

    /// A row with the same OUI and serial number (and product class, where both know one).
    static func deviceIDByIdentity(_ db: Database, _ identity: CWMPDeviceID) throws -> Int64? {
        try Int64.fetchOne(
            db.cachedStatement(sql: """
                SELECT id FROM device WHERE oui = ? AND serialNumber = ?
                    AND (productClass = '' OR ? = '' OR productClass = ?)
                ORDER BY id LIMIT 1
                """),
            arguments: [identity.oui, identity.serialNumber, identity.productClass, identity.productClass])
    }

    /// For an `os::`/`ops::` endpoint ID, a row whose CWMP identity it derives from.
    static func deviceIDByDerivedEndpoint(_ db: Database, _ endpoint: EndpointID) throws -> Int64? {
        guard let oui = endpoint.derivedOUI, let tail = endpoint.derivedTail else { return nil }
        switch endpoint.scheme {
        case .os:
            return try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT id FROM device WHERE oui = ? AND serialNumber = ? ORDER BY id LIMIT 1"), arguments: [oui, tail])
        case .ops:
            return try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT id FROM device WHERE oui = ? AND productClass || '-' || serialNumber = ? ORDER BY id LIMIT 1"),
                arguments: [oui, tail])
        default:
            return nil
        }
    }

    static func insertDevice(_ db: Database, at: Date) throws -> Int64 {
        try db.cachedStatement(
            sql: "INSERT INTO device (createdAt, updatedAt) VALUES (?, ?)").execute(
            arguments: [at.timeIntervalSince1970, at.timeIntervalSince1970])
        return db.lastInsertedRowID
    }

    /// The `protocols` column after a contact over `proto`: unchanged when it lists `proto` already
    /// (every contact after the first), else the known protocols and `proto`, sorted, comma-separated.
    static func protocols(_ current: String, adding proto: ManagementProtocol) -> String {
        if current.split(separator: ",").contains(Substring(proto.rawValue)) { return current }
        var protocols = Set(current.split(separator: ",").compactMap { ManagementProtocol(rawValue: String($0)) })
        protocols.insert(proto)
        return protocols.map(\.rawValue).sorted().joined(separator: ",")
    }

    static func apply(_ details: DeviceDetails, to id: Int64, adding proto: ManagementProtocol, db: Database) throws {
        let current = try String.fetchOne(db.cachedStatement(sql: "SELECT protocols FROM device WHERE id = ?"), arguments: [id]) ?? ""
        let connection = details.connection.map { json($0) }
        try db.cachedStatement(
            sql: """
                UPDATE device SET
                    protocols = ?,
                    manufacturer = COALESCE(?, manufacturer),
                    modelName = COALESCE(?, modelName),
                    softwareVersion = COALESCE(?, softwareVersion),
                    hardwareVersion = COALESCE(?, hardwareVersion),
                    dataModelRoot = COALESCE(?, dataModelRoot),
                    connectionRequestUrl = COALESCE(?, connectionRequestUrl),
                    connection = COALESCE(?, connection)
                WHERE id = ?
                """
        ).execute(
            arguments: [
                protocols(current, adding: proto), details.manufacturer, details.modelName,
                details.softwareVersion, details.hardwareVersion, details.dataModelRoot, details.connectionRequestURL,
                connection, id,
            ])
    }

    static func addIdentifier(_ db: Database, _ value: String, kind: String, deviceID: Int64) throws {
        // An identifier already held by another row stays with it: the first registration wins, and
        // linking never silently moves a name between devices.
        try db.cachedStatement(sql: "INSERT OR IGNORE INTO deviceIdentifier (value, deviceId, kind) VALUES (?, ?, ?)")
            .execute(arguments: [value, deviceID, kind])
    }

    static func insertEvent(_ db: Database, _ event: DeviceEvent) throws {
        try db.cachedStatement(sql: InformStatements.eventInsert).executeDirect { row in
            row.bind(event.deviceID)
            row.bind(event.at.timeIntervalSince1970)
            row.bind(event.kind)
            row.bind(event.summary)
            row.bind(event.actor)
            row.bind(json(event.detail))
        }
    }

    static func exists(_ db: Database, deviceID: Int64) throws -> Bool {
        try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM device WHERE id = ?)"), arguments: [deviceID]) ?? false
    }

    static func fetchDevice(_ db: Database, id: Int64) throws -> Device? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM device WHERE id = ?"), arguments: [id]) else { return nil }
        return device(from: row, tags: try tags(db, deviceIDs: [id])[id] ?? [])
    }

    static func tags(_ db: Database, deviceIDs: [Int64]) throws -> [Int64: [String]] {
        guard !deviceIDs.isEmpty else { return [:] }
        var result: [Int64: [String]] = [:]
        // One device (after every write that returns the device) is the common case: a cached statement.
        let rows =
            deviceIDs.count == 1
            ? try Row.fetchAll(db.cachedStatement(sql: "SELECT deviceId, tag FROM deviceTag WHERE deviceId = ? ORDER BY tag"), arguments: [deviceIDs[0]])
            : try Row.fetchAll(
                db, sql: "SELECT deviceId, tag FROM deviceTag WHERE deviceId IN (\(databaseQuestionMarks(count: deviceIDs.count))) ORDER BY tag",
                arguments: StatementArguments(deviceIDs))
        for row in rows { result[row["deviceId"], default: []].append(row["tag"]) }
        return result
    }

    static func device(from row: Row, tags: [String]) -> Device {
        let protocols: String = row["protocols"]
        let lastContact: Double? = row["lastContact"]
        let activeProtocol: String? = row["activeProtocol"]
        return Device(
            id: row["id"], cwmpDeviceID: row["cwmpDeviceId"], uspEndpointID: row["uspEndpointId"],
            manufacturer: row["manufacturer"], oui: row["oui"], productClass: row["productClass"], modelName: row["modelName"],
            serialNumber: row["serialNumber"], softwareVersion: row["softwareVersion"], hardwareVersion: row["hardwareVersion"],
            protocols: Set(protocols.split(separator: ",").compactMap { ManagementProtocol(rawValue: String($0)) }),
            activeProtocol: activeProtocol.flatMap(ManagementProtocol.init(rawValue:)),
            dataModelRoot: row["dataModelRoot"],
            lastContact: lastContact.map(Date.init(timeIntervalSince1970:)),
            connectionRequestURL: row["connectionRequestUrl"],
            connection: decode([String: String].self, row["connection"]) ?? [:],
            tags: tags,
            createdAt: Date(timeIntervalSince1970: row["createdAt"]),
            updatedAt: Date(timeIntervalSince1970: row["updatedAt"]))
    }

    static func whereClause(for filter: DeviceFilter) -> (String, StatementArguments) {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        func equal(_ column: String, _ value: String?) {
            guard let value else { return }
            conditions.append("d.\(column) = ?")
            arguments += [value]
        }
        equal("manufacturer", filter.manufacturer)
        equal("productClass", filter.productClass)
        equal("oui", filter.oui?.uppercased())
        equal("softwareVersion", filter.softwareVersion)
        equal("activeProtocol", filter.activeProtocol?.rawValue)
        if let proto = filter.protocolSpoken {
            conditions.append("(',' || d.protocols || ',') LIKE ?")
            arguments += ["%,\(proto.rawValue),%"]
        }
        if let tag = filter.tag {
            conditions.append("EXISTS (SELECT 1 FROM deviceTag t WHERE t.deviceId = d.id AND t.tag = ?)")
            arguments += [tag]
        }
        if let text = filter.text, !text.isEmpty {
            let pattern = "%" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
                .replacingOccurrences(of: "_", with: "\\_") + "%"
            conditions.append(
                "(d.cwmpDeviceId LIKE ? ESCAPE '\\' OR d.uspEndpointId LIKE ? ESCAPE '\\' OR d.serialNumber LIKE ? ESCAPE '\\')")
            arguments += [pattern, pattern, pattern]
        }
        return (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "), arguments)
    }

    /// Writes `parameters` (each row's `updatedAt` its own); `informed` marks them as reported by
    /// the device's Informs.
    static func upsertParameters(_ db: Database, deviceID: Int64, _ parameters: [StoredParameter], informed: Bool = false) throws {
        guard !parameters.isEmpty else { return }
        // The Inform and GetParameterValues hot path: nearly every row exists already (a device
        // reports the same parameters each time), so an UPDATE by primary key comes first, and an
        // INSERT only for the rows it did not find. An `INSERT ... ON CONFLICT DO UPDATE` costs
        // more: SQLite probes the key for the insert, then again for the update.
        let update = try db.cachedStatement(sql: informed ? InformStatements.informedParameterUpdate : InformStatements.parameterUpdate)
        var missing: [StoredParameter] = []
        for parameter in parameters {
            try update.executeDirect { bindParameterUpdate(&$0, parameter, deviceID: deviceID) }
            if db.changesCount == 0 { missing.append(parameter) }
        }
        guard !missing.isEmpty else { return }
        // Inserted in order, after the updates: a path listed twice (duplicated in one Inform) is
        // inserted once and updated by its later copy through the conflict clause (last wins).
        let insert = try db.cachedStatement(
            sql: """
                INSERT INTO parameter (deviceId, path, value, type, writable, updatedAt, informed) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (deviceId, path) DO UPDATE SET
                    value = COALESCE(excluded.value, value),
                    type = COALESCE(excluded.type, type),
                    writable = COALESCE(excluded.writable, writable),
                    updatedAt = excluded.updatedAt,
                    informed = informed OR excluded.informed
                """)
        for parameter in missing {
            try insert.executeDirect { row in
                row.bind(deviceID)
                row.bind(parameter.path)
                row.bind(parameter.value?.lexical)
                row.bind(parameter.value?.type.rawValue)
                row.bind(parameter.writable)
                row.bind(parameter.updatedAt.timeIntervalSince1970)
                row.bind(informed)
            }
        }
    }

    /// The bindings of ``InformStatements/parameterUpdate`` and the statements shaped like it:
    /// value, type, writable, updatedAt, deviceId, path.
    static func bindParameterUpdate(_ row: inout DirectBinder, _ parameter: StoredParameter, deviceID: Int64) {
        row.bind(parameter.value?.lexical)
        row.bind(parameter.value?.type.rawValue)
        row.bind(parameter.writable)
        row.bind(parameter.updatedAt.timeIntervalSince1970)
        row.bind(deviceID)
        row.bind(parameter.path)
    }

    static func removeSubtree(_ db: Database, deviceID: Int64, prefix: String, keeping: Set<String>) throws {
        let upper = prefixUpperBound(prefix)
        var removedInformed = false
        if keeping.isEmpty {
            // Whether any of them was reported is not asked first (one statement fewer on every
            // BOOTSTRAP): any removal resets the names.
            try db.cachedStatement(
                sql: "DELETE FROM parameter WHERE deviceId = ? AND path >= ? AND path < ?").execute(arguments: [deviceID, prefix, upper])
            removedInformed = db.changesCount > 0
        } else {
            let existing = try Row.fetchAll(
                db.cachedStatement(sql: "SELECT path, informed FROM parameter WHERE deviceId = ? AND path >= ? AND path < ?"),
                arguments: [deviceID, prefix, upper])
            let statement = try db.cachedStatement(sql: "DELETE FROM parameter WHERE deviceId = ? AND path = ?")
            for row in existing {
                let path: String = row["path"]
                guard !keeping.contains(path) else { continue }
                try statement.execute(arguments: [deviceID, path])
                if row["informed"] as Bool { removedInformed = true }
            }
        }
        if removedInformed {
            // A row the device's Informs report may be gone: the next Inform writes all of its
            // rows again (``writeInform``), which re-creates it.
            try db.cachedStatement(sql: "UPDATE device SET informNames = NULL WHERE id = ?").execute(arguments: [deviceID])
        }
    }

    /// The smallest string greater than every string starting with `prefix`, for index range scans
    /// (`path >= prefix AND path < upper`), which LIKE cannot use with arbitrary paths.
    static func prefixUpperBound(_ prefix: String) -> String {
        prefix + "\u{10FFFF}"
    }

    static func fetchTask(_ db: Database, id: Int64) throws -> DeviceTask? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM task WHERE id = ?"), arguments: [id]).map(task(from:))
    }

    static func task(from row: Row) -> DeviceTask {
        let expires: Double? = row["expiresAt"]
        let operation = decode(TandemCore.Operation.self, row["operation"]) ?? .get(paths: [])
        return DeviceTask(
            id: row["id"], deviceID: row["deviceId"], operation: operation,
            state: TaskState(rawValue: row["state"]) ?? .faulted, attempts: row["attempts"],
            result: decode(OperationResult.self, row["result"]), fault: decode(Fault.self, row["fault"]),
            createdAt: Date(timeIntervalSince1970: row["createdAt"]), updatedAt: Date(timeIntervalSince1970: row["updatedAt"]),
            expiresAt: expires.map(Date.init(timeIntervalSince1970:)), origin: row["origin"],
            pinnedTo: (row["protocol"] as String?).flatMap(ManagementProtocol.init(rawValue:)))
    }

    /// The common case, an event's detail or a device's connection facts: no `Encoder` machinery.
    static func json(_ value: [String: String]) -> String {
        JSONStringMap.encode(value)
    }

    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String?) -> T? {
        guard let text else { return nil }
        return try? JSONDecoder().decode(type, from: Data(text.utf8))
    }
}
