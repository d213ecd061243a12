import GRDB
import GRDBSQLite

/// Binds parameters of a prepared statement through SQLite's C API.
///
/// The Inform hot path writes about 150 values per session (twenty parameter rows, the device
/// row, the event). Through `StatementArguments` each value is boxed into an existential, copied
/// into a `DatabaseValue` and bound within nested closures: in the `cwmp-sessions` profile that
/// cost about 8 % of the server's CPU, ten times what SQLite spent binding and stepping those rows.
/// Text is bound `SQLITE_TRANSIENT` (SQLite copies it), so nothing outlives the call.
struct DirectBinder {
    fileprivate let handle: SQLiteStatement
    fileprivate var index: CInt = 0
    /// The first binding that failed (SQLITE_RANGE, SQLITE_NOMEM, SQLITE_TOOBIG).
    fileprivate var failure: CInt = SQLITE_OK

    fileprivate init(handle: SQLiteStatement) {
        self.handle = handle
    }

    private mutating func next(_ code: CInt) {
        if failure == SQLITE_OK, code != SQLITE_OK { failure = code }
    }

    /// Binds the next parameter (`?` in order).
    mutating func bind(_ value: Int64) {
        index += 1
        next(sqlite3_bind_int64(handle, index, value))
    }

    mutating func bind(_ value: Int64?) {
        guard let value else { return bindNull() }
        bind(value)
    }

    mutating func bind(_ value: Double) {
        index += 1
        next(sqlite3_bind_double(handle, index, value))
    }

    mutating func bind(_ value: Bool?) {
        guard let value else { return bindNull() }
        bind(Int64(value ? 1 : 0))
    }

    mutating func bind(_ value: String?) {
        guard var value else { return bindNull() }
        index += 1
        let position = index
        let code = value.withUTF8 { utf8 -> CInt in
            // An empty buffer may have no address; SQLite would read a null pointer as NULL.
            guard let base = utf8.baseAddress else { return sqlite3_bind_text(handle, position, "", 0, SQLITE_TRANSIENT) }
            return base.withMemoryRebound(to: CChar.self, capacity: utf8.count) {
                sqlite3_bind_text(handle, position, $0, CInt(utf8.count), SQLITE_TRANSIENT)
            }
        }
        next(code)
    }

    mutating func bindNull() {
        index += 1
        next(sqlite3_bind_null(handle, index))
    }
}

/// What SQLite's `SQLITE_TRANSIENT` is: the destructor value telling it to copy the bytes.
private let SQLITE_TRANSIENT = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

extension Statement {
    /// Runs this statement once with the parameters `bind` sets, stepping through every row.
    ///
    /// For the registry's write hot path only: it skips GRDB's per-statement bookkeeping
    /// (authorizer callbacks, transaction observers, none of which the registry installs), so it
    /// must not carry BEGIN, COMMIT, SAVEPOINT or schema changes. The statement is left reset with
    /// its bindings cleared, as GRDB leaves one it ran with temporary bindings.
    func executeDirect(_ bind: (inout DirectBinder) -> Void) throws {
        let handle = sqliteStatement
        defer { clearDirect() }
        try bindDirect(bind)
        while true {
            switch sqlite3_step(handle) {
            case SQLITE_DONE: return
            case SQLITE_ROW: continue
            case let code: throw error(code)
            }
        }
    }

    /// Steps this statement once with the parameters `bind` sets and hands its first row to
    /// `read`; nil when there is no row. The same restrictions as ``executeDirect(_:)``.
    func fetchFirstDirect<T>(_ bind: (inout DirectBinder) -> Void, read: (DirectRow) throws -> T) throws -> T? {
        let handle = sqliteStatement
        defer { clearDirect() }
        try bindDirect(bind)
        switch sqlite3_step(handle) {
        case SQLITE_ROW: return try read(DirectRow(handle: handle))
        case SQLITE_DONE: return nil
        case let code: throw error(code)
        }
    }

    /// Resets the statement and binds every parameter, or throws before anything is stepped.
    private func bindDirect(_ bind: (inout DirectBinder) -> Void) throws {
        let handle = sqliteStatement
        // A statement GRDB ran last is reset already; one that failed may not be.
        sqlite3_reset(handle)
        var binder = DirectBinder(handle: handle)
        bind(&binder)
        guard binder.failure == SQLITE_OK else { throw error(binder.failure) }
        let expected = sqlite3_bind_parameter_count(handle)
        guard binder.index == expected else {
            throw DatabaseError(
                resultCode: .SQLITE_MISUSE, message: "\(binder.index) values bound, the statement has \(expected) parameters", sql: sql)
        }
    }

    private func clearDirect() {
        sqlite3_reset(sqliteStatement)
        sqlite3_clear_bindings(sqliteStatement)
    }

    private func error(_ code: CInt) -> DatabaseError {
        let message = sqlite3_errmsg(sqlite3_db_handle(sqliteStatement)).map { String(cString: $0) }
        return DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: sql)
    }
}

/// The current row of a statement stepped by ``Statement/fetchFirstDirect(_:read:)``; valid only
/// inside `read`.
struct DirectRow {
    fileprivate let handle: SQLiteStatement

    func int64(_ column: CInt) -> Int64? {
        sqlite3_column_type(handle, column) == SQLITE_NULL ? nil : sqlite3_column_int64(handle, column)
    }

    func double(_ column: CInt) -> Double? {
        sqlite3_column_type(handle, column) == SQLITE_NULL ? nil : sqlite3_column_double(handle, column)
    }

    func string(_ column: CInt) -> String? {
        guard sqlite3_column_type(handle, column) != SQLITE_NULL, let text = sqlite3_column_text(handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }
}
