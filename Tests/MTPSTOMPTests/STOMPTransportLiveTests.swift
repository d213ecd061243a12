import MTP
import MTPSTOMP
import NetworkTestSupport
import Testing

/// `STOMPTransport` against a real STOMP 1.2 broker (ActiveMQ, started by Scripts/test): a controller
/// and an agent exchange binary records through it; connections are cut and silenced with a proxy.
@Suite(.timeLimit(.minutes(2)))
struct STOMPTransportLiveTests {
    /// Every byte value, NULs and EOLs included, as a protobuf-encoded record may hold.
    static let binaryRecord: [UInt8] = (0...255).map { UInt8($0) } + [0, 0, 0x0A, 0x0D, 0x0A, 0]

    @Test func controllerAndAgentExchangeBinaryRecordsWithReplyTo() async throws {
        guard let broker = TestSTOMPBroker.address() else { return }
        let controllerQueue = TestSTOMPBroker.uniqueQueue("controller")
        let agentQueue = TestSTOMPBroker.uniqueQueue("agent")
        let controllerConfiguration = TestSTOMPBroker.configuration(
            host: broker.host, port: broker.port, endpointID: "self::tandem-controller", destination: controllerQueue)
        let agentConfiguration = TestSTOMPBroker.configuration(
            host: broker.host, port: broker.port, endpointID: "os::012345-STOMP0001", destination: agentQueue)
        try await withRunningTransports([controllerConfiguration, agentConfiguration]) { transports, recorders in
            let (controller, agent) = (transports[0], transports[1])
            for recorder in recorders {
                await recorder.wait(for: "link up") { $0.linkUpCount == 1 }
            }

            // The agent sends to the controller's destination; the controller sees where to answer.
            try await agent.send(Self.binaryRecord, to: controller.address)
            await recorders[0].wait(for: "the agent's record") { $0.records.count == 1 }
            let request = try #require(await recorders[0].records.first)
            #expect(request.bytes == Self.binaryRecord)
            #expect(request.replyTo == MTPAddress(transport: "stomp", destination: agentQueue))

            // The controller answers on the reply-to-dest (R-STOMP.23).
            let response: [UInt8] = [0x0A, 0x03, 0x31, 0x2E, 0x34, 0x00, 0xFF]
            try await controller.send(response, to: request.replyTo)
            await recorders[1].wait(for: "the controller's answer") { $0.records.count == 1 }
            let answer = try #require(await recorders[1].records.first)
            #expect(answer.bytes == response)
            #expect(answer.replyTo.destination == controllerQueue)

            // A larger record (64 KiB) with every byte value.
            let large = (0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            try await controller.send(large, to: request.replyTo)
            await recorders[1].wait(for: "the large record") { $0.records.count == 2 }
            #expect(await recorders[1].records.last?.bytes == large)
            #expect(controller.rejectedMessageCount == 0 && agent.rejectedMessageCount == 0)
        }
    }

    @Test func reconnectsAfterTheConnectionIsCutAndLosesNothingSentAfterwards() async throws {
        guard let broker = TestSTOMPBroker.address() else { return }
        let proxy = try await TCPProxy.start(upstreamHost: broker.host, upstreamPort: broker.port)
        let controllerQueue = TestSTOMPBroker.uniqueQueue("controller")
        let agentQueue = TestSTOMPBroker.uniqueQueue("agent")
        let controllerConfiguration = TestSTOMPBroker.configuration(
            host: broker.host, port: broker.port, endpointID: "self::tandem-controller", destination: controllerQueue)
        // The agent goes through the proxy; its first retry waits 300–600 ms.
        var agentConfiguration = TestSTOMPBroker.configuration(
            host: "127.0.0.1", port: proxy.port, endpointID: "os::012345-STOMP0002", destination: agentQueue)
        agentConfiguration.backoff = STOMPConnection.Backoff(initialInterval: .milliseconds(300), multiplier: 2000, maximumInterval: .seconds(2))
        try await withRunningTransports([controllerConfiguration, agentConfiguration]) { transports, recorders in
            let (controller, agent) = (transports[0], transports[1])
            for recorder in recorders {
                await recorder.wait(for: "link up") { $0.linkUpCount == 1 }
            }
            #expect(proxy.acceptedCount == 1)

            proxy.dropConnections()
            await recorders[1].wait(for: "link down") { $0.linkDownReasons.count == 1 }
            // While it is down, sending fails at once and says why.
            await #expect {
                try await agent.send([1, 2, 3], to: controller.address)
            } throws: { error in
                (error as? STOMPError)?.code == .linkDown
            }
            await recorders[1].wait(for: "link up again") { $0.linkUpCount == 2 }
            #expect(proxy.acceptedCount == 2)

            // Nothing sent after the reconnection is lost, in either direction, and order holds.
            let records = (0..<25).map { index in [UInt8(index), 0, 0xFF] + Array(repeating: UInt8(index), count: index * 40) }
            for record in records {
                try await controller.send(record, to: MTPAddress(transport: "stomp", destination: agentQueue))
                try await agent.send(record, to: controller.address)
            }
            await recorders[1].wait(for: "25 records at the agent") { $0.records.count == 25 }
            await recorders[0].wait(for: "25 records at the controller") { $0.records.count == 25 }
            #expect(await recorders[1].records.map(\.bytes) == records)
            #expect(await recorders[0].records.map(\.bytes) == records)
        }
        await proxy.close()
    }

    @Test func heartBeatsKeepAnIdleConnectionAlive() async throws {
        guard let broker = TestSTOMPBroker.address() else { return }
        let proxy = try await TCPProxy.start(upstreamHost: broker.host, upstreamPort: broker.port)
        let queue = TestSTOMPBroker.uniqueQueue("idle")
        var configuration = TestSTOMPBroker.configuration(host: "127.0.0.1", port: proxy.port, endpointID: "self::idle", destination: queue)
        // ActiveMQ drops a client that promises heart-beats every 1.5 s and sends nothing for 2.25 s
        // (its grace is 1.5 intervals); the transport drops a broker silent for 4.5 s (tolerance 3).
        // Neither may happen over 7 s without traffic. (Shorter intervals made the test fail whenever
        // the test process stalled for most of a second on a loaded 2-core machine, as the full suite
        // does: then ActiveMQ rightly dropped the client.)
        configuration.heartBeat = .init(outgoing: .milliseconds(1500), incoming: .milliseconds(1500))
        configuration.heartBeatTolerance = 3
        try await withRunningTransports([configuration]) { transports, recorders in
            await recorders[0].wait(for: "link up") { $0.linkUpCount == 1 }
            try await Task.sleep(for: .seconds(7))
            #expect(await recorders[0].linkDownReasons == [])
            #expect(proxy.acceptedCount == 1)
            // Still usable: a record to itself.
            try await transports[0].send([9, 0, 9], to: transports[0].address)
            await recorders[0].wait(for: "the record") { $0.records.count == 1 }
        }
        await proxy.close()
    }

    @Test func missedHeartBeatsTakeTheLinkDownAndReconnect() async throws {
        guard let broker = TestSTOMPBroker.address() else { return }
        let proxy = try await TCPProxy.start(upstreamHost: broker.host, upstreamPort: broker.port)
        var configuration = TestSTOMPBroker.configuration(
            host: "127.0.0.1", port: proxy.port, endpointID: "self::deaf", destination: TestSTOMPBroker.uniqueQueue("deaf"))
        configuration.heartBeat = .init(outgoing: .milliseconds(250), incoming: .milliseconds(250))
        try await withRunningTransports([configuration]) { _, recorders in
            await recorders[0].wait(for: "link up") { $0.linkUpCount == 1 }
            // The broker's bytes stop reaching the transport; the socket stays open.
            proxy.silenceConnections()
            await recorders[0].wait(for: "link down") { $0.linkDownReasons.count == 1 }
            #expect(await recorders[0].linkDownReasons.first?.hasPrefix("missed heart-beats") == true)
            await recorders[0].wait(for: "link up again") { $0.linkUpCount == 2 }
            #expect(proxy.acceptedCount == 2)
        }
        await proxy.close()
    }

    @Test func messagesWithoutReplyToOrUSPContentTypeAreDroppedAndCounted() async throws {
        guard let broker = TestSTOMPBroker.address() else { return }
        let queue = TestSTOMPBroker.uniqueQueue("controller")
        let configuration = TestSTOMPBroker.configuration(host: broker.host, port: broker.port, endpointID: "self::strict", destination: queue)
        try await withRunningTransports([configuration]) { transports, recorders in
            await recorders[0].wait(for: "link up") { $0.linkUpCount == 1 }
            let usp = "application/vnd.bbf.usp.msg"
            let frames = [
                // No reply-to-dest.
                STOMPFrame(.send, headers: ["destination": queue, "content-type": usp, "content-length": "1"], body: [1]),
                // Not the USP content type.
                STOMPFrame(.send, headers: ["destination": queue, "content-type": "text/plain", "reply-to-dest": "/queue/x", "content-length": "1"], body: [2]),
                // No content type (and a text body).
                STOMPFrame(.send, headers: ["destination": queue, "reply-to-dest": "/queue/x"], body: Array("text".utf8)),
                // A USP Record.
                STOMPFrame(.send, headers: ["destination": queue, "content-type": usp, "reply-to-dest": "/queue/x", "content-length": "1"], body: [4]),
            ]
            let answers = try await RawSTOMPClient.send(frames, host: broker.host, port: broker.port)
            #expect(answers.map(\.command) == [.receipt, .receipt, .receipt, .receipt])
            await recorders[0].wait(for: "the one valid record") { $0.records.count == 1 }
            #expect(await recorders[0].records.first?.bytes == [4])
            #expect(await recorders[0].records.first?.replyTo.destination == "/queue/x")
            let transport = transports[0]
            await recorders[0].wait(for: "3 rejections") { _ in transport.rejectedMessageCount == 3 }
        }
    }

    @Test func loginAndPasscodeAreSentAndARefusalIsRetried() async throws {
        guard let broker = TestSTOMPBroker.address() else { return }
        guard let credentials = TestSTOMPBroker.credentials() else {
            Issue.record("TANDEM_TEST_STOMP_CREDENTIALS is not set (Scripts/test sets it with TANDEM_TEST_STOMP)")
            return
        }
        var good = TestSTOMPBroker.configuration(
            host: broker.host, port: broker.port, endpointID: "self::good", destination: TestSTOMPBroker.uniqueQueue("good"))
        good.login = credentials.login
        good.passcode = credentials.passcode
        var bad = good
        bad.endpointID = "self::bad"
        bad.passcode = "wrong"
        let proxy = try await TCPProxy.start(upstreamHost: broker.host, upstreamPort: broker.port)
        bad.host = "127.0.0.1"
        bad.port = proxy.port
        try await withRunningTransports([good, bad]) { transports, recorders in
            await recorders[0].wait(for: "link up with the right passcode") { $0.linkUpCount == 1 }
            // R-STOMP.7: the ERROR frame leads to retries with growing waits (100, 200, 400 ms...).
            await recorders[1].wait(for: "three refused attempts") { _ in proxy.acceptedCount >= 3 }
            #expect(await recorders[1].linkUpCount == 0)
            await #expect {
                try await transports[1].send([1], to: transports[0].address)
            } throws: { ($0 as? STOMPError)?.code == .linkDown }
        }
        await proxy.close()
    }

    @Test func tlsWithTheBrokersCertificateTrusted() async throws {
        guard let broker = TestSTOMPBroker.tlsAddress() else { return }
        var configuration = TestSTOMPBroker.configuration(
            host: broker.host, port: broker.port, endpointID: "self::tls", destination: TestSTOMPBroker.uniqueQueue("tls"))
        configuration.tls = .init(trustRoots: .pemFile(broker.certificateFile))
        configuration.tls?.serverName = "localhost"
        // The system trust store does not know the self-signed certificate: that one must never come up.
        var untrusting = configuration
        untrusting.endpointID = "self::untrusting"
        untrusting.tls = .init()
        untrusting.tls?.serverName = "localhost"
        try await withRunningTransports([configuration, untrusting]) { transports, recorders in
            await recorders[0].wait(for: "link up over TLS") { $0.linkUpCount == 1 }
            try await transports[0].send(Self.binaryRecord, to: transports[0].address)
            await recorders[0].wait(for: "the record over TLS") { $0.records.count == 1 }
            #expect(await recorders[0].records.first?.bytes == Self.binaryRecord)
            #expect(await recorders[1].linkUpCount == 0)
        }
    }

    @Test func gracefulShutdownAndCancellationBothEndRun() async throws {
        guard let broker = TestSTOMPBroker.address() else { return }
        let configuration = TestSTOMPBroker.configuration(
            host: broker.host, port: broker.port, endpointID: "self::stopper", destination: TestSTOMPBroker.uniqueQueue("stop"))

        // Graceful: DISCONNECT, its RECEIPT, run() returns, events finish.
        let graceful = try STOMPTransport(configuration: configuration)
        let recorder = EventRecorder()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await graceful.run() }
            group.addTask { await recorder.consume(graceful.events) }
            await recorder.wait(for: "link up") { $0.linkUpCount == 1 }
            let started = ContinuousClock.now
            graceful.shutdownGracefully()
            try await group.waitForAll()
            #expect(ContinuousClock.now - started < .seconds(3))
        }
        #expect(await recorder.finished)
        #expect(await recorder.linkDownReasons == ["shutting down"])
        await #expect {
            try await graceful.send([1], to: graceful.address)
        } throws: { ($0 as? STOMPError)?.code == .notRunning }
        await #expect {
            try await graceful.run()
        } throws: { ($0 as? STOMPError)?.code == .notRunning }

        // Cancelled: the connection is closed and run() returns.
        let cancelled = try STOMPTransport(configuration: configuration)
        let cancelledRecorder = EventRecorder()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await cancelled.run() }
            group.addTask { await cancelledRecorder.consume(cancelled.events) }
            await cancelledRecorder.wait(for: "link up") { $0.linkUpCount == 1 }
            group.cancelAll()
            try await group.waitForAll()
        }
        #expect(await cancelledRecorder.finished)
    }
}

/// `STOMPTransport` behaviour that needs no broker.
@Suite struct STOMPTransportOfflineTests {
    func configuration(port: Int = 1) -> STOMPTransport.Configuration {
        var configuration = STOMPTransport.Configuration(host: "127.0.0.1", port: port, endpointID: "self::offline", destination: "/queue/offline")
        configuration.backoff = STOMPConnection.Backoff(initialInterval: .milliseconds(50), multiplier: 2000, maximumInterval: .milliseconds(200))
        configuration.tickInterval = .milliseconds(20)
        return configuration
    }

    @Test func sendFailsClearlyWhenNotRunningOrNotConnected() async throws {
        let transport = try STOMPTransport(configuration: configuration())
        #expect(transport.name == "stomp")
        await #expect {
            try await transport.send([1], to: MTPAddress(transport: "stomp", destination: "/queue/x"))
        } throws: { ($0 as? STOMPError)?.code == .notRunning }
        await #expect {
            try await transport.send([1], to: MTPAddress(transport: "mqtt", destination: "usp/x"))
        } throws: { ($0 as? STOMPError)?.code == .invalidDestination }

        // Nothing listens on port 1: the transport keeps retrying, never comes up, refuses sends.
        let recorder = EventRecorder()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await transport.run() }
            group.addTask { await recorder.consume(transport.events) }
            try await Task.sleep(for: .milliseconds(300))
            await #expect {
                try await transport.send([1], to: MTPAddress(transport: "stomp", destination: "/queue/x"))
            } throws: { error in
                (error as? STOMPError)?.code == .linkDown && "\(error)".contains("not connected")
            }
            transport.shutdownGracefully()
            try await group.waitForAll()
        }
        #expect(await recorder.events.isEmpty)
    }

    @Test func invalidConfigurationsAreRefusedUpFront() {
        var noEndpoint = configuration()
        noEndpoint.endpointID = ""
        #expect { try STOMPTransport(configuration: noEndpoint) } throws: { ($0 as? STOMPError)?.code == .invalidConfiguration }
        var noDestination = configuration()
        noDestination.destination = ""
        #expect { try STOMPTransport(configuration: noDestination) } throws: { ($0 as? STOMPError)?.code == .invalidConfiguration }
        var badPort = configuration()
        badPort.port = 70_000
        #expect { try STOMPTransport(configuration: badPort) } throws: { ($0 as? STOMPError)?.code == .invalidConfiguration }
        var missingCA = configuration()
        missingCA.tls = .init(trustRoots: .pemFile("/nonexistent/ca.pem"))
        #expect { try STOMPTransport(configuration: missingCA) } throws: { ($0 as? STOMPError)?.code == .invalidConfiguration }
        var halfClientCertificate = configuration()
        halfClientCertificate.tls = .init()
        halfClientCertificate.tls?.certificateChainFile = "/nonexistent/cert.pem"
        #expect { try STOMPTransport(configuration: halfClientCertificate) } throws: { ($0 as? STOMPError)?.code == .invalidConfiguration }
    }

    @Test func tlsWithTheSystemTrustStoreBuilds() throws {
        var configuration = configuration()
        configuration.tls = .init()
        _ = try STOMPTransport(configuration: configuration)
    }
}
