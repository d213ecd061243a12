#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CWMP

/// Reads the XML fixtures in `Fixtures/cwmp` (two levels above this file's directory) and the
/// hostile ones (`hostile-*.xml`) in `Fixtures/hostile`.
enum Fixtures {
    static let root: String = {
        var components = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        components.removeLast(3)  // Tests/CWMPTests/Fixtures.swift
        return components.joined(separator: "/") + "/Fixtures"
    }()
    static let directory = root + "/cwmp"
    static let hostileDirectory = root + "/hostile"

    struct Missing: Error, CustomStringConvertible {
        let name: String
        var description: String { "fixture \(name) not found in \(Fixtures.directory)" }
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        let folder = name.hasPrefix("hostile-") ? hostileDirectory : directory
        guard let data = FileManager.default.contents(atPath: folder + "/" + name) else { throw Missing(name: name) }
        return Array(data)
    }

    /// Fixtures named `cpe-*` were sent by a CPE, `acs-*` by an ACS.
    static func sender(of name: String) -> CWMPDecoder.Sender { name.hasPrefix("acs-") ? .acs : .cpe }

    static func decode(_ name: String, decoder: CWMPDecoder = CWMPDecoder()) throws -> CWMPEnvelope {
        try decoder.decode(try bytes(name), from: sender(of: name))
    }

    /// Every fixture file name, sorted.
    static var all: [String] {
        [directory, hostileDirectory].flatMap { (try? FileManager.default.contentsOfDirectory(atPath: $0)) ?? [] }
            .filter { $0.hasSuffix(".xml") }.sorted()
    }

    /// The fixtures that are well-formed CWMP messages.
    static var messages: [String] { all.filter { !$0.hasPrefix("hostile-") } }
}
