import TandemCore
import Testing
import USP

@Suite("USP Messages")
struct USPMessageTests {
    @Test("every message fixture decodes to its expected value and re-encodes byte for byte", arguments: ExpectedMessages.all.map(\.0))
    func messageFixture(name: String) throws {
        let expected = try #require(ExpectedMessages.all.first { $0.0 == name }?.1)
        let bytes = try Fixture.bytes(name)
        let decoded = try USPMessage(serializedBytes: bytes)
        #expect(decoded == expected)
        #expect(try expected.serializedBytes() == bytes, "Swift encoding differs from protoc's")
        #expect(try decoded.serializedBytes() == bytes, "round trip")
    }

    @Test("the fixtures cover every message type of the 1.4 schema")
    func coverage() throws {
        let names = try Fixture.allNames(prefix: "msg-")
        #expect(names == ExpectedMessages.all.map(\.0).sorted())
        let types = Set(ExpectedMessages.all.map(\.1.type))
        #expect(types == Set(USPMessage.MessageType.allCases))
    }

    @Test("msg_type follows the body (R-MSG.10)")
    func messageTypes() {
        #expect(ExpectedMessages.getSupportedProtocol.type == .getSupportedProtocol)
        #expect(ExpectedMessages.getSupportedProtocol.type.description == "GET_SUPPORTED_PROTO")
        #expect(ExpectedMessages.error.type == .error)
        #expect(ExpectedMessages.notifyOnBoardRequest.type == .notify)
        #expect(USPMessage.MessageType.get.responseType == .getResponse)
        #expect(USPMessage.MessageType.getResponse.responseType == nil)
    }

    @Test("a header whose msg_type disagrees with the body is tolerated; the body wins (R-MSG.10)")
    func mismatchedHeaderType() throws {
        var bytes = try Fixture.bytes("msg-get")
        // header(1) { msg_id(1) "get-1", msg_type(2) GET = 1 } → GET_RESP = 2
        #expect(Array(bytes.prefix(11)) == [0x0A, 9, 0x0A, 5, 0x67, 0x65, 0x74, 0x2D, 0x31, 0x10, 0x01])
        bytes[10] = 0x02
        let message = try USPMessage(serializedBytes: bytes)
        #expect(message.type == .get)
        #expect(message == ExpectedMessages.get)
    }

    @Test("a Boot! event keeps an empty parameter value (map entries always carry key and value)")
    func emptyEventParameter() throws {
        let message = try USPMessage(serializedBytes: Fixture.bytes("msg-notify-event"))
        guard case .event(let event)? = message.notify?.notification else {
            Issue.record("not an event: \(message)")
            return
        }
        #expect(event.parameters["CommandKey"] == "")
        #expect(event.parameters.count == 4)
    }

    @Test("NotifyResp echoes msg_id and subscription_id (R-MSG.9, R-NOT.10) and matches protoc's bytes")
    func notifyResponse() throws {
        let response = try #require(USPMessage.notifyResponse(answering: ExpectedMessages.notifyEvent))
        #expect(response == ExpectedMessages.notifyResponse)
        #expect(try response.serializedBytes() == Fixture.bytes("msg-notify-resp"))
        #expect(response.answers(ExpectedMessages.notifyEvent))
    }

    @Test("no NotifyResp when send_resp is false (R-NOT.8); OnBoardRequest is answered with an empty subscription_id")
    func notifyResponseRules() throws {
        #expect(USPMessage.notifyResponse(answering: ExpectedMessages.notifyValueChange) == nil)
        #expect(USPMessage.notifyResponse(answering: ExpectedMessages.get) == nil)
        let onboard = try #require(USPMessage.notifyResponse(answering: ExpectedMessages.notifyOnBoardRequest))
        #expect(onboard.id == "onboard-1")
        #expect(onboard.response == .notifyResponse(USPNotifyResponse(subscriptionID: "")))
    }

    @Test("answers(_:) pairs responses and Errors with their request by msg_id and type (R-MSG.9)")
    func answers() {
        #expect(ExpectedMessages.getResponse.answers(ExpectedMessages.get))
        #expect(!ExpectedMessages.setResponse.answers(ExpectedMessages.get))
        #expect(!ExpectedMessages.getResponse.answers(ExpectedMessages.getResponse))
        let error = USPMessage.error(id: "get-1", code: .requestDenied)
        #expect(error.answers(ExpectedMessages.get))
        #expect(error.error?.message == "Request denied")
        #expect(!USPMessage.error(id: "other", code: .requestDenied).answers(ExpectedMessages.get))
    }

    @Test("OperationComplete exposes the command path; OnBoardRequest the versions")
    func notifyAccessors() throws {
        guard case .operationComplete(let complete)? = ExpectedMessages.notifyOperationComplete.notify?.notification else {
            Issue.record("not an OperationComplete")
            return
        }
        #expect(complete.commandPath == "Device.DeviceInfo.FirmwareImage.2.Download()")
        let message = try USPMessage(serializedBytes: Fixture.bytes("msg-notify-operation-failure"))
        guard case .operationComplete(let failed)? = message.notify?.notification, case .failure(let failure) = failed.outcome else {
            Issue.record("no failure outcome in \(message)")
            return
        }
        #expect(failure.code == .commandFailure)
        #expect(failure.fault.category == .commandFailure)
    }

    @Test("GetSupportedProtocol lists the versions Tandem speaks")
    func supportedProtocol() throws {
        guard case .getSupportedProtocol(let request)? = ExpectedMessages.getSupportedProtocol.request else {
            Issue.record("not a GetSupportedProtocol")
            return
        }
        #expect(request.controllerSupportedVersions == ["1.0", "1.1", "1.2", "1.3", "1.4"])
        let spaced = USPGetSupportedProtocolResponse(agentSupportedVersions: ["1.2", "1.3"])
        let message = USPMessage(id: "x", response: .getSupportedProtocolResponse(spaced))
        #expect(try USPMessage(serializedBytes: message.serializedBytes()) == message)
    }
}
