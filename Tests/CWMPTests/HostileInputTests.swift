#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CWMP
import Testing
import TandemCore

/// Untrusted input: every refusal is a typed error naming what is wrong; nothing crashes, nothing
/// is fetched, no entity is expanded.
@Suite struct HostileInputTests {
    func decode(_ name: String, decoder: CWMPDecoder = CWMPDecoder()) throws -> () throws(CWMPDecodingError) -> CWMPEnvelope {
        let bytes = try Fixtures.bytes(name)
        return { () throws(CWMPDecodingError) in try decoder.decode(bytes, from: .cpe) }
    }

    @Test(arguments: [
        "hostile-doctype-xxe.xml", "hostile-parameter-entity.xml", "hostile-billion-laughs.xml", "hostile-doctype-plain.xml",
    ])
    func anyDoctypeIsRefused(_ name: String) throws {
        let error = expectDecodingError(.doctype, try decode(name))
        #expect(error?.message.contains("DOCTYPE") == true)
        #expect(error?.line == 2)
        // Nothing from /etc/passwd or the entity text can have leaked into the message.
        #expect(error?.description.contains("root:") == false)
        #expect(error?.description.contains("lol") == false)
    }

    @Test func undeclaredEntityIsMalformed() throws {
        let error = expectDecodingError(.malformedXML, try decode("hostile-undeclared-entity.xml"))
        #expect(error?.message.contains("xxe") == true)
        #expect(error?.line == 1)
    }

    @Test func truncatedXML() throws {
        let error = expectDecodingError(.malformedXML, try decode("hostile-truncated.xml"))
        #expect((error?.line ?? 0) > 1)
    }

    @Test func invalidUTF8NamesTheLine() throws {
        let error = expectDecodingError(.malformedXML, try decode("hostile-invalid-utf8.xml"))
        #expect(error?.line == 9)
        #expect(error?.message.lowercased().contains("utf-8") == true)
        #expect(error?.message.contains("0xC3 0x28") == true)
    }

    @Test func notSOAP() throws {
        let error = expectDecodingError(.notSOAP, try decode("hostile-not-soap.xml"))
        #expect(error?.message.contains("<html>") == true)
    }

    @Test func soap12IsRefused() throws {
        let error = expectDecodingError(.notSOAP, try decode("hostile-soap12.xml"))
        #expect(error?.message.contains("SOAP 1.2") == true)
    }

    @Test func emptyAndMissingBody() throws {
        #expect(expectDecodingError(.notSOAP, try decode("hostile-empty-body.xml"))?.message.contains("Body is empty") == true)
        #expect(expectDecodingError(.notSOAP, try decode("hostile-no-body.xml"))?.message.contains("no Body") == true)
    }

    @Test func foreignNamespaceIsRefusedWithTheIDForAFault() throws {
        let error = expectDecodingError(.unsupportedNamespace, try decode("hostile-wrong-namespace.xml"))
        #expect(error?.cwmpID == "7")
        #expect(error?.method == "Inform")
    }

    @Test func invalidDeviceIDNamesTheProblem() throws {
        let error = expectDecodingError(.invalidValue, try decode("hostile-bad-device-id.xml"))
        #expect(error?.message.contains("OUI") == true)
        #expect(error?.cwmpID == "bad-oui")
        #expect(error?.method == "Inform")
    }

    @Test func deepNestingIsRefused() throws {
        let error = expectDecodingError(.tooDeep, try decode("hostile-deep-nesting.xml"))
        #expect(error?.message.contains("32 levels") == true)
        #expect(error?.line == 1)
    }

    @Test(arguments: Fixtures.all.filter { $0.hasPrefix("hostile-") })
    func everyHostileFixtureIsRefused(_ name: String) throws {
        do {
            let envelope = try Fixtures.decode(name)
            Issue.record("\(name) decoded as \(envelope.body.methodName)")
        } catch let error as CWMPDecodingError {
            #expect(!error.message.isEmpty)
            #expect(!error.message.contains("\n"))
        }
    }

    @Test func depthLimitIsExact() throws {
        func message(depth: Int) -> [UInt8] {
            // Envelope, Body and Kicked are three levels; the filler makes up the rest.
            let filler = depth - 3
            let text = "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:c=\"urn:dslforum-org:cwmp-1-0\"><s:Body><c:Kicked>"
                + String(repeating: "<x>", count: filler) + String(repeating: "</x>", count: filler) + "<Command>go</Command></c:Kicked></s:Body></s:Envelope>"
            return Array(text.utf8)
        }
        let decoder = CWMPDecoder(configuration: .init(maximumDepth: 10))
        let atLimit = message(depth: 10)
        #expect(try decoder.decode(atLimit, from: .cpe).body.methodName == "Kicked")
        let beyond = message(depth: 11)
        expectDecodingError(.tooDeep) { () throws(CWMPDecodingError) in try decoder.decode(beyond, from: .cpe) }
    }

    @Test func oversizedMessagesAreRefusedBeforeParsing() throws {
        let limit = CWMPDecoder.Configuration().maximumMessageBytes
        #expect(limit == 4 * 1024 * 1024)
        // Not even XML: the size check must come first.
        let huge = [UInt8](repeating: UInt8(ascii: "<"), count: limit + 1)
        let error = expectDecodingError(.tooLarge) { () throws(CWMPDecodingError) in try CWMPDecoder().decode(huge, from: .cpe) }
        #expect(error?.message.contains("\(limit + 1) bytes") == true)

        let small = CWMPDecoder(configuration: .init(maximumMessageBytes: 1000))
        expectDecodingError(.tooLarge, try decode("cpe-inform-boot.xml", decoder: small))
    }

    @Test func emptyBodies() {
        for body in ["", "   ", "\r\n\t \r\n"] {
            let bytes = Array(body.utf8)
            #expect(CWMPDecoder.isEmptyBody(bytes))
            expectDecodingError(.empty) { () throws(CWMPDecodingError) in try CWMPDecoder().decode(bytes, from: .cpe) }
        }
        #expect(!CWMPDecoder.isEmptyBody(Array("<a/>".utf8)))
    }

    @Test func everyTruncationOfAMessageFailsCleanly() throws {
        let bytes = try Fixtures.bytes("cpe-transfer-complete.xml")
        let end = bytes.lastIndex(of: UInt8(ascii: ">"))!
        var refused = 0
        for length in stride(from: 1, to: end, by: 3) {
            do {
                _ = try CWMPDecoder().decode(bytes[0..<length], from: .cpe)
                Issue.record("a \(length)-byte prefix decoded")
            } catch {
                #expect(error.kind == .malformedXML || error.kind == .empty || error.kind == .notSOAP, "\(length): \(error)")
                refused += 1
            }
        }
        #expect(refused == (end - 1 + 2) / 3)
    }

    @Test func corruptedBytesNeverCrash() throws {
        // Deterministic mutations of every message fixture: each decodes or fails with a typed error.
        var generator = SplitMix64(seed: 0x7A4D_E11A)
        var failures = 0
        var successes = 0
        for name in Fixtures.messages {
            let original = try Fixtures.bytes(name)
            for _ in 0..<12 {
                var bytes = original
                for _ in 0..<4 {
                    let index = Int(generator.next() % UInt64(bytes.count))
                    bytes[index] = UInt8(truncatingIfNeeded: generator.next())
                }
                do {
                    _ = try CWMPDecoder().decode(bytes, from: Fixtures.sender(of: name))
                    successes += 1
                } catch {
                    #expect(!error.message.isEmpty)
                    failures += 1
                }
            }
        }
        #expect(failures > 0)
        #expect(successes + failures == Fixtures.messages.count * 12)
    }

    @Test func libxml2PrintsNothingToStandardError() throws {
        let output = try captureStandardError {
            for name in Fixtures.all where name.hasPrefix("hostile-") {
                _ = try? CWMPDecoder().decode(try Fixtures.bytes(name), from: .cpe)
            }
            _ = try? CWMPDecoder().decode(Array("<a><b></a>".utf8), from: .cpe)
            _ = try? CWMPDecoder().decode([0xFF, 0xFE, 0x3C, 0x00, 0x61], from: .cpe)
            _ = try? CWMPDecoder().decode(Array("<?xml version=\"1.0\" encoding=\"UTF-16\"?><a/>".utf8), from: .cpe)
            // A lone surrogate under the HTTP charset: libxml2 reports conversion errors without a
            // parser context, past the per-parse handler.
            var utf16 = Array("<\0a\0>\0x\0".utf8) + [0x00, 0xD8, 0x41, 0x00] + Array("<\0/\0a\0>\0".utf8)
            _ = try? CWMPDecoder().decode(utf16, from: .cpe, encoding: "UTF-16LE")
            let inform = Array(try Fixtures.bytes("cpe-inform-boot.xml"))
            utf16 = Array(String(decoding: inform, as: UTF8.self).replacing("encoding=\"UTF-8\"", with: "encoding=\"UTF-16LE\"").utf16)
                .flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
            utf16.insert(contentsOf: [0x00, 0xD8, 0x41, 0x00], at: utf16.count - 40)
            _ = try? CWMPDecoder().decode(utf16, from: .cpe, encoding: "UTF-16LE")
        }
        // Other suites run in parallel and the test runner itself writes to standard error, so look
        // for what libxml2's default handlers print ("file:line: parser error : ...") rather than
        // for an empty stream.
        let libxml2Lines = output.split(separator: "\n").filter { line in
            ["parser error", "error :", "warning :", "namespace error", "encoding error", "Entity:", "validity error"].contains { line.contains($0) }
        }
        #expect(libxml2Lines.isEmpty, "libxml2 wrote: \(libxml2Lines)")
    }
}

/// A small deterministic generator for mutations.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Runs `body` with file descriptor 2 redirected to a pipe and returns what was written.
func captureStandardError(_ body: () throws -> Void) throws -> String {
    var fds: [Int32] = [0, 0]
    guard pipe(&fds) == 0 else { return "" }
    let saved = dup(2)
    fflush(nil)
    dup2(fds[1], 2)
    close(fds[1])
    var thrown: (any Error)?
    do { try body() } catch { thrown = error }
    fflush(nil)
    dup2(saved, 2)
    close(saved)
    var output: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    let flags = fcntl(fds[0], F_GETFL)
    _ = fcntl(fds[0], F_SETFL, flags | O_NONBLOCK)
    while true {
        let count = read(fds[0], &buffer, buffer.count)
        if count <= 0 { break }
        output.append(contentsOf: buffer[0..<count])
    }
    close(fds[0])
    if let thrown { throw thrown }
    return String(decoding: output, as: UTF8.self)
}
