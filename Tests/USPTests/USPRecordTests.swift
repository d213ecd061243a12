import TandemCore
import Testing
import USP

@Suite("USP Records")
struct USPRecordTests {
    @Test("every record fixture decodes to its expected value and re-encodes byte for byte")
    func recordFixtures() throws {
        let expectations = try ExpectedRecords.all()
        // Every record fixture on disk is covered (the 1.5 one has its own test).
        let names = try Fixture.allNames(prefix: "record-").filter { !$0.hasPrefix("record-1-5") }
        #expect(names == expectations.map(\.0).sorted())
        for (name, expected) in expectations {
            let bytes = try Fixture.bytes(name)
            let decoded = try USPRecord(serializedBytes: bytes)
            #expect(decoded == expected, "\(name)")
            #expect(try expected.serializedBytes() == bytes, "\(name): Swift encoding differs from protoc's")
            #expect(try decoded.serializedBytes() == bytes, "\(name): round trip")
        }
    }

    @Test("a NoSessionContextRecord carries its payload in field 2 of record_type field 7")
    func noSessionContextWireFormat() throws {
        let record = USPRecord(version: "1.4", toID: "a", fromID: "b", kind: .noSessionContext(payload: [0xAA, 0xBB]))
        let bytes = try record.serializedBytes()
        // version(1) "1.4", to_id(2) "a", from_id(3) "b", no_session_context(7) { payload(2) AA BB }
        #expect(bytes == [0x0A, 3, 0x31, 0x2E, 0x34, 0x12, 1, 0x61, 0x1A, 1, 0x62, 0x3A, 4, 0x12, 2, 0xAA, 0xBB])
    }

    @Test("Disconnect reason_code is fixed32")
    func disconnectWireFormat() throws {
        let record = USPRecord(version: "1.4", toID: "a", fromID: "b", kind: .disconnect(reason: "", reasonCode: .sessionContextNotAllowed))
        let bytes = try record.serializedBytes()
        // disconnect(12) { reason_code(2, wire type 5) 7106 little-endian }
        #expect(Array(bytes.suffix(7)) == [0x62, 5, 0x15, 0xC2, 0x1B, 0x00, 0x00])
    }

    @Test("a USP 1.5 Record with originator_id and destination_id decodes, exposes them and round-trips")
    func usp15Record() throws {
        let bytes = try Fixture.bytes("record-1-5-forwarded")
        let record = try USPRecord(serializedBytes: bytes)
        #expect(record.version == "1.5")
        #expect(record.fromID == "self::broker")
        #expect(record.toID == controllerID)
        #expect(record.originatorID == agentID)
        #expect(record.destinationID == controllerID)
        #expect(record.hasUnknownFields)
        #expect(record.kind == .noSessionContext(payload: try Fixture.bytes("msg-notify-event")))
        #expect(try record.message() == ExpectedMessages.notifyEvent)
        #expect(try record.serializedBytes() == bytes)

        // The same Record without the 1.5 fields is a different value.
        let plain = USPRecord(version: "1.5", toID: controllerID, fromID: "self::broker", kind: record.kind)
        #expect(plain != record)
        #expect(plain.originatorID == nil)
        #expect(plain.destinationID == nil)
        #expect(!plain.hasUnknownFields)
    }

    @Test("a Record wrapping a Message matches protoc's bytes")
    func recordFromMessage() throws {
        let record = try USPRecord(
            message: ExpectedMessages.get, to: try EndpointID(agentID), from: try EndpointID(controllerID), version: "1.4")
        #expect(try record.serializedBytes() == Fixture.bytes("record-no-session-context"))
        #expect(try record.message() == ExpectedMessages.get)
    }

    @Test("endpoint helpers parse to_id and from_id and check the addressee (R-E2E.1)")
    func addressing() throws {
        let record = try USPRecord(serializedBytes: Fixture.bytes("record-mqtt-connect"))
        #expect(record.fromEndpoint == (try EndpointID(agentID)))
        #expect(record.toEndpoint == (try EndpointID(controllerID)))
        #expect(record.isAddressed(to: try EndpointID(controllerID)))
        #expect(!record.isAddressed(to: try EndpointID("self::other")))
        let lowerCaseOUI = USPRecord(toID: "os::00d09e-0123456789", fromID: controllerID, kind: .webSocketConnect)
        #expect(lowerCaseOUI.isAddressed(to: try EndpointID(agentID)))
    }

    @Test("message() refuses Records that carry no Message")
    func messageFromConnectRecord() throws {
        let record = try USPRecord(serializedBytes: Fixture.bytes("record-websocket-connect"))
        #expect {
            try record.message()
        } throws: { error in
            guard let error = error as? USPDecodingError, case .unexpectedKind = error.reason else { return false }
            return error.code == .invalidRecordValue
        }
        let session = try USPRecord(serializedBytes: Fixture.bytes("record-session-context"))
        #expect(throws: USPDecodingError.self) { try session.message() }
    }

    @Test("serializing refuses Records without the fields TR-369 requires (R-MTP.4b, R-E2E.26)")
    func encodingValidation() {
        #expect(throws: USPEncodingError.self) {
            try USPRecord(version: "", toID: "a", fromID: "b", kind: .webSocketConnect).serializedBytes()
        }
        #expect(throws: USPEncodingError.self) {
            try USPRecord(toID: "", fromID: "b", kind: .webSocketConnect).serializedBytes()
        }
        #expect(throws: USPEncodingError.self) {
            try USPRecord(toID: "a", fromID: "b", kind: .noSessionContext(payload: [])).serializedBytes()
        }
        #expect(throws: USPEncodingError.self) { try USPMessage(id: "", request: .get(USPGet(paramPaths: []))).serializedBytes() }
    }

    @Test("the disconnect builder carries a Record error code (R-MTP.9)")
    func disconnectBuilder() throws {
        let record = USPRecord.disconnect(
            to: try EndpointID(agentID), from: try EndpointID(controllerID), reason: "bye", code: .sessionContextTerminated)
        let decoded = try USPRecord(serializedBytes: record.serializedBytes())
        #expect(decoded.kind == .disconnect(reason: "bye", reasonCode: USPErrorCode(7105)))
        #expect(decoded.version == USPRecord.protocolVersion)
    }
}
