import Foundation
import GRDB
@testable import Registry
import Testing

/// The hot path's direct bindings against a real SQLite file: every kind of value lands as GRDB
/// would bind it, errors come back as `DatabaseError`s naming the statement, and the cached
/// statement stays usable (through GRDB too) after success and after failure.
@Suite struct DirectStatementTests {
    func withDatabase(_ body: (Database) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("direct-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let queue = try DatabaseQueue(path: directory.appendingPathComponent("t.sqlite").path)
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (id INTEGER PRIMARY KEY, i INTEGER, d REAL, s TEXT, b INTEGER, n TEXT NOT NULL DEFAULT 'x', UNIQUE (s))")
            try body(db)
        }
    }

    @Test func valuesOfEveryKindAreStoredAsGRDBWouldStoreThem() throws {
        try withDatabase { db in
            let insert = try db.cachedStatement(sql: "INSERT INTO t (id, i, d, s, b) VALUES (?, ?, ?, ?, ?)")
            try insert.executeDirect { row in
                row.bind(Int64(1)); row.bind(Int64.min); row.bind(-0.5); row.bind("Wi-Fi ✓ «é»"); row.bind(true)
            }
            try insert.executeDirect { row in
                row.bind(Int64(2)); row.bind(Int64?.none); row.bind(1e300); row.bind(""); row.bind(false)
            }
            try insert.executeDirect { row in
                row.bind(Int64(3)); row.bind(Int64(7)); row.bind(0.0); row.bind(String?.none); row.bind(Bool?.none)
            }
            let rows = try Row.fetchAll(db, sql: "SELECT id, i, d, s, b, typeof(s) AS ts, typeof(b) AS tb, hex(s) AS hs FROM t ORDER BY id")
            #expect(rows.count == 3)
            #expect(rows[0]["i"] == Int64.min)
            #expect(rows[0]["d"] == -0.5)
            #expect(rows[0]["s"] == "Wi-Fi ✓ «é»")
            #expect(rows[0]["b"] == true)
            #expect(rows[0]["tb"] == "integer")
            // The same bytes GRDB's own binding gives SQLite.
            let grdbBytes = try String.fetchOne(db, sql: "SELECT hex(?)", arguments: ["Wi-Fi ✓ «é»"])
            #expect(rows[0]["hs"] as String? == grdbBytes)
            // An empty string is text, not NULL.
            #expect(rows[1]["ts"] == "text")
            #expect(rows[1]["s"] == "")
            #expect(rows[1]["i"] as Int64? == nil)
            #expect(rows[1]["d"] == 1e300)
            #expect(rows[1]["b"] == false)
            #expect(rows[2]["ts"] == "null")
            #expect(rows[2]["b"] as Bool? == nil)
        }
    }

    @Test func failuresAreDatabaseErrorsAndTheStatementStaysUsable() throws {
        try withDatabase { db in
            let insert = try db.cachedStatement(sql: "INSERT INTO t (id, s) VALUES (?, ?)")
            try insert.executeDirect { $0.bind(Int64(1)); $0.bind("same") }
            let duplicate = #expect(throws: DatabaseError.self) {
                try insert.executeDirect { $0.bind(Int64(2)); $0.bind("same") }
            }
            #expect(duplicate?.resultCode == .SQLITE_CONSTRAINT)
            #expect(duplicate?.message?.contains("UNIQUE") == true, "\(String(describing: duplicate?.message))")
            #expect(duplicate?.sql == "INSERT INTO t (id, s) VALUES (?, ?)")
            // Too few values: refused before stepping, nothing written.
            let short = #expect(throws: DatabaseError.self) { try insert.executeDirect { $0.bind(Int64(3)) } }
            #expect(short?.resultCode == .SQLITE_MISUSE)
            // Too many: SQLite's range error.
            let long = #expect(throws: DatabaseError.self) {
                try insert.executeDirect { $0.bind(Int64(4)); $0.bind("a"); $0.bind("b") }
            }
            #expect(long?.resultCode == .SQLITE_RANGE)
            // Usable again, directly and through GRDB.
            try insert.executeDirect { $0.bind(Int64(5)); $0.bind("other") }
            try insert.execute(arguments: [6, "grdb"])
            #expect(try Int64.fetchAll(db, sql: "SELECT id FROM t ORDER BY id") == [1, 5, 6])
        }
    }

    @Test func fetchFirstReadsOneRowOrNone() throws {
        try withDatabase { db in
            try db.execute(sql: "INSERT INTO t (id, i, s) VALUES (1, 42, 'one'), (2, NULL, NULL)")
            let select = try db.cachedStatement(sql: "SELECT i, s FROM t WHERE id = ?")
            let one = try select.fetchFirstDirect({ $0.bind(Int64(1)) }) { ($0.int64(0), $0.string(1)) }
            #expect(one?.0 == 42)
            #expect(one?.1 == "one")
            let nulls = try select.fetchFirstDirect({ $0.bind(Int64(2)) }) { ($0.int64(0), $0.string(1)) }
            #expect(nulls != nil)
            #expect(nulls?.0 == nil)
            #expect(nulls?.1 == nil)
            let none = try select.fetchFirstDirect({ $0.bind(Int64(3)) }) { $0.int64(0) }
            #expect(none == nil)
            // GRDB reads through the same cached statement afterwards.
            #expect(try Row.fetchOne(select, arguments: [1])?["s"] == "one")
        }
    }
}
