#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CWMP

/// Reads the XML fixtures in `Fixtures/cwmp` (two levels above this file's directory).
enum Fixtures {
    static let directory: String = {
        var components = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        components.removeLast(3)  // Tests/CWMPTests/Fixtures.swift
        return components.joined(separator: "/") + "/Fixtures/cwmp"
    }()

    struct Missing: Error, CustomStringConvertible {
        let name: String
        var description: String { "fixture \(name) not found in \(Fixtures.directory)" }
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: directory + "/" + name) else { throw Missing(name: name) }
        return Array(data)
    }

    /// Fixtures named `cpe-*` were sent by a CPE, `acs-*` by an ACS.
    static func sender(of name: String) -> CWMPDecoder.Sender { name.hasPrefix("acs-") ? .acs : .cpe }

    static func decode(_ name: String, decoder: CWMPDecoder = CWMPDecoder()) throws -> CWMPEnvelope {
        try decoder.decode(try bytes(name), from: sender(of: name))
    }

    /// Every fixture file name, sorted.
    static var all: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".xml") }.sorted()
    }

    /// The fixtures that are well-formed CWMP messages.
    static var messages: [String] { all.filter { !$0.hasPrefix("hostile-") } }
}
