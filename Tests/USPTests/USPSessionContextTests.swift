import TandemCore
import Testing
import USP

/// A manual clock reading for the state machine.
struct TestInstant: InstantProtocol {
    var offset: Duration
    static let zero = TestInstant(offset: .zero)
    func advanced(by duration: Duration) -> TestInstant { TestInstant(offset: offset + duration) }
    func duration(to other: TestInstant) -> Duration { other.offset - offset }
    static func < (lhs: TestInstant, rhs: TestInstant) -> Bool { lhs.offset < rhs.offset }
    static func + (lhs: TestInstant, rhs: Duration) -> TestInstant { lhs.advanced(by: rhs) }
}

@Suite("USP E2E Session Context state machine")
struct USPSessionContextTests {
    typealias Machine = USPSessionContext.StateMachine<TestInstant>
    typealias Context = USPRecord.SessionContext

    let t0 = TestInstant.zero

    func machine(_ configure: (inout USPSessionContext.Configuration) -> Void = { _ in }) throws -> Machine {
        var configuration = USPSessionContext.Configuration(localEndpointID: controllerID, peerEndpointID: agentID)
        configure(&configuration)
        return try Machine(configuration: configuration)
    }

    /// A Record from the Agent.
    func incoming(_ sequence: UInt64, expected: UInt64 = 1, retransmit: UInt64 = 0, session: UInt64 = 77, payload: [UInt8] = [])
        -> Context
    {
        Context(
            sessionID: session, sequenceID: sequence, expectedID: expected, retransmitID: retransmit,
            payload: payload.isEmpty ? [] : [payload])
    }

    @Test("outgoing Records are numbered from 1, carry expected_id and stay buffered until acknowledged (R-E2E.14-17)")
    func sendAndAcknowledge() throws {
        var machine = try machine()
        #expect(throws: USPSessionFailure(.noSession)) { try machine.send([1], now: t0) }
        #expect(throws: USPSessionFailure(.invalidSessionID(1))) { try machine.start(sessionID: 1, now: t0) }
        try machine.start(sessionID: 77, now: t0)
        let first = try machine.send([0xA1], now: t0)
        let second = try machine.send([0xA2], now: t0)
        #expect(first == [Context(sessionID: 77, sequenceID: 1, expectedID: 1, payload: [[0xA1]])])
        #expect(second.map(\.sequenceID) == [2])
        #expect(machine.unacknowledgedSequenceIDs == [1, 2])

        // The Agent answers with sequence 1 and expects our 2: Record 1 is acknowledged.
        let actions = machine.receive(incoming(1, expected: 2, payload: [0xB1]), payloadSecurity: .plaintext, now: t0)
        #expect(actions == [.deliver([0xB1])])
        #expect(machine.unacknowledgedSequenceIDs == [2])
        #expect(machine.expectedID == 2)
        // Our next Record acknowledges the Agent's 1.
        #expect(try machine.send([0xA3], now: t0).first?.expectedID == 2)
    }

    @Test("an early Record is buffered, the missing one requested, and both delivered in order (R-E2E.20)")
    func outOfOrder() throws {
        var machine = try machine()
        let early = machine.receive(incoming(2, payload: [2]), payloadSecurity: .plaintext, now: t0)
        #expect(
            early == [
                .sessionStarted(sessionID: 77),
                .buffered(sequenceID: 2),
                .send(Context(sessionID: 77, sequenceID: 1, expectedID: 1, retransmitID: 1)),
                .scheduleTimeout(t0 + .seconds(5)),
            ])
        #expect(machine.bufferedSequenceIDs == [2])
        // A third Record does not repeat the request.
        #expect(machine.receive(incoming(3, payload: [3]), payloadSecurity: .plaintext, now: t0) == [.buffered(sequenceID: 3)])

        let late = machine.receive(incoming(1, payload: [1]), payloadSecurity: .plaintext, now: t0)
        #expect(late == [.deliver([1]), .deliver([2]), .deliver([3])])
        #expect(machine.expectedID == 4)
        #expect(machine.bufferedSequenceIDs.isEmpty)
        #expect(machine.nextDeadline == nil)
    }

    @Test("duplicates, processed or buffered, are ignored (R-E2E.25)")
    func duplicates() throws {
        var machine = try machine()
        _ = machine.receive(incoming(1, payload: [1]), payloadSecurity: .plaintext, now: t0)
        #expect(machine.receive(incoming(1, payload: [1]), payloadSecurity: .plaintext, now: t0) == [.ignored(.duplicate(sequenceID: 1))])
        _ = machine.receive(incoming(3, payload: [3]), payloadSecurity: .plaintext, now: t0)
        #expect(machine.receive(incoming(3, payload: [3]), payloadSecurity: .plaintext, now: t0) == [.ignored(.duplicate(sequenceID: 3))])
        #expect(machine.receive(incoming(2, payload: [2]), payloadSecurity: .plaintext, now: t0) == [.deliver([2]), .deliver([3])])
    }

    @Test("a retransmit_id is answered from the outgoing buffer, at most MaxRetransmitTries times")
    func answerRetransmission() throws {
        var machine = try machine { $0.maxRetransmitTries = 2 }
        try machine.start(sessionID: 77, now: t0)
        let sent = try (1...3).flatMap { try machine.send([UInt8($0)], now: t0) }
        // The Agent got 1 but not 2: expected_id 2, retransmit_id 2.
        let first = machine.receive(incoming(1, expected: 2, retransmit: 2), payloadSecurity: .plaintext, now: t0)
        #expect(first == [.send(sent[1])])
        #expect(machine.unacknowledgedSequenceIDs == [2, 3])
        #expect(machine.receive(incoming(2, expected: 2, retransmit: 2), payloadSecurity: .plaintext, now: t0) == [.send(sent[1])])
        let third = machine.receive(incoming(3, expected: 2, retransmit: 2), payloadSecurity: .plaintext, now: t0)
        #expect(third == [.restartSession(USPSessionFailure(.retransmitLimitReached(sequenceID: 2)))])
        #expect(machine.sessionID == nil)
    }

    @Test("a retransmit_id for a Record that is not buffered restarts the context")
    func unknownRetransmission() throws {
        var machine = try machine()
        try machine.start(sessionID: 77, now: t0)
        _ = try machine.send([1], now: t0)
        let actions = machine.receive(incoming(1, expected: 1, retransmit: 9), payloadSecurity: .plaintext, now: t0)
        #expect(actions == [.restartSession(USPSessionFailure(.retransmitUnavailable(sequenceID: 9)))])
        #expect(USPSessionFailure(.retransmitUnavailable(sequenceID: 9)).code == .sessionContextTerminated)
    }

    @Test("a missing Record is asked for again on timeout, then the context restarts")
    func missingRecordTimeout() throws {
        var machine = try machine { $0.maxRetransmitTries = 2 }
        _ = machine.receive(incoming(2, payload: [2]), payloadSecurity: .plaintext, now: t0)
        #expect(machine.nextDeadline == t0 + .seconds(5))
        #expect(machine.timeoutFired(now: t0 + .seconds(1)) == [])
        let retry = machine.timeoutFired(now: t0 + .seconds(5))
        #expect(
            retry == [
                .send(Context(sessionID: 77, sequenceID: 2, expectedID: 1, retransmitID: 1)),
                .scheduleTimeout(t0 + .seconds(10)),
            ])
        let giveUp = machine.timeoutFired(now: t0 + .seconds(10))
        #expect(giveUp == [.restartSession(USPSessionFailure(.retransmitLimitReached(sequenceID: 1)))])
        #expect(machine.sessionID == nil)
    }

    @Test("a new session_id from the peer starts a fresh context (R-E2E.6)")
    func peerRestart() throws {
        var machine = try machine()
        try machine.start(sessionID: 77, now: t0)
        _ = try machine.send([1], now: t0)
        _ = try machine.send([2], now: t0)
        let actions = machine.receive(incoming(1, session: 900, payload: [9]), payloadSecurity: .plaintext, now: t0)
        #expect(actions == [.sessionStarted(sessionID: 900), .deliver([9])])
        #expect(machine.sessionID == 900)
        #expect(machine.unacknowledgedSequenceIDs.isEmpty)
        #expect(try machine.send([3], now: t0).map(\.sequenceID) == [1])
    }

    @Test("a DisconnectRecord purges the context (R-MTP.7)")
    func disconnect() throws {
        var machine = try machine()
        try machine.start(sessionID: 77, now: t0)
        _ = try machine.send([1], now: t0)
        _ = machine.receive(incoming(3, payload: [3]), payloadSecurity: .plaintext, now: t0)
        machine.disconnectReceived()
        #expect(machine.sessionID == nil)
        #expect(machine.unacknowledgedSequenceIDs.isEmpty)
        #expect(machine.bufferedSequenceIDs.isEmpty)
        #expect(machine.nextDeadline == nil)
        #expect(throws: USPSessionFailure(.noSession)) { try machine.send([1], now: t0) }
        // The next Record from the Agent starts over, even with the old session_id.
        #expect(machine.receive(incoming(1, payload: [1]), payloadSecurity: .plaintext, now: t0) == [.sessionStarted(sessionID: 77), .deliver([1])])
    }

    @Test("failures that purge the context: payload_security change, reorder window, session_id 0, exhaustion")
    func failures() throws {
        var machine = try machine { $0.reorderWindow = 4 }
        _ = machine.receive(incoming(1), payloadSecurity: .plaintext, now: t0)
        #expect(
            machine.receive(incoming(2), payloadSecurity: .tls12, now: t0)
                == [.restartSession(USPSessionFailure(.payloadSecurityChanged))])
        #expect(machine.sessionID == nil)

        _ = machine.receive(incoming(1), payloadSecurity: .plaintext, now: t0)
        #expect(
            machine.receive(incoming(7), payloadSecurity: .plaintext, now: t0)
                == [.restartSession(USPSessionFailure(.reorderWindowExceeded(sequenceID: 7, expectedID: 2)))])

        #expect(
            machine.receive(incoming(1, session: 0), payloadSecurity: .plaintext, now: t0)
                == [.ignored(.invalidSessionID), .restartSession(USPSessionFailure(.invalidSessionID(0)))])

        let exhausted = machine.receive(incoming(UInt64.max - 5), payloadSecurity: .plaintext, now: t0)
        #expect(exhausted.last == .restartSession(USPSessionFailure(.sequenceExhausted)))
        #expect(machine.sessionID == nil)
    }

    @Test("an idle context expires (SessionExpiration)")
    func expiry() throws {
        var machine = try machine { $0.sessionExpiration = .seconds(60) }
        try machine.start(sessionID: 77, now: t0)
        _ = try machine.send([1], now: t0)
        #expect(machine.nextDeadline == t0 + .seconds(60))
        #expect(try machine.send([2], now: t0 + .seconds(59)).map(\.sequenceID) == [2])
        #expect(throws: USPSessionFailure(.expired)) { try machine.send([3], now: t0 + .seconds(200)) }
        #expect(machine.sessionID == nil)

        try machine.start(sessionID: 78, now: t0)
        #expect(machine.timeoutFired(now: t0 + .seconds(60)) == [.restartSession(USPSessionFailure(.expired))])
    }

    @Test("a large Message is segmented under MaxUSPRecordSize and reassembled by the peer, even out of order")
    func segmentedExchange() throws {
        var controller = try machine { $0.maxRecordBytes = 200 }
        var agent = try Machine(
            configuration: USPSessionContext.Configuration(localEndpointID: agentID, peerEndpointID: controllerID))
        try controller.start(sessionID: 4242, now: t0)
        let message = try ExpectedMessages.getSupportedDMResponse.serializedBytes()
        let records = try controller.send(message, now: t0)
        #expect(records.count > 2)
        for record in records {
            #expect(try controller.configuration.record(record).serializedBytes().count <= 200)
        }
        var delivered: [[UInt8]] = []
        for record in records.reversed() {
            for action in agent.receive(record, payloadSecurity: .plaintext, now: t0) {
                if case .deliver(let payload) = action { delivered.append(payload) }
            }
        }
        #expect(delivered == [message])
        #expect(try USPMessage(serializedBytes: delivered[0]) == ExpectedMessages.getSupportedDMResponse)
    }
}
