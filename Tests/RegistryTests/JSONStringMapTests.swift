import Foundation
@testable import Registry
import Testing

/// The hand-written JSON of a `[String: String]` (event details, connection facts) reads back as
/// the same map and matches `JSONEncoder`'s text for the maps Tandem writes.
@Suite struct JSONStringMapTests {
    static let samples: [[String: String]] = [
        [:],
        ["events": "0 BOOTSTRAP, 1 BOOT", "remoteAddress": "127.0.0.1"],
        ["quote": "say \"hi\"", "backslash": "a\\b", "slash": "http://x/y"],
        ["controls": "tab\there\nnew\rret\u{08}bs\u{0C}ff\u{01}\u{1F}", "unicode": "héllo 世界 🚀", "del": "\u{7F}"],
        ["b": "2", "a": "1", "c": "3", "aa": "4", "A": "5"],
    ]

    @Test(arguments: samples)
    func readsBackAsTheSameMap(map: [String: String]) throws {
        let text = JSONStringMap.encode(map)
        let decoded = try JSONDecoder().decode([String: String].self, from: Data(text.utf8))
        #expect(decoded == map)
    }

    @Test(arguments: samples)
    func matchesJSONEncoder(map: [String: String]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let expected = String(decoding: try encoder.encode(map), as: UTF8.self)
        #expect(JSONStringMap.encode(map) == expected)
    }
}
