import Foundation
import GRDBSQLite
import Registry
import TandemCore

/// The floor of `registry-scale`'s Inform update rate: the rows one periodic Inform writes in the
/// registry (the identity lookup, the device row, every parameter row, the event), written with
/// SQLite's C API alone, into the same database file: prepared statements, text bound as SQLite
/// copies it, transactions of `batch` Informs, no savepoints, no Swift types between the values and
/// SQLite. What the registry adds on top of this (GRDB, the group commit's queue and a savepoint per
/// write, the values' Swift forms) is the ratio's gap.
///
/// The statements are the registry's own (``InformStatements``) for a device that exists and
/// whose last Inform reported the same parameter names: the periodic-Inform path, on which a
/// parameter row is written only when its value changed.
struct RegistryWriteFloor: ~Copyable {
    private var db: OpaquePointer?
    private var lookup: OpaquePointer?
    private var device: OpaquePointer?
    private var parameter: OpaquePointer?
    private var event: OpaquePointer?
    private var begin: OpaquePointer?
    private var commit: OpaquePointer?

    init(path: String) throws {
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK else {
            // SQLite returns a handle to close even then; `deinit` (which runs for a throwing
            // initialiser too) must not close it a second time.
            let message = Self.message(db)
            sqlite3_close(db)
            db = nil
            throw BenchError("registry floor: cannot open \(path): \(message)")
        }
        sqlite3_busy_timeout(db, 5_000)
        // As the registry opens its connections (SQLiteRegistryStore.init): WAL is the file's mode.
        try execute("PRAGMA synchronous = NORMAL")
        try execute("PRAGMA temp_store = MEMORY")
        lookup = try prepare(InformStatements.lookup)
        device = try prepare(InformStatements.deviceUpdate)
        parameter = try prepare(InformStatements.parameterRefresh)
        event = try prepare(InformStatements.eventInsert)
        begin = try prepare("BEGIN IMMEDIATE")
        commit = try prepare("COMMIT")
    }

    deinit {
        for statement in [lookup, device, parameter, event, begin, commit] { sqlite3_finalize(statement) }
        sqlite3_close(db)
    }

    /// Writes `informs` in transactions of `batch`; returns Informs per second.
    func write(_ informs: [InformRecord], batch: Int, at date: Date) throws -> Double {
        let started = ContinuousClock.now
        var index = 0
        while index < informs.count {
            try step(begin)
            do {
                for inform in informs[index..<min(index + batch, informs.count)] {
                    try write(inform, at: date)
                }
                try step(commit)
            } catch {
                // Nothing of a failed batch stays: in cwmp-sessions this is the live server's registry.
                sqlite3_exec(db, "ROLLBACK", nil, nil, nil)
                throw error
            }
            index += batch
        }
        return Double(informs.count) / (ContinuousClock.now - started).seconds
    }

    /// The rows of the event log: each Inform, the registry's or the floor's, appends one.
    func eventCount() throws -> Int64 {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM event", -1, &statement, nil) == SQLITE_OK else {
            throw BenchError("registry floor: \(Self.message(db))")
        }
        defer { sqlite3_finalize(statement) }
        guard sqlite3_step(statement) == SQLITE_ROW else { throw BenchError("registry floor: \(Self.message(db))") }
        return sqlite3_column_int64(statement, 0)
    }

    private func write(_ inform: InformRecord, at date: Date) throws {
        let time = date.timeIntervalSince1970
        let identity = inform.identity
        let canonical = identity.canonical
        // Only the periodic path is measured: the registry writes more for a boot, a bootstrap or
        // a retried Inform (the event's kind and detail, the data model's removal).
        guard !inform.eventCodes.isEmpty, !inform.eventCodes.contains("0 BOOTSTRAP"), !inform.eventCodes.contains("1 BOOT"),
            inform.retryCount == 0
        else { throw BenchError("registry floor: \(canonical) sends \(inform.eventCodes), not a periodic Inform") }
        bind(lookup, 1, canonical)
        guard sqlite3_step(lookup) == SQLITE_ROW else {
            sqlite3_reset(lookup)
            throw BenchError("registry floor: \(canonical) is not in the registry")
        }
        let id = sqlite3_column_int64(lookup, 0)
        let protocols = Self.text(lookup, 2) ?? ""
        let active = Self.text(lookup, 3) ?? "cwmp"
        // The registry takes its one-update path only when the row is this CWMP device, already
        // known over CWMP, with the identity and software version the Inform reports, and whose
        // last Inform reported the same parameter names; anything else means it would write more
        // than this floor does.
        let onFastPath = Self.text(lookup, 1) == canonical && protocols.split(separator: ",").contains("cwmp")
            && Self.text(lookup, 4) == identity.oui && Self.text(lookup, 5) == identity.productClass
            && Self.text(lookup, 6) == identity.serialNumber
            && inform.details.softwareVersion.map { Self.text(lookup, 7) == $0 } ?? true
            && sqlite3_column_type(lookup, 8) != SQLITE_NULL && sqlite3_column_int64(lookup, 8) == inform.parameterNamesDigest
        sqlite3_reset(lookup)
        guard onFastPath else { throw BenchError("registry floor: \(canonical) is not on the registry's periodic-Inform path") }

        let details = inform.details
        bind(device, 1, details.manufacturer ?? (identity.manufacturer.isEmpty ? nil : identity.manufacturer))
        bind(device, 2, details.modelName)
        bind(device, 3, details.hardwareVersion)
        bind(device, 4, details.dataModelRoot)
        bind(device, 5, details.connectionRequestURL)
        bind(device, 6, details.connection.map { JSONStringMap.encode($0) })
        bind(device, 7, protocols)
        bind(device, 8, active)
        sqlite3_bind_double(device, 9, time)
        sqlite3_bind_double(device, 10, time)
        sqlite3_bind_double(device, 11, time)
        sqlite3_bind_int64(device, 12, id)
        try step(device)
        guard sqlite3_changes(db) == 1 else { throw BenchError("registry floor: \(canonical)'s row was not updated") }

        var changed: CInt = 0
        for parameter in inform.parameters {
            bind(self.parameter, 1, parameter.value?.lexical)
            bind(self.parameter, 2, parameter.value?.type.rawValue)
            sqlite3_bind_null(self.parameter, 3)
            sqlite3_bind_double(self.parameter, 4, parameter.updatedAt.timeIntervalSince1970)
            sqlite3_bind_int64(self.parameter, 5, id)
            bind(self.parameter, 6, parameter.path)
            try step(self.parameter)
            changed += sqlite3_changes(db)
        }
        // The benchmark's Informs each report a later UpTime: a floor that wrote no row skipped
        // the work it stands for.
        guard changed > 0 else { throw BenchError("registry floor: \(canonical)'s Inform changed no parameter row") }

        let entry = inform.event(deviceID: id, at: date)
        sqlite3_bind_int64(event, 1, id)
        sqlite3_bind_double(event, 2, time)
        bind(event, 3, entry.kind)
        bind(event, 4, entry.summary)
        bind(event, 5, entry.actor)
        bind(event, 6, JSONStringMap.encode(entry.detail))
        try step(event)
    }

    /// Runs `statement` to its end and resets it with its bindings cleared.
    private func step(_ statement: OpaquePointer?) throws {
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        guard sqlite3_step(statement) == SQLITE_DONE else { throw BenchError("registry floor: \(Self.message(db))") }
    }

    private func bind(_ statement: OpaquePointer?, _ index: CInt, _ text: String?) {
        guard var text else {
            sqlite3_bind_null(statement, index)
            return
        }
        text.withUTF8 { utf8 in
            utf8.withMemoryRebound(to: CChar.self) { chars in
                // An empty buffer may have no address; SQLite reads a null pointer as NULL.
                guard let base = chars.baseAddress else { return _ = sqlite3_bind_text(statement, index, "", 0, Self.transient) }
                _ = sqlite3_bind_text(statement, index, base, CInt(chars.count), Self.transient)
            }
        }
    }

    private func execute(_ sql: String) throws {
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else { throw BenchError("registry floor: \(sql): \(Self.message(db))") }
    }

    private func prepare(_ sql: String) throws -> OpaquePointer? {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v3(db, sql, -1, CUnsignedInt(SQLITE_PREPARE_PERSISTENT), &statement, nil) == SQLITE_OK else {
            throw BenchError("registry floor: cannot prepare \(sql): \(Self.message(db))")
        }
        return statement
    }

    private static func text(_ statement: OpaquePointer?, _ column: CInt) -> String? {
        guard let text = sqlite3_column_text(statement, column) else { return nil }
        return String(cString: text)
    }

    private static func message(_ db: OpaquePointer?) -> String {
        sqlite3_errmsg(db).map { String(cString: $0) } ?? "unknown error"
    }

    /// SQLite copies text bound with this destructor value, as the registry binds it.
    private static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)
}
