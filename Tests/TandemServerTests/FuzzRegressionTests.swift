import CWMP
import Foundation
import TandemCore
import Testing
import USP

/// Every input a fuzzer ever crashed on (Fuzz/Crashers/<target>/, kept by Scripts/fuzz) goes
/// through the same code as the fuzz target, in every test run.
@Suite struct FuzzRegressionTests {
    static func crashers(_ target: String) throws -> [(String, [UInt8])] {
        let directory = repositoryRoot.appendingPathComponent("Fuzz/Crashers/\(target)")
        #expect(FileManager.default.fileExists(atPath: directory.path), "Fuzz/Crashers/\(target) is missing")
        return try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { !$0.hasPrefix(".") }.sorted().map {
            ($0, Array(try Data(contentsOf: directory.appendingPathComponent($0))))
        }
    }

    @Test func soapDecoderCrashers() throws {
        let decoder = CWMPDecoder(configuration: .init(maximumMessageBytes: 1 << 20))
        for (_, bytes) in try Self.crashers("SOAPDecoder") {
            _ = try? decoder.decode(bytes, from: .cpe)
            _ = try? decoder.decode(bytes, from: .acs)
        }
    }

    @Test func uspDecoderCrashers() throws {
        for (_, bytes) in try Self.crashers("USPDecoder") {
            if let record = try? USPRecord(serializedBytes: bytes), case .noSessionContext(let payload) = record.kind {
                _ = try? USPMessage(serializedBytes: payload)
            }
            _ = try? USPMessage(serializedBytes: bytes)
        }
    }

    @Test func pathParserCrashers() throws {
        for (name, bytes) in try Self.crashers("PathParser") {
            let text = String(decoding: bytes, as: UTF8.self)
            if let path = try? PathExpression(text) {
                #expect((try? PathExpression(path.description)) == path, "\(name): \(text.debugDescription) does not round-trip")
            }
        }
    }
}
