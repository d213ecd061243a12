import Foundation
import Registry

/// A registry on a fresh SQLite file in a temporary directory, removed when the test ends.
struct TemporaryRegistry {
    let directory: String
    let store: SQLiteRegistryStore

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-registry-\(UUID().uuidString)").path
        store = try SQLiteRegistryStore(dataDirectory: directory)
    }

    var path: String { store.path }

    func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}

let t0 = Date(timeIntervalSince1970: 1_795_594_566)
