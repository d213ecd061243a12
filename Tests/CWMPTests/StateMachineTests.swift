import CWMP
import Testing
import TandemCore

/// A clock-free instant for the state machine.
struct TestInstant: InstantProtocol {
    typealias Duration = Swift.Duration
    var offset: Duration
    static let zero = TestInstant(offset: .zero)
    static func seconds(_ value: Int64) -> TestInstant { TestInstant(offset: .seconds(value)) }
    func advanced(by duration: Duration) -> TestInstant { TestInstant(offset: offset + duration) }
    func duration(to other: TestInstant) -> Duration { other.offset - offset }
    static func < (lhs: TestInstant, rhs: TestInstant) -> Bool { lhs.offset < rhs.offset }
}

typealias Machine = CWMPSession.StateMachine<Int, TestInstant>

/// A reference to a machine, so that its mutating events can be called inside `#expect`.
@dynamicMemberLookup
final class Session {
    var machine: Machine

    init(configuration: CWMPSession.Configuration = .init()) { machine = Machine(configuration: configuration) }
    init(copying other: Session) { machine = other.machine }

    subscript<T>(dynamicMember keyPath: KeyPath<Machine, T>) -> T { machine[keyPath: keyPath] }

    func enqueue(_ request: ACSRequest, tag: Int) { machine.enqueue(request, tag: tag) }
    func removeQueued(tag: Int) -> Bool { machine.removeQueued(tag: tag) }
    func setHoldRequests(_ hold: Bool) { machine.setHoldRequests(hold) }
    func received(_ envelope: CWMPEnvelope, at now: TestInstant) -> Machine.Action { machine.received(envelope, at: now) }
    func receivedEmptyPost(at now: TestInstant) -> Machine.Action { machine.receivedEmptyPost(at: now) }
    func receivedUndecodable(_ error: CWMPDecodingError, at now: TestInstant) -> Machine.Action { machine.receivedUndecodable(error, at: now) }
    func timedOut(at now: TestInstant) -> Machine.Action { machine.timedOut(at: now) }
    func acceptInform(at now: TestInstant) -> Machine.Action { machine.acceptInform(at: now) }
    func rejectInform(_ code: CWMPFaultCode, message: String? = nil, at now: TestInstant) -> Machine.Action {
        machine.rejectInform(code, message: message, at: now)
    }
    func answerCPERequest(_ response: ACSResponse, at now: TestInstant) -> Machine.Action { machine.answerCPERequest(response, at: now) }
    func faultCPERequest(_ code: CWMPFaultCode, message: String? = nil, at now: TestInstant) -> Machine.Action {
        machine.faultCPERequest(code, message: message, at: now)
    }
    func resume(at now: TestInstant) -> Machine.Action { machine.resume(at: now) }
}

enum Messages {
    static let device = try! CWMPDeviceID(manufacturer: "Acme", oui: "00D09E", productClass: "HG", serialNumber: "SN1")

    static func inform(id: String? = "inform-1", namespace: CWMPNamespace = .v1_0, versions: [String]? = nil) -> CWMPEnvelope {
        CWMPEnvelope(
            cwmpID: id, supportedCWMPVersions: versions, namespace: namespace,
            body: .cpeRequest(.inform(.init(deviceID: device, events: [.init(code: .periodic)], currentTime: .unknown, retryCount: 1))))
    }

    static func request(_ request: CPERequest, id: String? = "cpe-1") -> CWMPEnvelope {
        CWMPEnvelope(cwmpID: id, body: .cpeRequest(request))
    }

    static func response(_ response: CPEResponse, id: String?) -> CWMPEnvelope {
        CWMPEnvelope(cwmpID: id, body: .cpeResponse(response))
    }

    static func fault(_ code: CWMPFaultCode, id: String?) -> CWMPEnvelope {
        CWMPEnvelope(cwmpID: id, body: .fault(CWMPFault(code: code)))
    }

    static let transferComplete = CPERequest.transferComplete(.init(commandKey: "fw", startTime: .unknown, completeTime: .unknown))
}

/// The envelope of a `.send`, or a recorded failure.
func sent(_ action: Machine.Action, sourceLocation: SourceLocation = #_sourceLocation) -> CWMPEnvelope? {
    if case .send(let envelope) = action { return envelope }
    Issue.record("expected .send, got \(action)", sourceLocation: sourceLocation)
    return nil
}

/// The fault code of an envelope carrying a fault.
func faultCode(_ envelope: CWMPEnvelope?) -> CWMPFaultCode? {
    if case .fault(let fault)? = envelope?.body { fault.code } else { nil }
}

/// A machine whose session is open and whose CPE has had its turn: the next `resume` or empty POST
/// drives ACS requests.
func openSession(_ machine: Session, at now: TestInstant = .zero, namespace: CWMPNamespace = .v1_0) {
    _ = machine.received(Messages.inform(namespace: namespace), at: now)
    _ = machine.acceptInform(at: now)
}

@Suite struct StateMachineSessionTests {
    @Test func completeSession() throws {
        let machine = Session()
        let t0 = TestInstant.zero

        let first = machine.received(Messages.inform(), at: t0)
        guard case .handleInform(let inform, let abandoned) = first else { Issue.record("\(first)"); return }
        #expect(inform.deviceID == Messages.device)
        #expect(abandoned.isEmpty)
        #expect(machine.info?.deviceID == Messages.device)
        #expect(machine.info?.events == [.init(code: .periodic)])

        let informResponse = try #require(sent(machine.acceptInform(at: t0)))
        #expect(informResponse.body == .acsResponse(.inform(maxEnvelopes: 1)))
        #expect(informResponse.cwmpID == "inform-1")
        #expect(informResponse.holdRequests == nil)
        #expect(informResponse.useCWMPVersion == nil)

        #expect(machine.receivedEmptyPost(at: .seconds(1)) == .needNextRequest)
        machine.enqueue(.getParameterValues(names: ["Device.DeviceInfo."]), tag: 1)
        let request = try #require(sent(machine.resume(at: .seconds(1))))
        #expect(request.body == .acsRequest(.getParameterValues(names: ["Device.DeviceInfo."])))
        #expect(request.cwmpID == "tandem-1")
        #expect(machine.isAwaitingResponse)

        let values: [CWMPParameterValue] = [.init(name: "Device.DeviceInfo.SoftwareVersion", value: .string("1"))]
        let completed = machine.received(Messages.response(.getParameterValues(parameters: values), id: "tandem-1"), at: .seconds(2))
        #expect(completed == .requestSucceeded(tag: 1, request: .getParameterValues(names: ["Device.DeviceInfo."]), response: .getParameterValues(parameters: values)))
        #expect(machine.resume(at: .seconds(2)) == .needNextRequest)
        #expect(machine.resume(at: .seconds(2)) == .endSession)
        #expect(!machine.isEnded)
        #expect(machine.queuedTags.isEmpty)
    }

    @Test func queuedRequestsGoOutWithoutAsking() throws {
        let machine = Session()
        machine.enqueue(.reboot(commandKey: "r"), tag: 1)
        machine.enqueue(.factoryReset, tag: 2)
        openSession(machine)
        let first = try #require(sent(machine.receivedEmptyPost(at: .zero)))
        #expect(first.body == .acsRequest(.reboot(commandKey: "r")))
        let firstDone = machine.received(Messages.response(.reboot, id: first.cwmpID), at: .zero)
        #expect(firstDone == .requestSucceeded(tag: 1, request: .reboot(commandKey: "r"), response: .reboot))
        let second = try #require(sent(machine.resume(at: .zero)))
        #expect(second.body == .acsRequest(.factoryReset))
        #expect(second.cwmpID != first.cwmpID)
        #expect(machine.received(Messages.response(.factoryReset, id: second.cwmpID), at: .zero)
            == .requestSucceeded(tag: 2, request: .factoryReset, response: .factoryReset))
        #expect(machine.resume(at: .zero) == .needNextRequest)
        #expect(machine.resume(at: .zero) == .endSession)
    }

    @Test func cpeFaultIsTiedToThePendingRequest() throws {
        let machine = Session()
        openSession(machine)
        machine.enqueue(.getParameterValues(names: ["Device.Nope."]), tag: 41)
        let request = try #require(sent(machine.receivedEmptyPost(at: .zero)))
        let action = machine.received(Messages.fault(.invalidParameterName, id: request.cwmpID), at: .zero)
        guard case .requestFaulted(let tag, let original, let fault) = action else { Issue.record("\(action)"); return }
        #expect(tag == 41)
        #expect(original == .getParameterValues(names: ["Device.Nope."]))
        #expect(fault.code == .invalidParameterName)
        #expect(machine.resume(at: .zero) == .needNextRequest)
    }

    @Test func spvFaultCarriesParameterFaults() throws {
        let machine = Session()
        openSession(machine)
        machine.enqueue(.setParameterValues(parameters: [.init(name: "Device.A", value: .string("x"))], parameterKey: "k"), tag: 5)
        let request = try #require(sent(machine.receivedEmptyPost(at: .zero)))
        var envelope = try Fixtures.decode("cpe-fault-set-parameter-values.xml")
        envelope.cwmpID = request.cwmpID
        let action = machine.received(envelope, at: .zero)
        guard case .requestFaulted(5, _, let fault) = action else { Issue.record("\(action)"); return }
        #expect(fault.parameterFaults.map(\.code) == [.invalidParameterValue, .notWritable])
    }

    @Test func repliesUseTheCPEsNamespace() throws {
        let machine = Session()
        _ = machine.received(Messages.inform(namespace: .v1_3), at: .zero)
        #expect(machine.info?.namespace == .v1_3)
        #expect(sent(machine.acceptInform(at: .zero))?.namespace == .v1_3)
        machine.enqueue(.getRPCMethods, tag: 1)
        #expect(sent(machine.receivedEmptyPost(at: .zero))?.namespace == .v1_3)
    }

    @Test func removeQueuedRequest() throws {
        let machine = Session()
        machine.enqueue(.factoryReset, tag: 1)
        machine.enqueue(.reboot(commandKey: ""), tag: 2)
        #expect(machine.removeQueued(tag: 1))
        #expect(!machine.removeQueued(tag: 1))
        #expect(machine.queuedTags == [2])
        openSession(machine)
        #expect(sent(machine.receivedEmptyPost(at: .zero))?.body == .acsRequest(.reboot(commandKey: "")))
    }

    @Test func wholeSessionOverTheWire() throws {
        // Fixture in, encoded bytes out, decoded as the CPE would.
        let machine = Session()
        let decoder = CWMPDecoder()
        let encoder = CWMPEncoder()
        let inform = try Fixtures.decode("cpe-inform-1-2-session-timeout.xml")
        guard case .handleInform = machine.received(inform, at: .zero) else { Issue.record("no inform"); return }
        let reply = try #require(sent(machine.acceptInform(at: .zero)))
        let onTheWire = try decoder.decode(encoder.encode(reply), from: .acs)
        #expect(onTheWire.body == .acsResponse(.inform(maxEnvelopes: 1)))
        #expect(onTheWire.cwmpID == "inform-77")
        #expect(onTheWire.namespace == .v1_2)
        #expect(onTheWire.useCWMPVersion == "1.4")
        #expect(machine.info?.cpeSessionTimeout == 60)

        let transferComplete = try Fixtures.decode("cpe-transfer-complete.xml")
        guard case .handleCPERequest(.transferComplete(let complete)) = machine.received(transferComplete, at: .zero) else {
            Issue.record("no TransferComplete"); return
        }
        #expect(complete.commandKey == "fw-2024-05")
        let ack = try #require(sent(machine.answerCPERequest(.transferComplete, at: .zero)))
        #expect(try decoder.decode(encoder.encode(ack), from: .acs).body == .acsResponse(.transferComplete))
        #expect(ack.cwmpID == "tc-1")

        machine.enqueue(.reboot(commandKey: "reboot-42"), tag: 9)
        let reboot = try #require(sent(machine.receivedEmptyPost(at: .zero)))
        let cpeSide = try decoder.decode(encoder.encode(reboot), from: .cpe)
        #expect(cpeSide.body == .unknownMethod("Reboot"), "a CPE's own decoder view: an ACS request decoded as if from a CPE")
        let acsSide = try decoder.decode(encoder.encode(reboot), from: .acs)
        #expect(acsSide.body == .acsRequest(.reboot(commandKey: "reboot-42")))
        let response = try decoder.decode(encoder.encode(Messages.response(.reboot, id: acsSide.cwmpID)), from: .cpe)
        #expect(machine.received(response, at: .zero) == .requestSucceeded(tag: 9, request: .reboot(commandKey: "reboot-42"), response: .reboot))
    }
}

@Suite struct StateMachineInformTests {
    @Test(arguments: [
        Messages.request(Messages.transferComplete), Messages.request(.getRPCMethods), Messages.request(.kicked(.init(command: "", referer: "", argument: "", next: ""))),
    ])
    func requestBeforeInformIsFaultedAndCloses(_ envelope: CWMPEnvelope) throws {
        let machine = Session()
        machine.enqueue(.factoryReset, tag: 3)
        let action = machine.received(envelope, at: .zero)
        guard case .sendAndClose(let reply, .noInform, let abandoned) = action else { Issue.record("\(action)"); return }
        #expect(faultCode(reply) == .acsRequestDenied)
        #expect(reply.cwmpID == "cpe-1")
        #expect(abandoned == .init(queued: [3]))
        #expect(machine.isEnded)
        #expect(machine.endReason == .noInform)
    }

    @Test func responsesFaultsAndEmptyPostsBeforeInformAreRejected() {
        let a = Session()
        #expect(a.received(Messages.response(.reboot, id: "x"), at: .zero) == .reject(.messageBeforeInform("RebootResponse"), abandoned: .none))
        let b = Session()
        #expect(b.received(Messages.fault(.internalError, id: "x"), at: .zero) == .reject(.messageBeforeInform("Fault"), abandoned: .none))
        let c = Session()
        #expect(c.receivedEmptyPost(at: .zero) == .reject(.messageBeforeInform("an empty POST"), abandoned: .none))
        #expect(c.isEnded)
        let d = Session()
        let unknown = d.received(CWMPEnvelope(cwmpID: "u", body: .unknownMethod("X_Foo")), at: .zero)
        guard case .sendAndClose(let reply, .noInform, _) = unknown else { Issue.record("\(unknown)"); return }
        #expect(faultCode(reply) == .acsMethodNotSupported)
    }

    @Test func retryRequestLetsTheCPESendTheInformAgain() throws {
        let machine = Session()
        _ = machine.received(Messages.inform(id: "i-1"), at: .zero)
        let retry = try #require(sent(machine.rejectInform(.acsRetryRequest, at: .zero)))
        #expect(faultCode(retry) == .acsRetryRequest)
        #expect(retry.cwmpID == "i-1")
        #expect(!machine.isEnded)
        #expect(machine.informRetries == 1)
        #expect(machine.info == nil)
        // Nothing but an Inform is acceptable now.
        let probe = Session(copying: machine)
        #expect(probe.receivedEmptyPost(at: .zero) == .reject(.messageBeforeInform("an empty POST"), abandoned: .none))

        _ = machine.received(Messages.inform(id: "i-2"), at: .seconds(5))
        _ = machine.rejectInform(.acsRetryRequest, at: .seconds(5))
        #expect(machine.informRetries == 2)
        guard case .handleInform = machine.received(Messages.inform(id: "i-3"), at: .seconds(10)) else { Issue.record("no inform"); return }
        #expect(sent(machine.acceptInform(at: .seconds(10)))?.cwmpID == "i-3")
        #expect(machine.informRetries == 0)
    }

    @Test func anyOtherInformFaultEndsTheSession() throws {
        let machine = Session()
        machine.enqueue(.factoryReset, tag: 1)
        _ = machine.received(Messages.inform(), at: .zero)
        let action = machine.rejectInform(.acsResourcesExceeded, message: "busy", at: .zero)
        guard case .sendAndClose(let reply, .informRejected(.acsResourcesExceeded), let abandoned) = action else { Issue.record("\(action)"); return }
        #expect(faultCode(reply) == .acsResourcesExceeded)
        #expect(abandoned.queued == [1])
        #expect(machine.isEnded)
    }

    @Test func versionNegotiation() throws {
        let machine = Session()
        _ = machine.received(Messages.inform(versions: ["1.0", "1.2", "1.4"]), at: .zero)
        #expect(machine.info?.cwmpVersion == "1.4")
        #expect(sent(machine.acceptInform(at: .zero))?.useCWMPVersion == "1.4")

        let old = Session(configuration: .init(supportedVersions: ["1.0", "1.2"]))
        _ = old.received(Messages.inform(versions: ["1.0", "1.4", "1.2"]), at: .zero)
        #expect(sent(old.acceptInform(at: .zero))?.useCWMPVersion == "1.2")

        let none = Session(configuration: .init(supportedVersions: ["1.0", "1.1"]))
        let action = none.received(Messages.inform(versions: ["1.3", "1.4"]), at: .zero)
        guard case .sendAndClose(let reply, .versionIncompatible, _) = action else { Issue.record("\(action)"); return }
        #expect(faultCode(reply) == .acsVersionIncompatible)
        #expect(reply.cwmpID == "inform-1")
        #expect(none.isEnded)

        #expect(Machine.highestCommonVersion(["1.4", "1.10"], ["1.4", "1.10"]) == "1.10")
        #expect(Machine.highestCommonVersion(["2.0"], ["1.4"]) == nil)
    }

    @Test func holdRequestsGoesOutAndHoldsCPERequests() throws {
        let machine = Session(configuration: .init(holdRequests: true))
        _ = machine.received(Messages.inform(), at: .zero)
        #expect(sent(machine.acceptInform(at: .zero))?.holdRequests == true)
        let refused = try #require(sent(machine.received(Messages.request(Messages.transferComplete, id: "tc"), at: .zero)))
        #expect(faultCode(refused) == .acsRequestDenied)
        #expect(refused.cwmpID == "tc")
        machine.enqueue(.getRPCMethods, tag: 1)
        let request = try #require(sent(machine.receivedEmptyPost(at: .zero)))
        #expect(request.holdRequests == true)
        _ = machine.received(Messages.response(.getRPCMethods(methods: []), id: request.cwmpID), at: .zero)
        // Released: the CPE may send its requests after the ACS's empty response.
        machine.setHoldRequests(false)
        #expect(machine.resume(at: .zero) == .needNextRequest)
        #expect(machine.resume(at: .zero) == .endSession)
        #expect(machine.received(Messages.request(Messages.transferComplete, id: "tc"), at: .zero) == .handleCPERequest(Messages.transferComplete))
        #expect(sent(machine.answerCPERequest(.transferComplete, at: .zero))?.holdRequests == nil)
        #expect(machine.receivedEmptyPost(at: .zero) == .needNextRequest)
        #expect(machine.resume(at: .zero) == .endSession)
    }
}

@Suite struct StateMachineCPERequestTests {
    @Test(arguments: [
        "cpe-transfer-complete.xml", "cpe-autonomous-transfer-complete.xml", "cpe-get-rpc-methods.xml", "cpe-request-download.xml",
        "cpe-du-state-change-complete.xml", "cpe-autonomous-du-state-change-complete.xml", "cpe-kicked.xml",
    ])
    func everyCPERequestIsHandedToTheOwnerAndAnswered(_ name: String) throws {
        let machine = Session()
        openSession(machine)
        let envelope = try Fixtures.decode(name)
        let request = try envelope.requireCPERequest()
        #expect(machine.received(envelope, at: .zero) == .handleCPERequest(request))
        let reply = try #require(sent(machine.answerCPERequest(request.defaultResponse(), at: .zero)))
        #expect(reply.cwmpID == envelope.cwmpID)
        guard case .acsResponse(let response) = reply.body else { Issue.record("\(reply.body)"); return }
        #expect(response.methodName == request.methodName + "Response")
        #expect(machine.receivedEmptyPost(at: .zero) == .needNextRequest)
    }

    @Test func getRPCMethodsAnswerListsTheACSMethods() throws {
        #expect(CPERequest.getRPCMethods.defaultResponse() == .getRPCMethods(methods: ACSResponse.acsMethods))
        #expect(ACSResponse.acsMethods.contains("Inform"))
        #expect(ACSResponse.acsMethods.contains("TransferComplete"))
    }

    @Test func ownerFaultsARequestAndTheSessionContinues() throws {
        let machine = Session()
        openSession(machine)
        _ = machine.received(Messages.request(Messages.transferComplete, id: "tc-9"), at: .zero)
        let fault = try #require(sent(machine.faultCPERequest(.acsInternalError, message: "database unavailable", at: .zero)))
        #expect(faultCode(fault) == .acsInternalError)
        #expect(fault.cwmpID == "tc-9")
        if case .fault(let body) = fault.body { #expect(body.message == "database unavailable") }
        // 8005 makes the CPE retry the request later; also not an end.
        _ = machine.received(Messages.request(Messages.transferComplete, id: "tc-10"), at: .zero)
        #expect(faultCode(sent(machine.faultCPERequest(.acsRetryRequest, at: .zero))) == .acsRetryRequest)
        #expect(machine.receivedEmptyPost(at: .zero) == .needNextRequest)
    }

    @Test func aMismatchedAnswerBecomesAnInternalError() throws {
        let machine = Session()
        openSession(machine)
        _ = machine.received(Messages.request(Messages.transferComplete), at: .zero)
        let reply = try #require(sent(machine.answerCPERequest(.kicked(nextURL: ""), at: .zero)))
        #expect(faultCode(reply) == .acsInternalError)
        #expect(machine.receivedEmptyPost(at: .zero) == .needNextRequest)
    }

    @Test func unknownMethodIsFaulted8000() throws {
        let machine = Session()
        openSession(machine)
        let reply = try #require(sent(machine.received(try Fixtures.decode("cpe-unknown-method.xml"), at: .zero)))
        #expect(faultCode(reply) == .acsMethodNotSupported)
        #expect(reply.cwmpID == "x-1")
        #expect(machine.receivedEmptyPost(at: .zero) == .needNextRequest)
    }

    @Test func tooManyRequestsAreFaulted8004() throws {
        let machine = Session(configuration: .init(maximumCPERequests: 2))
        openSession(machine)
        for _ in 0..<2 {
            #expect(machine.received(Messages.request(.getRPCMethods), at: .zero) == .handleCPERequest(.getRPCMethods))
            _ = machine.answerCPERequest(.getRPCMethods(methods: []), at: .zero)
        }
        #expect(faultCode(sent(machine.received(Messages.request(.getRPCMethods), at: .zero))) == .acsResourcesExceeded)
    }

    @Test func malformedRequestsAreFaulted8003() throws {
        let machine = Session()
        openSession(machine)
        let bad = CWMPDecodingError(.missingElement, "<TransferComplete> has no <FaultStruct>", cwmpID: "tc-x", method: "TransferComplete")
        let reply = try #require(sent(machine.receivedUndecodable(bad, at: .zero)))
        #expect(faultCode(reply) == .acsInvalidArguments)
        #expect(reply.cwmpID == "tc-x")
        #expect(machine.receivedEmptyPost(at: .zero) == .needNextRequest)
    }

    @Test func malformedInformIsFaulted8003AndEndsTheSession() throws {
        let machine = Session()
        let error = expectDecodingError(.invalidValue) { () throws(CWMPDecodingError) in
            try CWMPDecoder().decode(try! Fixtures.bytes("hostile-bad-device-id.xml"), from: .cpe)
        }
        #expect(error?.namespace == .v1_0)
        let action = machine.receivedUndecodable(try #require(error), at: .zero)
        guard case .sendAndClose(let reply, .informRejected(.acsInvalidArguments), _) = action else { Issue.record("\(action)"); return }
        #expect(reply.cwmpID == "bad-oui")
        #expect(faultCode(reply) == .acsInvalidArguments)
        #expect(machine.isEnded)
    }
}

@Suite struct StateMachineViolationTests {
    func awaiting(_ machine: Session, tag: Int = 7, queued: Int? = nil) -> CWMPEnvelope? {
        openSession(machine)
        machine.enqueue(.getParameterNames(path: "Device.", nextLevel: true), tag: tag)
        if let queued { machine.enqueue(.factoryReset, tag: queued) }
        return sent(machine.receivedEmptyPost(at: .zero))
    }

    @Test func responseWithTheWrongID() throws {
        let machine = Session()
        _ = awaiting(machine, queued: 8)
        let action = machine.received(Messages.response(.getParameterNames(parameters: []), id: "someone-else"), at: .zero)
        #expect(action == .reject(.wrongResponseID(expected: "tandem-1", received: "someone-else"), abandoned: .init(inFlight: 7, queued: [8])))
        #expect(machine.isEnded)
    }

    @Test func responseOfTheWrongType() throws {
        let machine = Session()
        let request = try #require(awaiting(machine))
        let action = machine.received(Messages.response(.reboot, id: request.cwmpID), at: .zero)
        #expect(action == .reject(.wrongResponseType(expected: "GetParameterNamesResponse", received: "RebootResponse"), abandoned: .init(inFlight: 7)))
    }

    @Test func missingResponseIDIsToleratedUnlessRequired() throws {
        let lenient = Session()
        _ = awaiting(lenient)
        #expect(lenient.received(Messages.response(.getParameterNames(parameters: []), id: nil), at: .zero)
            == .requestSucceeded(tag: 7, request: .getParameterNames(path: "Device.", nextLevel: true), response: .getParameterNames(parameters: [])))
        let strict = Session(configuration: .init(requireResponseID: true))
        _ = awaiting(strict)
        #expect(strict.received(Messages.response(.getParameterNames(parameters: []), id: nil), at: .zero)
            == .reject(.wrongResponseID(expected: "tandem-1", received: nil), abandoned: .init(inFlight: 7)))
    }

    @Test func responseWithNothingOutstanding() {
        let machine = Session()
        openSession(machine)
        #expect(machine.received(Messages.response(.reboot, id: "x"), at: .zero) == .reject(.unexpectedResponse("RebootResponse"), abandoned: .none))
        let faulted = Session()
        openSession(faulted)
        #expect(faulted.received(Messages.fault(.internalError, id: "x"), at: .zero) == .reject(.unexpectedResponse("Fault"), abandoned: .none))
    }

    @Test func emptyPostOrRequestInsteadOfTheResponse() {
        let machine = Session()
        _ = awaiting(machine)
        #expect(machine.receivedEmptyPost(at: .zero)
            == .reject(.responseMissing(expected: "GetParameterNamesResponse", received: "an empty POST"), abandoned: .init(inFlight: 7)))
        let other = Session()
        _ = awaiting(other)
        #expect(other.received(Messages.request(Messages.transferComplete), at: .zero)
            == .reject(.responseMissing(expected: "GetParameterNamesResponse", received: "TransferComplete"), abandoned: .init(inFlight: 7)))
        let unknown = Session()
        _ = awaiting(unknown)
        #expect(unknown.received(CWMPEnvelope(cwmpID: "tandem-1", body: .unknownMethod("X_Foo")), at: .zero)
            == .reject(.wrongResponseType(expected: "GetParameterNamesResponse", received: "X_Foo"), abandoned: .init(inFlight: 7)))
    }

    @Test func unreadableMessageBreaksTheSession() {
        let machine = Session()
        _ = awaiting(machine)
        let error = CWMPDecodingError(.malformedXML, "boom", line: 3)
        #expect(machine.receivedUndecodable(error, at: .zero) == .reject(.undecodable(error), abandoned: .init(inFlight: 7)))
    }

    @Test func malformedResponseIsReportedAgainstItsRequest() throws {
        let machine = Session()
        let request = try #require(awaiting(machine))
        let text = """
            <s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:c="urn:dslforum-org:cwmp-1-0">\
            <s:Header><c:ID s:mustUnderstand="1">\(request.cwmpID ?? "")</c:ID></s:Header><s:Body><c:GetParameterNamesResponse>\
            <ParameterList><ParameterInfoStruct><Name>Device.A</Name><Writable>maybe</Writable></ParameterInfoStruct></ParameterList>\
            </c:GetParameterNamesResponse></s:Body></s:Envelope>
            """
        let error = try #require(expectDecodingError(.invalidValue) { () throws(CWMPDecodingError) in try CWMPDecoder().decode(text, from: .cpe) })
        #expect(error.method == "GetParameterNamesResponse")
        #expect(error.cwmpID == "tandem-1")
        #expect(machine.receivedUndecodable(error, at: .zero)
            == .responseUndecodable(tag: 7, request: .getParameterNames(path: "Device.", nextLevel: true), error: error))
        #expect(machine.resume(at: .zero) == .needNextRequest)
        // A malformed response under another request's ID still breaks the session.
        let other = Session()
        _ = awaiting(other)
        let foreign = CWMPDecodingError(.invalidValue, "x", cwmpID: "tandem-99", method: "GetParameterNamesResponse")
        #expect(other.receivedUndecodable(foreign, at: .zero) == .reject(.undecodable(foreign), abandoned: .init(inFlight: 7)))
    }

    @Test func acsMessagesFromACPEAreRejected() {
        let machine = Session()
        openSession(machine)
        #expect(machine.received(CWMPEnvelope(body: .acsRequest(.factoryReset)), at: .zero) == .reject(.wrongDirection("FactoryReset"), abandoned: .none))
    }

    @Test func malformedRequestIsFaultedInItsOwnNamespace() throws {
        let machine = Session()
        openSession(machine, namespace: .v1_2)
        let text = "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Header><ID>r</ID></s:Header><s:Body>"
            + "<c:TransferComplete xmlns:c=\"urn:dslforum-org:cwmp-1-2\"><CommandKey>k</CommandKey></c:TransferComplete></s:Body></s:Envelope>"
        let error = try #require(expectDecodingError(.missingElement) { () throws(CWMPDecodingError) in try CWMPDecoder().decode(text, from: .cpe) })
        #expect(error.namespace == .v1_2)
        #expect(error.method == "TransferComplete")
        let reply = try #require(sent(machine.receivedUndecodable(error, at: .zero)))
        #expect(reply.namespace == .v1_2)
        #expect(reply.cwmpID == "r")
        #expect(faultCode(reply) == .acsInvalidArguments)
    }

    @Test func concurrentMessagesAreRejected() {
        let machine = Session()
        _ = machine.received(Messages.inform(), at: .zero)
        // The owner is still handling the Inform.
        #expect(machine.receivedEmptyPost(at: .zero) == .reject(.concurrentMessage("an empty POST"), abandoned: .none))
    }

    @Test func invalidOwnerCallsChangeNothing() throws {
        let machine = Session()
        #expect(machine.acceptInform(at: .zero) == .reject(.invalidCall("acceptInform without a pending Inform"), abandoned: .none))
        #expect(machine.resume(at: .zero) == .reject(.invalidCall("resume while not waiting for the owner"), abandoned: .none))
        #expect(!machine.isEnded)
        guard case .handleInform = machine.received(Messages.inform(), at: .zero) else { Issue.record("inform refused"); return }
        #expect(machine.answerCPERequest(.transferComplete, at: .zero)
            == .reject(.invalidCall("answerCPERequest without a pending CPE request"), abandoned: .none))
        #expect(sent(machine.acceptInform(at: .zero)) != nil)
    }
}

@Suite struct StateMachineLifecycleTests {
    @Test func sessionTimeout() throws {
        let machine = Session(configuration: .init(sessionTimeout: .seconds(30)))
        #expect(machine.deadline == nil)
        #expect(machine.timedOut(at: .seconds(1000)) == .nothing)
        openSession(machine, at: .seconds(10))
        machine.enqueue(.reboot(commandKey: ""), tag: 1)
        machine.enqueue(.factoryReset, tag: 2)
        _ = machine.receivedEmptyPost(at: .seconds(20))
        #expect(machine.deadline == .seconds(50))
        #expect(machine.timedOut(at: .seconds(49)) == .wait(until: .seconds(50)))
        #expect(!machine.isEnded)
        #expect(machine.timedOut(at: .seconds(50)) == .expired(abandoned: .init(inFlight: 1, queued: [2])))
        #expect(machine.isEnded)
        #expect(machine.endReason == .expired)
        #expect(machine.deadline == nil)
        #expect(machine.queuedTags.isEmpty)
    }

    @Test func everyMessageExtendsTheDeadline() {
        let machine = Session()
        openSession(machine, at: .zero)
        #expect(machine.deadline == .seconds(30))
        _ = machine.received(Messages.request(.getRPCMethods), at: .seconds(25))
        #expect(machine.deadline == .seconds(55))
        #expect(machine.timedOut(at: .seconds(31)) == .wait(until: .seconds(55)))
    }

    @Test func reconnectMidSessionAbandonsTheUnansweredRequest() throws {
        let machine = Session()
        openSession(machine)
        machine.enqueue(.setParameterValues(parameters: [], parameterKey: "k"), tag: 7)
        machine.enqueue(.reboot(commandKey: "r"), tag: 8)
        _ = machine.receivedEmptyPost(at: .zero)
        #expect(machine.isAwaitingResponse)

        let action = machine.received(Messages.inform(id: "again"), at: .seconds(5))
        #expect(action == .handleInform(try Messages.inform().requireInform(), abandoned: .init(inFlight: 7)))
        #expect(machine.queuedTags == [8])
        #expect(sent(machine.acceptInform(at: .seconds(5)))?.cwmpID == "again")
        let next = try #require(sent(machine.receivedEmptyPost(at: .seconds(6))))
        #expect(next.body == .acsRequest(.reboot(commandKey: "r")))
        // The old request's ID no longer matches anything.
        #expect(next.cwmpID == "tandem-2")
    }

    @Test func newInformAfterTheSessionEndedStartsAFreshOne() throws {
        let machine = Session()
        openSession(machine)
        #expect(machine.receivedEmptyPost(at: .zero) == .needNextRequest)
        #expect(machine.resume(at: .zero) == .endSession)
        guard case .handleInform(_, let abandoned) = machine.received(Messages.inform(id: "next"), at: .seconds(300)) else {
            Issue.record("inform refused"); return
        }
        #expect(abandoned.isEmpty)
        #expect(sent(machine.acceptInform(at: .seconds(300)))?.cwmpID == "next")

        let expired = Session()
        openSession(expired)
        _ = expired.timedOut(at: .seconds(60))
        #expect(expired.isEnded)
        guard case .handleInform = expired.received(Messages.inform(), at: .seconds(61)) else { Issue.record("inform refused"); return }
        #expect(!expired.isEnded)
    }
}
