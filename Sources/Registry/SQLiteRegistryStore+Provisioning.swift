import Foundation
import GRDB
import TandemCore

extension SQLiteRegistryStore {
    // MARK: Policy documents

    public func storePolicyDocument(fileName: String, text: String, actor: String, at: Date) async throws -> StoredPolicyDocument {
        try await write { db in
            try db.cachedStatement(
                sql: "INSERT INTO policyDocument (fileName, text, appliedAt, actor) VALUES (?, ?, ?, ?)").execute(
                arguments: [fileName, text, at.timeIntervalSince1970, actor])
            let id = db.lastInsertedRowID
            try Self.insertEvent(db, DeviceEvent(
                deviceID: nil, at: at, kind: "policy", summary: "policy document \(id) applied from \(fileName)", actor: actor,
                detail: ["document": String(id)]))
            return StoredPolicyDocument(id: id, fileName: fileName, text: text, appliedAt: at, actor: actor)
        }
    }

    public func currentPolicyDocument() async throws -> StoredPolicyDocument? {
        try await pool.read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM policyDocument ORDER BY id DESC LIMIT 1")).map {
                StoredPolicyDocument(
                    id: $0["id"], fileName: $0["fileName"], text: $0["text"], appliedAt: Date(timeIntervalSince1970: $0["appliedAt"]),
                    actor: $0["actor"])
            }
        }
    }

    // MARK: Policy status

    public func policyStatuses(deviceID: Int64) async throws -> [PolicyStatus] {
        try await pool.read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM policyStatus WHERE deviceId = ? ORDER BY policy"), arguments: [deviceID]).map(Self.policyStatus(from:))
        }
    }

    public func savePolicyStatuses(_ statuses: [PolicyStatus]) async throws {
        guard !statuses.isEmpty else { return }
        try await write { db in
            for status in statuses {
                let previous = try String.fetchOne(
                    db.cachedStatement(sql: "SELECT state FROM policyStatus WHERE deviceId = ? AND policy = ?"), arguments: [status.deviceID, status.policy])
                try db.cachedStatement(
                    sql: """
                        INSERT INTO policyStatus (deviceId, policy, state, attempts, lastFault, nextAttemptAt, updatedAt)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT (deviceId, policy) DO UPDATE SET state = excluded.state, attempts = excluded.attempts,
                            lastFault = excluded.lastFault, nextAttemptAt = excluded.nextAttemptAt, updatedAt = excluded.updatedAt
                        """).execute(
                    arguments: [
                        status.deviceID, status.policy, status.state.rawValue, status.attempts, status.lastFault,
                        status.nextAttemptAt?.timeIntervalSince1970, status.updatedAt.timeIntervalSince1970,
                    ])
                if previous != status.state.rawValue {
                    var summary = "policy \(status.policy): \(status.state.rawValue)"
                    if let fault = status.lastFault, status.state != .converged { summary += " (\(fault))" }
                    try Self.insertEvent(db, DeviceEvent(
                        deviceID: status.deviceID, at: status.updatedAt, kind: "policy", summary: summary, actor: "policy:\(status.policy)",
                        detail: ["policy": status.policy, "state": status.state.rawValue]))
                }
            }
        }
    }

    public func policyStatusCounts() async throws -> [String: [PolicyStatus.State: Int]] {
        try await pool.read { db in
            var counts: [String: [PolicyStatus.State: Int]] = [:]
            for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT policy, state, COUNT(*) AS n FROM policyStatus GROUP BY policy, state")) {
                if let state = PolicyStatus.State(rawValue: row["state"]) { counts[row["policy"], default: [:]][state] = row["n"] }
            }
            return counts
        }
    }

    static func policyStatus(from row: Row) -> PolicyStatus {
        let next: Double? = row["nextAttemptAt"]
        return PolicyStatus(
            deviceID: row["deviceId"], policy: row["policy"], state: PolicyStatus.State(rawValue: row["state"]) ?? .pending,
            attempts: row["attempts"], lastFault: row["lastFault"], nextAttemptAt: next.map(Date.init(timeIntervalSince1970:)),
            updatedAt: Date(timeIntervalSince1970: row["updatedAt"]))
    }

    // MARK: Migrations

    public func migrationStatus(name: String) async throws -> MigrationStatus? {
        try await pool.read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM migration WHERE name = ?"), arguments: [name]).map {
                MigrationStatus(
                    name: $0["name"], state: MigrationStatus.State(rawValue: $0["status"]) ?? .paused, reason: $0["reason"],
                    updatedAt: Date(timeIntervalSince1970: $0["updatedAt"]))
            }
        }
    }

    public func setMigrationStatus(name: String, state: MigrationStatus.State, reason: String?, actor: String, at: Date) async throws {
        try await write { db in
            let previous = try String.fetchOne(db.cachedStatement(sql: "SELECT status FROM migration WHERE name = ?"), arguments: [name])
            try db.cachedStatement(
                sql: """
                    INSERT INTO migration (name, status, reason, updatedAt) VALUES (?, ?, ?, ?)
                    ON CONFLICT (name) DO UPDATE SET status = excluded.status, reason = excluded.reason, updatedAt = excluded.updatedAt
                    """).execute(
                arguments: [name, state.rawValue, reason, at.timeIntervalSince1970])
            if previous != state.rawValue {
                try Self.insertEvent(db, DeviceEvent(
                    deviceID: nil, at: at, kind: "migration",
                    summary: "migration \(name): \(state.rawValue)" + (reason.map { " (\($0))" } ?? ""), actor: actor,
                    detail: ["migration": name, "state": state.rawValue]))
            }
        }
    }

    public func migrationDevice(migration: String, deviceID: Int64) async throws -> MigrationDeviceRecord? {
        try await pool.read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM migrationDevice WHERE migration = ? AND deviceId = ?"), arguments: [migration, deviceID])
                .map(Self.migrationDevice(from:))
        }
    }

    public func migrationDevices(deviceID: Int64) async throws -> [MigrationDeviceRecord] {
        try await pool.read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM migrationDevice WHERE deviceId = ? ORDER BY startedAt"), arguments: [deviceID])
                .map(Self.migrationDevice(from:))
        }
    }

    public func migrationDevices(migration: String, states: Set<MigrationDeviceRecord.State>) async throws -> [MigrationDeviceRecord] {
        try await pool.read { db in
            var sql = "SELECT * FROM migrationDevice WHERE migration = ?"
            var arguments: StatementArguments = [migration]
            if !states.isEmpty {
                sql += " AND state IN (\(databaseQuestionMarks(count: states.count)))"
                arguments += StatementArguments(states.map(\.rawValue).sorted())
            }
            return try Row.fetchAll(db, sql: sql + " ORDER BY deviceId", arguments: arguments).map(Self.migrationDevice(from:))
        }
    }

    public func saveMigrationDevice(_ record: MigrationDeviceRecord, event: String?, actor: String) async throws {
        let bindings = Self.json(record.bindings)
        let created = try Self.json(record.created)
        let restore = try Self.json(record.restore.mapValues { ["type": $0.type.rawValue, "value": $0.lexical] })
        try await write { db in
            try db.cachedStatement(
                sql: """
                    INSERT INTO migrationDevice (migration, deviceId, state, wave, step, taskId, template, endpointId, bindings, created,
                        restore, startedAt, deadline, reason, updatedAt)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (migration, deviceId) DO UPDATE SET state = excluded.state, wave = excluded.wave, step = excluded.step,
                        taskId = excluded.taskId, template = excluded.template, endpointId = excluded.endpointId,
                        bindings = excluded.bindings, created = excluded.created, restore = excluded.restore,
                        deadline = excluded.deadline, reason = excluded.reason, updatedAt = excluded.updatedAt
                    """).execute(
                arguments: [
                    record.migration, record.deviceID, record.state.rawValue, record.wave, record.step, record.taskID, record.template,
                    record.endpointID, bindings, created, restore, record.startedAt.timeIntervalSince1970,
                    record.deadline?.timeIntervalSince1970, record.reason, record.updatedAt.timeIntervalSince1970,
                ])
            if let event {
                try Self.insertEvent(db, DeviceEvent(
                    deviceID: record.deviceID, at: record.updatedAt, kind: "migration", summary: "migration \(record.migration): \(event)",
                    actor: actor, detail: ["migration": record.migration, "state": record.state.rawValue, "wave": String(record.wave)]))
            }
        }
    }

    public func migrationCounts(migration: String) async throws -> MigrationCounts {
        try await pool.read { db in
            var counts = MigrationCounts()
            for row in try Row.fetchAll(
                db.cachedStatement(sql: "SELECT wave, state, COUNT(*) AS n FROM migrationDevice WHERE migration = ? GROUP BY wave, state"), arguments: [migration])
            {
                if let state = MigrationDeviceRecord.State(rawValue: row["state"]) { counts.counts[row["wave"], default: [:]][state] = row["n"] }
            }
            return counts
        }
    }

    public func migrationStarts(migration: String, since date: Date) async throws -> Int {
        try await pool.read { db in
            try Int.fetchOne(
                db.cachedStatement(sql: "SELECT COUNT(*) FROM migrationDevice WHERE migration = ? AND startedAt >= ?"),
                arguments: [migration, date.timeIntervalSince1970]) ?? 0
        }
    }

    static func migrationDevice(from row: Row) -> MigrationDeviceRecord {
        let deadline: Double? = row["deadline"]
        let restore = decode([String: [String: String]].self, row["restore"]) ?? [:]
        return MigrationDeviceRecord(
            migration: row["migration"], deviceID: row["deviceId"], state: MigrationDeviceRecord.State(rawValue: row["state"]) ?? .failed,
            wave: row["wave"], step: row["step"], taskID: row["taskId"], template: row["template"], endpointID: row["endpointId"],
            bindings: decode([String: String].self, row["bindings"]) ?? [:], created: decode([String].self, row["created"]) ?? [],
            restore: restore.compactMapValues { entry in
                guard let text = entry["value"] else { return nil }
                return TypedValue.lenient(text, type: entry["type"].flatMap(ValueType.init(rawValue:)))
            },
            startedAt: Date(timeIntervalSince1970: row["startedAt"]), deadline: deadline.map(Date.init(timeIntervalSince1970:)),
            reason: row["reason"], updatedAt: Date(timeIntervalSince1970: row["updatedAt"]))
    }

    // MARK: Protocol

    public func setActiveProtocol(deviceID: Int64, _ protocol: ManagementProtocol, actor: String, at: Date) async throws {
        try await write { db in
            let previous = try String.fetchOne(db.cachedStatement(sql: "SELECT activeProtocol FROM device WHERE id = ?"), arguments: [deviceID])
            guard try Self.exists(db, deviceID: deviceID) else { throw RegistryError.deviceNotFound(deviceID) }
            guard previous != `protocol`.rawValue else { return }
            try db.cachedStatement(
                sql: "UPDATE device SET activeProtocol = ?, updatedAt = ? WHERE id = ?").execute(
                arguments: [`protocol`.rawValue, at.timeIntervalSince1970, deviceID])
            try Self.insertEvent(db, DeviceEvent(
                deviceID: deviceID, at: at, kind: "protocol", summary: "managed over \(`protocol`.rawValue) from now on", actor: actor))
        }
    }
}
