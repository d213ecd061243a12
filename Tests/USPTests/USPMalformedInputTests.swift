import TandemCore
import Testing
import USP

/// Hostile and broken input: every case must end in a `USPDecodingError` with the right code, and
/// none may trap.
@Suite("Malformed USP input")
struct USPMalformedInputTests {
    /// Decodes a Record and returns the error, or nil when decoding succeeded.
    func recordError(_ bytes: [UInt8], limits: USPDecodingLimits = .default) -> USPDecodingError? {
        do {
            _ = try USPRecord(serializedBytes: bytes, limits: limits)
            return nil
        } catch {
            return error
        }
    }

    func messageError(_ bytes: [UInt8], limits: USPDecodingLimits = .default) -> USPDecodingError? {
        do {
            _ = try USPMessage(serializedBytes: bytes, limits: limits)
            return nil
        } catch {
            return error
        }
    }

    // version "1.4", to_id "a", from_id "b"
    let header: [UInt8] = [0x0A, 3, 0x31, 0x2E, 0x34, 0x12, 1, 0x61, 0x1A, 1, 0x62]

    @Test("a Record cut anywhere fails with 7100, or decodes when the cut falls between fields")
    func truncatedRecords() throws {
        for name in try Fixture.allNames(prefix: "record-") {
            let bytes = try Fixture.bytes(name)
            var failures = 0
            for length in 0..<bytes.count {
                guard let error = recordError(Array(bytes.prefix(length))) else { continue }
                failures += 1
                #expect(error.layer == .record)
                #expect(
                    error.code == .recordNotParsed || error.code == .invalidRecordValue,
                    "\(name) cut at \(length): \(error)")
            }
            // Every prefix lacks record_type or ends inside a field (in the 1.5 Record, fields 14
            // and 15 follow record_type, so prefixes ending before them are complete Records).
            if !name.hasPrefix("record-1-5") {
                #expect(failures == bytes.count, "\(name)")
            } else {
                #expect(failures > 0 && failures < bytes.count, "\(name)")
            }
            // Dropping the last byte always cuts the record_type field short.
            #expect(recordError(Array(bytes.dropLast()))?.reason == .truncated, "\(name)")
        }
    }

    @Test("a Message cut anywhere fails with 7001 or 7004, never traps")
    func truncatedMessages() throws {
        for name in try Fixture.allNames(prefix: "msg-") {
            let bytes = try Fixture.bytes(name)
            for length in 0..<bytes.count {
                let error = try #require(messageError(Array(bytes.prefix(length))), "\(name) cut at \(length) decoded")
                #expect(error.layer == .message)
                #expect(error.code == .messageNotSupported || error.code == .invalidArguments, "\(name) cut at \(length): \(error)")
            }
            let error = try #require(messageError(Array(bytes.dropLast())))
            #expect(error.reason == .truncated, "\(name)")
            #expect(error.code == .messageNotSupported)
        }
    }

    @Test("a length prefix far beyond the input is refused without allocating it (7100 / 7001)")
    func hugeLength() {
        // version(1) claims 1 GiB: more than there is.
        let gibVersion: [UInt8] = [0x0A, 0x80, 0x80, 0x80, 0x80, 0x04, 0x31]
        #expect(recordError(gibVersion)?.reason == .truncated)
        #expect(recordError(gibVersion)?.code == .recordNotParsed)
        // version(1) claims 2^32 - 1 bytes: beyond protobuf's 2 GiB limit, so malformed.
        let hugeVersion: [UInt8] = [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x31]
        guard case .malformed? = recordError(hugeVersion)?.reason else {
            Issue.record("4 GiB length: \(String(describing: recordError(hugeVersion)))")
            return
        }
        #expect(recordError(hugeVersion)?.code == .recordNotParsed)
        // no_session_context(7) claims 2^63 bytes.
        let hugePayload = header + [0x3A, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]
        #expect(recordError(hugePayload)?.code == .recordNotParsed)
        // Inside a Message: a Notify event claiming 1 GiB.
        let message: [UInt8] = [0x0A, 3, 0x0A, 1, 0x78, 0x12, 10, 0x0A, 8, 0x42, 6, 0x1A, 0x80, 0x80, 0x80, 0x80, 0x04]
        #expect(messageError(message)?.reason == .truncated)
        #expect(messageError(message)?.code == .messageNotSupported)
    }

    @Test("an overlong varint and reserved wire types are malformed (7100)")
    func malformedEncodings() {
        let overlong: [UInt8] = header + [0x20] + [UInt8](repeating: 0xFF, count: 10) + [0x01]
        guard case .malformed? = recordError(overlong)?.reason else {
            Issue.record("overlong varint accepted: \(String(describing: recordError(overlong)))")
            return
        }
        let wireType7: [UInt8] = header + [0x3F, 0x00]
        #expect(recordError(wireType7)?.code == .recordNotParsed)
        let fieldZero: [UInt8] = [0x02, 0x00] + header
        #expect(recordError(fieldZero)?.code == .recordNotParsed)
        let badUTF8: [UInt8] = [0x0A, 2, 0xC3, 0x28]
        #expect(recordError(badUTF8)?.reason == .malformed("a string field is not valid UTF-8"))
    }

    @Test("a field sent with the wrong wire type is not taken for the field (the Record then lacks it)")
    func mistypedFields() {
        // version(1) as a varint: the string stays empty.
        let mistypedVersion: [UInt8] = [0x08, 0x01, 0x12, 1, 0x61, 0x1A, 1, 0x62, 0x4A, 0x00]
        #expect(recordError(mistypedVersion)?.reason == .missingField("version"))
        #expect(recordError(mistypedVersion)?.code == .invalidRecordValue)
        // no_session_context(7) as fixed32: no record_type.
        let mistypedKind = header + [0x3D, 0x01, 0x02, 0x03, 0x04]
        #expect(recordError(mistypedKind)?.reason == .missingField("record_type"))
        // A Message whose msg_id is a varint.
        let mistypedID: [UInt8] = [0x0A, 2, 0x08, 0x05, 0x12, 4, 0x0A, 2, 0x0A, 0x00]
        #expect(messageError(mistypedID)?.reason == .missingField("header.msg_id"))
    }

    @Test("Record fields TR-369 requires are checked (7104)")
    func recordValidation() {
        #expect(recordError(header)?.reason == .missingField("record_type"))
        #expect(recordError(header)?.code == .invalidRecordValue)
        #expect(recordError([0x12, 1, 0x61, 0x1A, 1, 0x62, 0x4A, 0x00])?.reason == .missingField("version"))
        #expect(recordError([0x0A, 1, 0x31, 0x1A, 1, 0x62, 0x4A, 0x00])?.reason == .missingField("to_id"))
        #expect(recordError([0x0A, 1, 0x31, 0x12, 1, 0x61, 0x4A, 0x00])?.reason == .missingField("from_id"))
        // R-E2E.26: empty no_session_context payload.
        guard case .invalidValue(let field, _)? = recordError(header + [0x3A, 0x00])?.reason else {
            Issue.record("empty payload accepted")
            return
        }
        #expect(field == "no_session_context.payload")
        // R-ENC.2: payload_security 5.
        let unknownSecurity = header + [0x20, 0x05, 0x4A, 0x00]
        #expect(recordError(unknownSecurity)?.code == .invalidRecordValue)
        // R-E2E.41: TLS12 outside a Session Context.
        let tlsWithoutContext = header + [0x20, 0x01, 0x3A, 0x03, 0x12, 0x01, 0x00]
        #expect(recordError(tlsWithoutContext)?.code == .invalidRecordValue)
        // Unknown MQTT version, unknown SAR state, rec state set while payload state is NONE.
        #expect(recordError(header + [0x52, 0x02, 0x08, 0x07])?.code == .invalidRecordValue)
        #expect(recordError(header + [0x42, 0x02, 0x28, 0x09])?.code == .invalidRecordValue)
        #expect(recordError(header + [0x42, 0x02, 0x30, 0x01])?.code == .invalidRecordValue)
        // And the same Session Context with BEGIN/BEGIN is fine.
        #expect(recordError(header + [0x42, 0x04, 0x28, 0x01, 0x30, 0x01]) == nil)
    }

    @Test("Message oneofs and the header are checked, with the msg_id kept for the Error reply (R-ENC.5, R-MTP.5)")
    func messageValidation() {
        let noHeader: [UInt8] = [0x12, 4, 0x0A, 2, 0x0A, 0x00]
        #expect(messageError(noHeader)?.reason == .missingField("header"))
        #expect(messageError(noHeader)?.messageID == nil)

        let headerOnly: [UInt8] = [0x0A, 3, 0x0A, 1, 0x78]
        #expect(messageError(headerOnly)?.reason == .missingField("body.msg_body"))
        #expect(messageError(headerOnly)?.messageID == "x")
        #expect(messageError(headerOnly)?.code == .invalidArguments)

        let emptyRequest: [UInt8] = [0x0A, 3, 0x0A, 1, 0x78, 0x12, 2, 0x0A, 0x00]
        #expect(messageError(emptyRequest)?.reason == .missingField("request.req_type"))
        #expect(messageError(emptyRequest)?.messageID == "x")

        let emptyNotify: [UInt8] = [0x0A, 3, 0x0A, 1, 0x78, 0x12, 4, 0x0A, 2, 0x42, 0x00]
        #expect(messageError(emptyNotify)?.reason == .missingField("notify.notification"))

        // AddResp with a CreatedObjectResult that has no oper_status.
        let noStatus: [UInt8] = [0x0A, 3, 0x0A, 1, 0x78, 0x12, 8, 0x12, 6, 0x2A, 4, 0x0A, 2, 0x0A, 0x00]
        #expect(messageError(noStatus)?.reason == .missingField("add_resp.created_obj_results.oper_status"))
        #expect(messageError(noStatus)?.messageID == "x")

        // GetSupportedDMResp with ParamAccessType 9.
        let badAccess: [UInt8] = [
            0x0A, 3, 0x0A, 1, 0x78, 0x12, 12, 0x12, 10, 0x12, 8, 0x0A, 6, 0x2A, 4, 0x32, 2, 0x10, 0x09,
        ]
        guard case .invalidValue(let field, _)? = messageError(badAccess)?.reason else {
            Issue.record("unknown enumeration accepted")
            return
        }
        #expect(field == "supported_params.access")
    }

    @Test("size limits refuse input before parsing: records with 7100, messages with 7005")
    func sizeLimits() throws {
        let record = try Fixture.bytes("record-no-session-context")
        let tight = USPDecodingLimits(maxRecordBytes: record.count - 1)
        #expect(recordError(record, limits: tight)?.reason == .tooLarge(size: record.count, limit: record.count - 1))
        #expect(recordError(record, limits: tight)?.code == .recordNotParsed)
        #expect(recordError(record, limits: USPDecodingLimits(maxRecordBytes: record.count)) == nil)

        let message = try Fixture.bytes("msg-get-resp")
        let small = USPDecodingLimits(maxMessageBytes: 100)
        #expect(messageError(message, limits: small)?.reason == .tooLarge(size: message.count, limit: 100))
        #expect(messageError(message, limits: small)?.code == .resourcesExceeded)
        #expect(messageError(message, limits: small)?.fault.category == .resourcesExceeded)
        // The Message limit applies to the payload extracted from a Record too.
        let wrapped = try USPRecord(serializedBytes: record)
        #expect(throws: USPDecodingError.self) { try wrapped.message(limits: USPDecodingLimits(maxMessageBytes: 10)) }
    }

    @Test("nesting deeper than the limit is refused")
    func nestingLimit() throws {
        let bytes = try Fixture.bytes("msg-set-resp")  // Msg > Body > Response > SetResp > ... > ParameterError
        #expect(messageError(bytes, limits: USPDecodingLimits(maxNestingDepth: 4))?.reason == .malformed("messages nest deeper than 4 levels"))
        #expect(messageError(bytes, limits: USPDecodingLimits(maxNestingDepth: 16)) == nil)
    }

    @Test("random bytes never trap and always map to a USP error code of their layer")
    func randomInput() {
        var generator = SplitMix64(seed: 0x5EED_0369)
        for _ in 0..<3000 {
            let length = Int(generator.next() % 80)
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            if let error = recordError(bytes) {
                #expect(error.code == .recordNotParsed || error.code == .invalidRecordValue, "\(bytes): \(error)")
            }
            if let error = messageError(bytes) {
                #expect(
                    [USPErrorCode.messageNotSupported, .invalidArguments].contains(error.code), "\(bytes): \(error)")
            }
        }
    }

    @Test("decoding errors map to neutral fault categories")
    func errorFaults() {
        let recordFailure = USPDecodingError(layer: .record, reason: .truncated)
        #expect(recordFailure.code == .recordNotParsed)
        #expect(recordFailure.fault.category == .protocolError)
        #expect(recordFailure.fault.code == .usp(.recordNotParsed))
        let messageFailure = USPDecodingError(layer: .message, reason: .missingField("header"))
        #expect(messageFailure.fault.category == .invalidArguments)
        #expect(USPDecodingError(layer: .message, reason: .truncated).fault.category == .notSupported)
        #expect(messageFailure.description.contains("7004"))
        #expect(messageFailure.description.contains("header"))
    }
}

/// A small deterministic generator for the random-input test.
struct SplitMix64: RandomNumberGenerator {
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
