import Foundation
import MTP
import MTPMQTT
import Testing

/// `MosquittoClient` itself against real brokers: disconnect detection, reconnection on the same
/// client, limits, credentials and TLS.
@Suite(.timeLimit(.minutes(2))) struct MosquittoClientLiveTests {
    func configuration(_ broker: (host: String, port: Int), _ clientID: String, _ version: MosquittoClient.ProtocolVersion = .v5)
        -> MosquittoClient.Configuration
    {
        var configuration = MosquittoClient.Configuration(host: broker.host, port: broker.port, clientID: clientID)
        configuration.protocolVersion = version
        configuration.timeout = .seconds(10)
        return configuration
    }

    @Test func publishingWhileNotConnectedFailsAtOnce() async throws {
        guard let broker = try TestBroker.address() else { return }
        let names = TestNames()
        let client = try MosquittoClient(configuration: configuration(broker, "c-\(names.id)"))
        #expect(!client.isConnected)
        let before = await #expect(throws: MQTTError.self) { try await client.publish([1], to: "tandem-test/\(names.id)/x") }
        #expect(before?.description.contains("not connected") == true)
        try await client.connect()
        #expect(client.isConnected)
        try await client.publish([1], to: "tandem-test/\(names.id)/x")
        await client.closeConnection()
        #expect(!client.isConnected)
        let after = await #expect(throws: MQTTError.self) { try await client.publish([1], to: "tandem-test/\(names.id)/x") }
        #expect(after?.description.contains("not connected") == true)
        await #expect(throws: MQTTError.self) { try await client.subscribe("tandem-test/\(names.id)/x") }
        // Closed by the client: waiting for a disconnection returns at once.
        let disconnection = try await client.waitForDisconnection()
        #expect(disconnection.reasonCode == 0)
        await client.shutdown()
        await #expect(throws: MQTTError.self) { try await client.connect() }
    }

    @Test(arguments: [MosquittoClient.ProtocolVersion.v5, .v311])
    func detectsTheBrokerDroppingTheConnectionAndConnectsAgain(version: MosquittoClient.ProtocolVersion) async throws {
        guard let broker = try TestBroker.address() else { return }
        let names = TestNames()
        let topic = "tandem-test/\(names.id)/t"
        let client = try MosquittoClient(configuration: configuration(broker, "c-\(names.id)", version))
        try await client.connect()
        try await client.subscribe(topic)
        let received = Collector<MQTTMessage>()
        let publisher = try MosquittoClient(configuration: configuration(broker, "p-\(names.id)", version))
        try await publisher.connect()

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await received.consume(client.messages) }
            try await publisher.publish([1], to: topic)
            try await received.wait(for: "the first message") { $0.count == 1 ? true : nil }

            // Session takeover: the broker drops the first connection.
            let intruder = try MosquittoClient(configuration: configuration(broker, "c-\(names.id)", version))
            try await intruder.connect()
            let disconnection = try await client.waitForDisconnection()
            #expect(disconnection.reasonCode != 0, "\(disconnection)")
            #expect(!client.isConnected)
            #expect(client.statistics.connectionsLost == 1)
            intruder.disconnect()

            // Same client, new connection: the messages stream carries on after subscribing again.
            try await client.connect()
            try await client.subscribe(topic)
            try await publisher.publish([2], to: topic)
            try await received.wait(for: "the message after reconnecting") { $0.count == 2 ? true : nil }
            #expect(received.elements.map(\.payload) == [[1], [2]])
            #expect(client.statistics.connections == 2)
            publisher.disconnect()
            client.disconnect()
            try await group.waitForAll()
        }
        #expect(received.finished)
    }

    /// R-MQTT.8/9/11: an MQTT 5 client without a client ID keeps the one the broker assigned.
    @Test func keepsTheAssignedClientIdentifier() async throws {
        guard let broker = try TestBroker.address() else { return }
        let client = try MosquittoClient(configuration: configuration(broker, ""))
        let first = try await client.connect()
        let assigned = try #require(first.assignedClientIdentifier)
        #expect(first.clientID == assigned)
        await client.closeConnection()
        let second = try await client.connect()
        #expect(second.assignedClientIdentifier == nil)
        #expect(second.clientID == assigned)
        await client.shutdown()
    }

    /// MQTT 5 3.1.2.4 / 3.1.2.11.2 / 4.1 (3.1.1 3.1.2.4): with `resumeSession`, the first connection
    /// without a client ID starts clean and takes the broker's assigned one (R-MQTT.9); the session
    /// outlives the connection, so QoS 1 messages published while the client is away are delivered
    /// when it connects again with that ID (Clean Start 0, session present). Without it they are lost.
    @Test(arguments: [MosquittoClient.ProtocolVersion.v5, .v311])
    func aResumedSessionDeliversWhatWasPublishedWhileAway(version: MosquittoClient.ProtocolVersion) async throws {
        guard let broker = try TestBroker.address() else { return }
        let names = TestNames()
        let topic = "tandem-test/\(names.id)/queued"
        // MQTT 3.1.1 forbids an empty client ID with a kept session: it uses a fixed one.
        var resuming = configuration(broker, version == .v5 ? "" : "r-\(names.id)", version)
        resuming.resumeSession = true
        resuming.sessionExpirySeconds = 60
        var forgetting = configuration(broker, "f-\(names.id)", version)
        forgetting.sessionExpirySeconds = 60
        let clients = [try MosquittoClient(configuration: resuming), try MosquittoClient(configuration: forgetting)]
        for client in clients {
            let first = try await client.connect()
            #expect(!first.sessionPresent)
            try await client.subscribe(topic)
            await client.closeConnection()
        }
        let publisher = try MosquittoClient(configuration: configuration(broker, "p-\(names.id)", version))
        try await publisher.connect()
        for payload: UInt8 in 1...3 { try await publisher.publish([payload], to: topic, qos: 1) }
        publisher.disconnect()

        let received = [Collector<MQTTMessage>(), Collector<MQTTMessage>()]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (client, collector) in zip(clients, received) { group.addTask { await collector.consume(client.messages) } }
            let resumed = try await clients[0].connect()
            #expect(resumed.sessionPresent, "the broker kept the session")
            try await received[0].wait(for: "the three queued messages") { $0.count == 3 ? true : nil }
            #expect(received[0].elements.map(\.payload) == [[1], [2], [3]])
            // The client that starts clean every time finds nothing waiting, and a message published
            // now shows that it is connected and subscribed again.
            let fresh = try await clients[1].connect()
            #expect(!fresh.sessionPresent)
            try await clients[1].subscribe(topic)
            let late = try MosquittoClient(configuration: configuration(broker, "l-\(names.id)", version))
            try await late.connect()
            try await late.publish([9], to: topic, qos: 1)
            late.disconnect()
            try await received[1].wait(for: "the message published after reconnecting") { $0.isEmpty ? nil : true }
            #expect(received[1].elements.map(\.payload) == [[9]])
            for client in clients { client.disconnect() }
            try await group.waitForAll()
        }
    }

    @Test func oversizePayloadsAreDroppedAndCounted() async throws {
        guard let broker = try TestBroker.address() else { return }
        let names = TestNames()
        let topic = "tandem-test/\(names.id)/big"
        var small = configuration(broker, "c-\(names.id)")
        small.maximumInboundPayloadBytes = 100
        let client = try MosquittoClient(configuration: small)
        try await client.connect()
        try await client.subscribe(topic)
        let publisher = try MosquittoClient(configuration: configuration(broker, "p-\(names.id)"))
        try await publisher.connect()
        let received = Collector<MQTTMessage>()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await received.consume(client.messages) }
            try await publisher.publish(Array(repeating: 7, count: 101), to: topic)
            try await publisher.publish(Array(repeating: 8, count: 100), to: topic)
            try await received.wait(for: "the message at the limit") { $0.isEmpty ? nil : true }
            #expect(received.elements.map(\.payload.count) == [100])
            #expect(client.statistics.droppedOversize == 1)
            #expect(client.statistics.messagesReceived == 1)
            publisher.disconnect()
            client.disconnect()
            try await group.waitForAll()
        }
    }

    /// Clients dropped in every state (connected, subscribed, mid-connect, after a loss) are closed
    /// in the background without crashing or blocking.
    @Test func droppingClientsInAnyStateIsSafe() async throws {
        guard let broker = try TestBroker.address() else { return }
        let names = TestNames()
        for index in 0..<10 {
            let client = try MosquittoClient(configuration: configuration(broker, "d\(index)-\(names.id)"))
            if index % 2 == 0 {
                try await client.connect()
                try await client.subscribe("tandem-test/\(names.id)/#")
            }
            if index % 3 == 0 {
                let intruder = try MosquittoClient(configuration: configuration(broker, "d\(index)-\(names.id)"))
                try await intruder.connect()
            }
        }
        // A publisher still works afterwards (nothing wedged the process or the broker).
        let client = try MosquittoClient(configuration: configuration(broker, "after-\(names.id)"))
        try await client.connect()
        try await client.publish([1], to: "tandem-test/\(names.id)/after")
        await client.shutdown()
    }

    @Test func invalidConfigurationsFailAtInit() {
        var keepAlive = MosquittoClient.Configuration(host: "127.0.0.1", port: 1883, clientID: "x")
        keepAlive.keepAliveSeconds = 3
        #expect(throws: MQTTError.self) { try MosquittoClient(configuration: keepAlive) }
        var persistent = MosquittoClient.Configuration(host: "127.0.0.1", port: 1883, clientID: "")
        persistent.cleanSession = false
        #expect(throws: MQTTError.self) { try MosquittoClient(configuration: persistent) }
        var halfCertificate = MosquittoClient.Configuration(host: "127.0.0.1", port: 8883, clientID: "x")
        halfCertificate.tls = MQTTTLSConfiguration(caFile: "/etc/hostname", certificateFile: "/etc/hostname")
        #expect(throws: MQTTError.self) { try MosquittoClient(configuration: halfCertificate) }
        var noTrust = MosquittoClient.Configuration(host: "127.0.0.1", port: 8883, clientID: "x")
        noTrust.tls = MQTTTLSConfiguration()
        #expect(throws: MQTTError.self) { try MosquittoClient(configuration: noTrust) }
        #expect(throws: MQTTError.self) { try MosquittoClient(configuration: .init(host: "", port: 1883, clientID: "x")) }
        #expect(throws: MQTTError.self) { try MosquittoClient(configuration: .init(host: "h", port: 0, clientID: "x")) }
    }

    /// R-MQTT.7: user name and password in CONNECT, against a private broker that requires them.
    @Test func usernameAndPassword() async throws {
        guard try TestBroker.address() != nil else { return }
        guard let passwd = ["/usr/bin/mosquitto_passwd", "/usr/local/bin/mosquitto_passwd"].first(where: FileManager.default.isExecutableFile)
        else {
            // It comes with mosquitto, which Scripts/test installs.
            if ProcessInfo.processInfo.environment["CI"] == "true" { Issue.record("mosquitto_passwd is not installed") }
            return
        }
        let broker = try PrivateBroker(allowAnonymous: false)
        let passwordFile = broker.directory.appendingPathComponent("passwords").path
        try run(passwd, ["-c", "-b", passwordFile, "controller", "s3cret pass"])
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: passwordFile)
        broker.extraConfiguration = "password_file \(passwordFile)"
        try await broker.start()
        let names = TestNames()
        var anonymous = configuration(("127.0.0.1", broker.port), "anon-\(names.id)")
        anonymous.timeout = .seconds(5)
        let refused = try MosquittoClient(configuration: anonymous)
        let anonymousError = await #expect(throws: MQTTError.self) { try await refused.connect() }
        #expect(anonymousError?.description.contains("refused") == true, "\(String(describing: anonymousError))")
        var withPassword = anonymous
        withPassword.clientID = "auth-\(names.id)"
        withPassword.username = "controller"
        withPassword.password = "s3cret pass"
        let accepted = try MosquittoClient(configuration: withPassword)
        try await accepted.connect()
        #expect(accepted.isConnected)
        var wrong = withPassword
        wrong.clientID = "wrong-\(names.id)"
        wrong.password = "nope"
        let wrongClient = try MosquittoClient(configuration: wrong)
        let error = await #expect(throws: MQTTError.self) { try await wrongClient.connect() }
        #expect(error?.description.contains("refused") == true, "\(String(describing: error))")
        await accepted.shutdown()
        broker.stop()
    }

    /// R-MQTT.48: TLS with a CA the test makes; a client trusting another CA is refused.
    @Test func tlsWithAPrivateCA() async throws {
        guard try TestBroker.address() != nil else { return }
        // The certificates come from the openssl command line tool, which Scripts/test does not
        // install: without it this test does not run.
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") else { return }
        let broker = try PrivateBroker()
        let port = broker.port
        let directory = broker.directory.path
        try makeCertificates(in: directory)
        broker.extraConfiguration = """
            cafile \(directory)/ca.pem
            certfile \(directory)/server.pem
            keyfile \(directory)/server.key
            """
        try await broker.start()

        let names = TestNames()
        let fixture = Fixture(broker: ("127.0.0.1", port))
        var transportConfiguration = fixture.transportConfiguration()
        transportConfiguration.tls = MQTTTLSConfiguration(caFile: "\(directory)/ca.pem")
        let transport = try MQTTTransport(configuration: transportConfiguration, logger: testLogger("tls"))
        var agentConfiguration = configuration(("127.0.0.1", port), "agent-\(names.id)")
        agentConfiguration.tls = MQTTTLSConfiguration(caFile: "\(directory)/ca.pem")
        let agent = try MosquittoClient(configuration: agentConfiguration)
        try await agent.connect()
        try await withRunningTransport(transport) { events in
            try await events.wait(for: "link up over TLS") { $0.linkUps == 1 ? true : nil }
            try await agent.publish(
                [0x0A, 0x01], to: fixture.names.controllerTopic, qos: 1,
                properties: MQTTPublishProperties(contentType: "usp.msg", responseTopic: "tandem-test/\(names.id)/agent"))
            let record = try await events.wait(for: "a record over TLS") { $0.records.first }
            #expect(record.bytes == [0x0A, 0x01])
        }
        await agent.shutdown()

        // Trusting a different CA: the handshake fails and the connection is refused.
        var distrustful = configuration(("127.0.0.1", port), "distrust-\(names.id)")
        distrustful.tls = MQTTTLSConfiguration(caFile: "\(directory)/other-ca.pem")
        distrustful.timeout = .seconds(5)
        let refused = try MosquittoClient(configuration: distrustful)
        let tlsError = await #expect(throws: (any Error).self) { try await refused.connect() }
        #expect(tlsError.map { "\($0)".contains("TLS") } == true, "\(String(describing: tlsError))")
        #expect(!refused.isConnected)
        // Plain MQTT against the TLS listener does not get through either.
        var plain = configuration(("127.0.0.1", port), "plain-\(names.id)")
        plain.timeout = .seconds(3)
        let plainClient = try MosquittoClient(configuration: plain)
        let plainError = await #expect(throws: (any Error).self) { try await plainClient.connect() }
        #expect(plainError.map { "\($0)".contains("127.0.0.1:\(port)") } == true, "\(String(describing: plainError))")
        broker.stop()
    }

    private func makeCertificates(in directory: String) throws {
        let openssl = "/usr/bin/openssl"
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try run(openssl, ["req", "-x509"] + ec + ["-keyout", "\(directory)/ca.key", "-out", "\(directory)/ca.pem", "-days", "2", "-subj", "/CN=Tandem Test CA"])
        try run(
            openssl, ["req", "-x509"] + ec + ["-keyout", "\(directory)/other-ca.key", "-out", "\(directory)/other-ca.pem", "-days", "2", "-subj", "/CN=Other CA"])
        try run(openssl, ["req"] + ec + ["-keyout", "\(directory)/server.key", "-out", "\(directory)/server.csr", "-subj", "/CN=localhost"])
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\n".write(toFile: "\(directory)/ext.cnf", atomically: true, encoding: .utf8)
        try run(
            openssl,
            [
                "x509", "-req", "-in", "\(directory)/server.csr", "-CA", "\(directory)/ca.pem", "-CAkey", "\(directory)/ca.key",
                "-CAcreateserial", "-out", "\(directory)/server.pem", "-days", "2", "-extfile", "\(directory)/ext.cnf",
            ])
        for file in try FileManager.default.contentsOfDirectory(atPath: directory) {
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: "\(directory)/\(file)")
        }
    }

    private func run(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw MQTTError("\(executable) \(arguments.joined(separator: " ")) exited with \(process.terminationStatus)")
        }
    }
}
