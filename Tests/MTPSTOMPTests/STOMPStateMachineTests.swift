import MTPSTOMP
import Testing

/// Every transition of `STOMPConnection.StateMachine`, with injected time and a fixed random seed.
@Suite struct STOMPStateMachineTests {
    typealias Machine = STOMPConnection.StateMachine
    typealias Action = Machine.Action

    let t0 = ContinuousClock.now

    func settings(_ edit: (inout STOMPConnection.Settings) -> Void = { _ in }) -> STOMPConnection.Settings {
        var settings = STOMPConnection.Settings(endpointID: "oui:00256D:ctrl", destination: "/queue/controller", host: "broker.example")
        settings.login = "user"
        settings.passcode = "secret"
        settings.heartBeat = STOMPConnection.HeartBeat(outgoing: .seconds(10), incoming: .seconds(20))
        settings.handshakeTimeout = .seconds(5)
        settings.receiptTimeout = .seconds(3)
        settings.backoff = STOMPConnection.Backoff(initialInterval: .seconds(5), multiplier: 2000, maximumInterval: .seconds(600))
        edit(&settings)
        return settings
    }

    static let connected = STOMPFrame(.connected, headers: ["version": "1.2", "heart-beat": "15000,5000", "server": "ActiveMQ/5.17.2", "session": "s-1"])

    /// A machine driven to the given phase at `t0`.
    func machine(in phase: Machine.Phase, settings: STOMPConnection.Settings? = nil, connected: STOMPFrame = Self.connected) -> Machine {
        var machine = Machine(settings: settings ?? self.settings(), seed: 42)
        if phase == .idle { return machine }
        _ = machine.start(now: t0)
        if phase == .connecting { return machine }
        _ = machine.connectionOpened(now: t0)
        if phase == .awaitingConnected { return machine }
        _ = machine.packetReceived(.frame(connected), now: t0)
        if phase == .subscribing { return machine }
        _ = machine.packetReceived(.frame(STOMPFrame(.receipt, headers: ["receipt-id": "tandem-1"])), now: t0)
        precondition(machine.phase == .open)
        return machine
    }

    // MARK: Connecting

    @Test func startOpensAConnectionOnce() {
        var machine = Machine(settings: settings(), seed: 1)
        #expect(machine.phase == .idle)
        #expect(machine.start(now: t0) == [.openConnection])
        #expect(machine.phase == .connecting)
        #expect(machine.start(now: t0) == [])
    }

    @Test func connectionOpenedSendsTheStompFrame() throws {
        var machine = machine(in: .connecting)
        let actions = machine.connectionOpened(now: t0)
        // R-STOMP.2/3/4/5/8/10: STOMP (not CONNECT), accept-version, host, login, passcode, heart-beat, endpoint-id.
        let expected = STOMPFrame(
            .stomp,
            headers: [
                "accept-version": "1.2", "host": "broker.example", "login": "user", "passcode": "secret",
                "heart-beat": "10000,20000", "endpoint-id": "oui:00256D:ctrl",
            ])
        #expect(actions == [.write(expected)])
        #expect(machine.phase == .awaitingConnected)
        let wire = String(decoding: expected.serialized(), as: UTF8.self)
        #expect(wire.contains("\nendpoint-id:oui\\c00256D\\cctrl\n"))
    }

    @Test func stompFrameWithoutCredentialsOrHeartBeats() {
        var machine = Machine(
            settings: settings {
                $0.login = nil
                $0.passcode = nil
                $0.heartBeat = .disabled
            }, seed: 1)
        _ = machine.start(now: t0)
        let actions = machine.connectionOpened(now: t0)
        // R-STOMP.9: heart-beats off is "0,0".
        let expected = STOMPFrame(
            .stomp, headers: ["accept-version": "1.2", "host": "broker.example", "heart-beat": "0,0", "endpoint-id": "oui:00256D:ctrl"])
        #expect(actions == [.write(expected)])
    }

    @Test func connectionOpenedOutsideConnectingIsIgnored() {
        var machine = machine(in: .open)
        #expect(machine.connectionOpened(now: t0) == [])
        #expect(machine.phase == .open)
    }

    @Test func connectedLeadsToSubscribeWithAckAutoAndAReceipt() throws {
        var machine = machine(in: .awaitingConnected)
        let actions = machine.packetReceived(.frame(Self.connected), now: t0)
        // R-STOMP.12/13/17.
        let subscribe = STOMPFrame(.subscribe, headers: ["id": "usp-0", "destination": "/queue/controller", "ack": "auto", "receipt": "tandem-1"])
        #expect(actions == [.write(subscribe)])
        #expect(machine.phase == .subscribing)
        let session = try #require(machine.session)
        #expect(session.server == "ActiveMQ/5.17.2")
        #expect(session.sessionID == "s-1")
        // Client 10000,20000 and server 15000,5000: send every max(10000, 5000), receive every max(15000, 20000).
        #expect(session.heartBeat == .init(send: .seconds(10), receive: .seconds(20)))
    }

    @Test func subscribeDestFromTheBrokerWins() throws {
        var machine = machine(in: .awaitingConnected)
        var connected = Self.connected
        connected.headers.append("subscribe-dest", "/queue/assigned")
        let actions = machine.packetReceived(.frame(connected), now: t0)
        // R-STOMP.6 / R-STOMP.14.
        #expect(actions == [.write(STOMPFrame(.subscribe, headers: ["id": "usp-0", "destination": "/queue/assigned", "ack": "auto", "receipt": "tandem-1"]))])
        _ = machine.packetReceived(.frame(STOMPFrame(.receipt, headers: ["receipt-id": "tandem-1"])), now: t0)
        let send = machine.sendRequested([1], to: "/queue/agent", token: 1, now: t0)
        guard case .write(let frame) = send.first else {
            Issue.record("no SEND: \(send)")
            return
        }
        #expect(frame.headers["reply-to-dest"] == "/queue/assigned")
    }

    @Test func noDestinationAtAllDisconnectsAndRetries() {
        // R-STOMP.16.
        var machine = machine(in: .awaitingConnected, settings: settings { $0.destination = "" })
        var connected = Self.connected
        connected.headers.append("subscribe-dest", "")
        let actions = machine.packetReceived(.frame(connected), now: t0)
        #expect(actions.first == .write(STOMPFrame(.disconnect)))
        #expect(actions.dropFirst().first == .closeConnection)
        #expect(retryDelay(actions) != nil)
        #expect(machine.phase == .waitingToRetry)
    }

    @Test(arguments: [nil, "1.1", "1.0"] as [String?])
    func refusesABrokerThatIsNotSTOMP12(version: String?) {
        var machine = machine(in: .awaitingConnected)
        var headers: STOMPHeaders = [:]
        if let version { headers.append("version", version) }
        let actions = machine.packetReceived(.frame(STOMPFrame(.connected, headers: headers)), now: t0)
        #expect(actions.first == .closeConnection)
        #expect(retryReason(actions)?.contains("not 1.2") == true)
        #expect(machine.phase == .waitingToRetry)
    }

    @Test func refusesAMalformedHeartBeatHeader() {
        var machine = machine(in: .awaitingConnected)
        let actions = machine.packetReceived(.frame(STOMPFrame(.connected, headers: ["version": "1.2", "heart-beat": "soon"])), now: t0)
        #expect(retryReason(actions)?.contains("heart-beat") == true)
    }

    @Test func connectedWithoutHeartBeatHeaderMeansNone() throws {
        var machine = machine(in: .subscribing, connected: STOMPFrame(.connected, headers: ["version": "1.2"]))
        #expect(machine.session?.heartBeat == .init(send: nil, receive: nil))
        // No heart-beats and no silence check, however long it is quiet (until the handshake timeout).
        #expect(machine.tick(now: t0 + .seconds(4)) == [])
    }

    @Test func errorInsteadOfConnectedEntersTheRetryState() {
        // R-STOMP.7.
        var machine = machine(in: .awaitingConnected)
        let error = STOMPFrame(.error, headers: ["message": "Authentication failed"], body: Array("bad login\n".utf8))
        let actions = machine.packetReceived(.frame(error), now: t0)
        #expect(actions.first == .closeConnection)
        #expect(!actions.contains { if case .linkDown = $0 { true } else { false } })
        #expect(retryReason(actions) == "the broker sent ERROR: Authentication failed (bad login)")
        #expect(machine.phase == .waitingToRetry)
    }

    @Test func unexpectedFrameWhileAwaitingConnectedIsAProtocolError() {
        var machine = machine(in: .awaitingConnected)
        let actions = machine.packetReceived(.frame(STOMPFrame(.message)), now: t0)
        #expect(retryReason(actions) == "expected CONNECTED, received MESSAGE")
    }

    @Test func heartBeatWhileAwaitingConnectedChangesNothing() {
        var machine = machine(in: .awaitingConnected)
        #expect(machine.packetReceived(.heartBeat, now: t0) == [])
        #expect(machine.phase == .awaitingConnected)
    }

    // MARK: Subscribing

    @Test func subscriptionReceiptBringsTheLinkUp() throws {
        var machine = machine(in: .subscribing)
        #expect(machine.packetReceived(.frame(STOMPFrame(.receipt, headers: ["receipt-id": "other"])), now: t0) == [])
        #expect(machine.phase == .subscribing)
        let actions = machine.packetReceived(.frame(STOMPFrame(.receipt, headers: ["receipt-id": "tandem-1"])), now: t0)
        let session = try #require(machine.session)
        #expect(actions == [.linkUp(session)])
        #expect(machine.phase == .open)
    }

    @Test func messagesBeforeTheSubscriptionReceiptAreDelivered() {
        var machine = machine(in: .subscribing)
        let actions = machine.packetReceived(.frame(uspMessage(body: [7], replyTo: "/queue/agent")), now: t0)
        #expect(actions == [.deliver(.init(record: [7], replyTo: "/queue/agent", messageID: "m-1"))])
    }

    @Test func errorWhileSubscribingEntersTheRetryState() {
        // R-STOMP.25 (a refused subscription).
        var machine = machine(in: .subscribing)
        let actions = machine.packetReceived(.frame(STOMPFrame(.error, headers: ["message": "not allowed"])), now: t0)
        #expect(actions.first == .closeConnection)
        #expect(retryReason(actions) == "the broker sent ERROR: not allowed")
    }

    @Test func unexpectedFrameWhileSubscribing() {
        var machine = machine(in: .subscribing)
        let actions = machine.packetReceived(.frame(STOMPFrame(.connected, headers: ["version": "1.2"])), now: t0)
        #expect(retryReason(actions) == "unexpected CONNECTED frame while subscribing")
    }

    @Test func sendIsRefusedUntilTheLinkIsUp() {
        for phase in [Machine.Phase.idle, .connecting, .awaitingConnected, .subscribing] {
            var machine = machine(in: phase)
            let actions = machine.sendRequested([1], to: "/queue/agent", token: 9, now: t0)
            #expect(actions == [.failSend(9, STOMPError(.linkDown, "not connected to the broker"))], "\(phase)")
        }
    }

    // MARK: Open

    @Test func sendWritesAUSPSendFrameAndCompletesOnItsReceipt() {
        var machine = machine(in: .open)
        let record: [UInt8] = [0x0A, 0x00, 0xFF]
        let actions = machine.sendRequested(record, to: "/queue/agent", token: 5, now: t0)
        // R-STOMP.18–22.
        let expected = STOMPFrame(
            .send,
            headers: [
                "destination": "/queue/agent", "content-type": "application/vnd.bbf.usp.msg",
                "reply-to-dest": "/queue/controller", "content-length": "3", "receipt": "tandem-2",
            ], body: record)
        #expect(actions == [.write(expected)])
        #expect(machine.pendingSendCount == 1)
        #expect(machine.packetReceived(.frame(STOMPFrame(.receipt, headers: ["receipt-id": "nobody"])), now: t0) == [])
        #expect(machine.packetReceived(.frame(STOMPFrame(.receipt, headers: ["receipt-id": "tandem-2"])), now: t0) == [.completeSend(5)])
        #expect(machine.pendingSendCount == 0)
    }

    @Test func sendWithoutReceiptsCompletesOnWrite() {
        var machine = machine(in: .open, settings: settings { $0.requestSendReceipts = false })
        let actions = machine.sendRequested([1, 2], to: "/queue/agent", token: 5, now: t0)
        #expect(actions.count == 2)
        #expect(actions.last == .completeSend(5))
        guard case .write(let frame) = actions.first else {
            Issue.record("no write")
            return
        }
        #expect(frame.headers["receipt"] == nil)
        #expect(machine.pendingSendCount == 0)
    }

    @Test func sendToAnEmptyDestinationFails() {
        var machine = machine(in: .open)
        #expect(machine.sendRequested([1], to: "", token: 3, now: t0) == [.failSend(3, STOMPError(.invalidDestination, "empty STOMP destination"))])
    }

    @Test func sendReceiptTimeoutFailsTheSendButKeepsTheLink() {
        var machine = machine(in: .open)
        _ = machine.sendRequested([1], to: "/queue/agent", token: 5, now: t0)
        #expect(!machine.tick(now: t0 + .seconds(2)).contains { if case .failSend = $0 { true } else { false } })
        let actions = machine.tick(now: t0 + .seconds(3))
        #expect(actions.contains(.failSend(5, STOMPError(.receiptTimeout, "no RECEIPT for SEND within 3.0 seconds"))))
        #expect(machine.phase == .open)
        // A late receipt is ignored.
        #expect(machine.packetReceived(.frame(STOMPFrame(.receipt, headers: ["receipt-id": "tandem-2"])), now: t0) == [])
    }

    @Test func messagesBecomeDeliveriesWithTheirReplyTo() {
        var machine = machine(in: .open)
        let actions = machine.packetReceived(.frame(uspMessage(body: [0, 1, 0], replyTo: "/queue/agent:1")), now: t0)
        #expect(actions == [.deliver(.init(record: [0, 1, 0], replyTo: "/queue/agent:1", messageID: "m-1"))])
    }

    @Test(arguments: [
        ("application/vnd.bbf.usp.msg", true),
        ("Application/VND.BBF.USP.MSG", true),
        ("application/vnd.bbf.usp.msg;charset=binary", true),
        ("application/vnd.bbf.usp.error", false),
        ("text/plain", false),
        ("", false),
    ])
    func messagesNeedTheUSPContentType(contentType: String, accepted: Bool) {
        var machine = machine(in: .open)
        var frame = uspMessage(body: [1], replyTo: "/queue/agent", contentType: contentType)
        frame.headers = STOMPHeaders(frame.headers.filter { $0.name != "content-type" } + [.init(name: "content-type", value: contentType)])
        let actions = machine.packetReceived(.frame(frame), now: t0)
        if accepted {
            #expect(actions == [.deliver(.init(record: [1], replyTo: "/queue/agent", messageID: "m-1"))])
        } else {
            #expect(isReject(actions), "\(actions)")
        }
    }

    @Test func messagesWithoutContentTypeOrReplyToAreRejected() {
        var machine = machine(in: .open)
        let noContentType = STOMPFrame(.message, headers: ["reply-to-dest": "/queue/a", "content-length": "1"], body: [1])
        #expect(isReject(machine.packetReceived(.frame(noContentType), now: t0)))
        let noReplyTo = STOMPFrame(.message, headers: ["content-type": "application/vnd.bbf.usp.msg"], body: [1])
        #expect(machine.packetReceived(.frame(noReplyTo), now: t0) == [.reject(reason: "no reply-to-dest header (R-STOMP.21)")])
        let emptyReplyTo = STOMPFrame(.message, headers: ["content-type": "application/vnd.bbf.usp.msg", "reply-to-dest": ""], body: [1])
        #expect(isReject(machine.packetReceived(.frame(emptyReplyTo), now: t0)))
        #expect(machine.phase == .open)
    }

    @Test func errorWhileOpenTakesTheLinkDownAndFailsPendingSends() {
        // R-STOMP.25.
        var machine = machine(in: .open)
        _ = machine.sendRequested([1], to: "/queue/agent", token: 5, now: t0)
        let actions = machine.packetReceived(.frame(STOMPFrame(.error, headers: ["message": "boom"])), now: t0)
        #expect(actions.prefix(3) == [
            .closeConnection,
            .linkDown(reason: "the broker sent ERROR: boom"),
            .failSend(5, STOMPError(.linkDown, "the connection was lost before the RECEIPT: the broker sent ERROR: boom")),
        ])
        #expect(retryDelay(actions).map { STOMPConnection.Backoff().range(retry: 1).contains($0) } == true)
        #expect(machine.phase == .waitingToRetry)
        #expect(machine.pendingSendCount == 0)
    }

    @Test func unexpectedFrameWhileOpen() {
        var machine = machine(in: .open)
        let actions = machine.packetReceived(.frame(STOMPFrame(.connected, headers: ["version": "1.2"])), now: t0)
        #expect(actions.contains(.linkDown(reason: "unexpected CONNECTED frame")))
    }

    @Test func connectionLossWhileOpen() {
        var machine = machine(in: .open)
        let actions = machine.connectionClosed(reason: "reset by peer", now: t0)
        // Already closed: no closeConnection.
        #expect(actions.first == .linkDown(reason: "reset by peer"))
        #expect(retryReason(actions) == "reset by peer")
        #expect(machine.phase == .waitingToRetry)
    }

    // MARK: Heart-beats

    @Test(arguments: [
        // (cx, cy, sx, sy) -> (send, receive), STOMP 1.2 "Heart-beating".
        (0, 0, 0, 0, nil, nil),
        (10, 20, 0, 0, nil, nil),
        (0, 0, 10, 20, nil, nil),
        (10, 20, 15, 5, 10, 20),
        (10, 20, 30, 40, 40, 30),
        (10, 0, 30, 40, 40, nil),
        (0, 20, 30, 40, nil, 30),
    ] as [(Int64, Int64, Int64, Int64, Int64?, Int64?)])
    func heartBeatNegotiation(cx: Int64, cy: Int64, sx: Int64, sy: Int64, send: Int64?, receive: Int64?) {
        let negotiated = STOMPConnection.HeartBeat.negotiate(
            client: .init(outgoing: .milliseconds(cx), incoming: .milliseconds(cy)),
            server: .init(outgoing: .milliseconds(sx), incoming: .milliseconds(sy)))
        #expect(negotiated.send == send.map { .milliseconds($0) })
        #expect(negotiated.receive == receive.map { .milliseconds($0) })
    }

    @Test func heartBeatHeaderParsing() {
        #expect(STOMPConnection.HeartBeat(header: "1000,2000") == .init(outgoing: .seconds(1), incoming: .seconds(2)))
        #expect(STOMPConnection.HeartBeat(header: " 0 , 0 ") == .disabled)
        #expect(STOMPConnection.HeartBeat(header: "1000") == nil)
        #expect(STOMPConnection.HeartBeat(header: "-1,0") == nil)
        #expect(STOMPConnection.HeartBeat(header: "a,b") == nil)
        #expect(STOMPConnection.HeartBeat(outgoing: .milliseconds(1500), incoming: .zero).description == "1500,0")
    }

    @Test func sendsAHeartBeatWhenIdleForHalfTheSendInterval() {
        // Negotiated: send every 10 s, receive every 20 s.
        var machine = machine(in: .open)
        #expect(machine.tick(now: t0 + .seconds(4)) == [])
        #expect(machine.tick(now: t0 + .seconds(5)) == [.writeHeartBeat])
        #expect(machine.tick(now: t0 + .seconds(6)) == [])
        // A SEND is traffic too: it postpones the next heart-beat.
        _ = machine.sendRequested([1], to: "/queue/a", token: 1, now: t0 + .seconds(8))
        _ = machine.packetReceived(.frame(STOMPFrame(.receipt, headers: ["receipt-id": "tandem-2"])), now: t0 + .seconds(8))
        #expect(machine.tick(now: t0 + .seconds(12)) == [])
        #expect(machine.tick(now: t0 + .seconds(13)) == [.writeHeartBeat])
    }

    @Test func silenceBeyondTheToleranceIsAMissedHeartBeat() {
        // Receive every 20 s, tolerance 2: dead after 40 s without a byte.
        var machine = machine(in: .open, settings: settings { $0.heartBeat = .init(outgoing: .zero, incoming: .seconds(20)) })
        #expect(machine.tick(now: t0 + .seconds(40)) == [])
        #expect(machine.packetReceived(.heartBeat, now: t0 + .seconds(40)) == [])
        #expect(machine.tick(now: t0 + .seconds(80)) == [])
        let actions = machine.tick(now: t0 + .seconds(81))
        #expect(actions.first == .closeConnection)
        guard case .linkDown(let reason) = actions.dropFirst().first else {
            Issue.record("no linkDown: \(actions)")
            return
        }
        #expect(reason.hasPrefix("missed heart-beats"))
        #expect(machine.phase == .waitingToRetry)
    }

    @Test func heartBeatsAlsoRunWhileSubscribing() {
        var machine = machine(in: .subscribing, settings: settings { $0.handshakeTimeout = .seconds(100) })
        #expect(machine.tick(now: t0 + .seconds(5)) == [.writeHeartBeat])
        let actions = machine.tick(now: t0 + .seconds(41))
        #expect(retryReason(actions)?.hasPrefix("missed heart-beats") == true)
    }

    // MARK: Timeouts and retries

    @Test func everyHandshakeStepTimesOut() {
        var connecting = machine(in: .connecting)
        #expect(connecting.tick(now: t0 + .seconds(4)) == [])
        #expect(retryReason(connecting.tick(now: t0 + .seconds(5))) == "no connection within 5.0 seconds")

        var awaiting = machine(in: .awaitingConnected)
        #expect(retryReason(awaiting.tick(now: t0 + .seconds(5))) == "no CONNECTED frame within 5.0 seconds")

        var subscribing = machine(in: .subscribing)
        #expect(retryReason(subscribing.tick(now: t0 + .seconds(5))) == "no RECEIPT for SUBSCRIBE within 5.0 seconds")
    }

    @Test func retryWaitsGrowWithEachFailureAndResetOnceUp() throws {
        let backoff = STOMPConnection.Backoff(initialInterval: .seconds(5), multiplier: 2000, maximumInterval: .seconds(600))
        var machine = machine(in: .connecting)
        var now = t0
        for retry in 1...4 {
            let delay = try #require(retryDelay(machine.connectionClosed(reason: "refused", now: now)))
            #expect(backoff.range(retry: retry).contains(delay), "retry \(retry): \(delay)")
            #expect(machine.phase == .waitingToRetry)
            #expect(machine.tick(now: now + delay - .milliseconds(1)) == [])
            now = now + delay
            #expect(machine.tick(now: now) == [.openConnection])
            #expect(machine.phase == .connecting)
        }
        // Up, then lost: the count starts again.
        _ = machine.connectionOpened(now: now)
        _ = machine.packetReceived(.frame(Self.connected), now: now)
        _ = machine.packetReceived(.frame(STOMPFrame(.receipt, headers: ["receipt-id": "tandem-1"])), now: now)
        #expect(machine.phase == .open)
        let delay = try #require(retryDelay(machine.connectionClosed(reason: "lost", now: now)))
        #expect(backoff.range(retry: 1).contains(delay))
    }

    @Test func closedWhileAwaitingConnectedOrSubscribingRetries() {
        for phase in [Machine.Phase.awaitingConnected, .subscribing] {
            var machine = machine(in: phase)
            let actions = machine.connectionClosed(reason: "eof", now: t0)
            #expect(actions.first != .closeConnection)
            #expect(retryReason(actions) == "eof")
        }
    }

    @Test func staleEventsWhileWaitingToRetryAreIgnored() {
        var machine = machine(in: .open)
        _ = machine.connectionClosed(reason: "lost", now: t0)
        #expect(machine.packetReceived(.frame(uspMessage(body: [1], replyTo: "/q")), now: t0) == [])
        #expect(machine.connectionClosed(reason: "again", now: t0) == [])
        #expect(machine.connectionOpened(now: t0) == [])
        #expect(machine.phase == .waitingToRetry)
    }

    @Test func backoffFollowsTheRetryTable() {
        let backoff = STOMPConnection.Backoff(initialInterval: .seconds(5), multiplier: 2000, maximumInterval: .seconds(10_000))
        #expect(backoff.range(retry: 1) == .seconds(5)...(.seconds(10)))
        #expect(backoff.range(retry: 2) == .seconds(10)...(.seconds(20)))
        #expect(backoff.range(retry: 3) == .seconds(20)...(.seconds(40)))
        #expect(backoff.range(retry: 10) == .seconds(2560)...(.seconds(5120)))
        #expect(backoff.range(retry: 11) == backoff.range(retry: 10))
        let capped = STOMPConnection.Backoff(initialInterval: .seconds(5), multiplier: 2000, maximumInterval: .seconds(30))
        #expect(capped.range(retry: 3) == .seconds(20)...(.seconds(30)))
        #expect(capped.range(retry: 9) == .seconds(30)...(.seconds(30)))
        let slow = STOMPConnection.Backoff(initialInterval: .milliseconds(100), multiplier: 1500, maximumInterval: .seconds(1))
        #expect(slow.range(retry: 2) == .milliseconds(150)...(.milliseconds(225)))
    }

    @Test func backoffJitterIsSeededAndSpread() {
        let backoff = STOMPConnection.Backoff()
        var first = SplitMix64(seed: 7)
        var second = SplitMix64(seed: 7)
        let a = (0..<20).map { _ in backoff.delay(retry: 2, using: &first) }
        let b = (0..<20).map { _ in backoff.delay(retry: 2, using: &second) }
        #expect(a == b)
        #expect(Set(a).count > 15)
        #expect(a.allSatisfy { backoff.range(retry: 2).contains($0) })
    }

    // MARK: Shutdown

    @Test func shutdownWithoutAConnectionFinishesAtOnce() {
        var idle = machine(in: .idle)
        #expect(idle.shutdownRequested(now: t0) == [.finish])
        var connecting = machine(in: .connecting)
        #expect(connecting.shutdownRequested(now: t0) == [.closeConnection, .finish])
        var awaiting = machine(in: .awaitingConnected)
        #expect(awaiting.shutdownRequested(now: t0) == [.closeConnection, .finish])
        var waiting = machine(in: .open)
        _ = waiting.connectionClosed(reason: "lost", now: t0)
        #expect(waiting.shutdownRequested(now: t0) == [.finish])
        #expect(waiting.phase == .finished)
    }

    @Test func shutdownWhileOpenDisconnectsWithAReceipt() {
        // R-STOMP.28.
        var machine = machine(in: .open)
        _ = machine.sendRequested([1], to: "/queue/a", token: 8, now: t0)
        let actions = machine.shutdownRequested(now: t0)
        #expect(actions == [.linkDown(reason: "shutting down"), .write(STOMPFrame(.disconnect, headers: ["receipt": "tandem-3"]))])
        #expect(machine.phase == .disconnecting)
        #expect(machine.shutdownRequested(now: t0) == [])
        // Sends are refused; the one in flight still completes; messages still arrive.
        #expect(machine.sendRequested([2], to: "/queue/a", token: 9, now: t0) == [.failSend(9, STOMPError(.linkDown, "the transport is shutting down"))])
        #expect(machine.packetReceived(.frame(STOMPFrame(.receipt, headers: ["receipt-id": "tandem-2"])), now: t0) == [.completeSend(8)])
        #expect(machine.packetReceived(.frame(uspMessage(body: [3], replyTo: "/q")), now: t0).count == 1)
        #expect(machine.packetReceived(.frame(STOMPFrame(.receipt, headers: ["receipt-id": "tandem-3"])), now: t0) == [.closeConnection, .finish])
        #expect(machine.phase == .finished)
        #expect(machine.tick(now: t0 + .seconds(100)) == [])
        #expect(machine.start(now: t0) == [])
    }

    @Test func shutdownWhileSubscribingAlsoDisconnects() {
        var machine = machine(in: .subscribing)
        #expect(machine.shutdownRequested(now: t0) == [.write(STOMPFrame(.disconnect, headers: ["receipt": "tandem-2"]))])
        #expect(machine.connectionClosed(reason: "closed", now: t0) == [.finish])
    }

    @Test func disconnectReceiptTimeoutFinishesAnyway() {
        var machine = machine(in: .open)
        _ = machine.sendRequested([1], to: "/queue/a", token: 8, now: t0)
        _ = machine.shutdownRequested(now: t0)
        #expect(machine.tick(now: t0 + .seconds(2)).allSatisfy { $0 == .writeHeartBeat })
        let actions = machine.tick(now: t0 + .seconds(3))
        #expect(actions == [.closeConnection, .failSend(8, STOMPError(.linkDown, "the transport shut down before the RECEIPT")), .finish])
    }

    @Test func errorWhileDisconnectingFinishes() {
        var machine = machine(in: .open)
        _ = machine.shutdownRequested(now: t0)
        #expect(machine.packetReceived(.frame(STOMPFrame(.error)), now: t0) == [.closeConnection, .finish])
    }

    // MARK: Helpers

    func uspMessage(body: [UInt8], replyTo: String, contentType: String = "application/vnd.bbf.usp.msg") -> STOMPFrame {
        STOMPFrame(
            .message,
            headers: [
                "destination": "/queue/controller", "message-id": "m-1", "subscription": "usp-0",
                "content-type": contentType, "reply-to-dest": replyTo, "content-length": "\(body.count)",
            ], body: body)
    }

    func retryDelay(_ actions: [Action]) -> Duration? {
        for case .scheduleRetry(let delay, _) in actions { return delay }
        return nil
    }

    func retryReason(_ actions: [Action]) -> String? {
        for case .scheduleRetry(_, let reason) in actions { return reason }
        return nil
    }

    func isReject(_ actions: [Action]) -> Bool {
        guard actions.count == 1, case .reject = actions[0] else { return false }
        return true
    }
}
