import Foundation
import Logging
import MTP
@testable import MTPMQTT
import ServiceLifecycle
import Testing

/// The controller's MQTT transport against the real mosquitto of `Scripts/test` (TANDEM_TEST_MQTT),
/// with a simulated agent that is a plain `MosquittoClient`.
@Suite(.timeLimit(.minutes(2))) struct MQTTTransportLiveTests {
    static let record: [UInt8] = [0x0A, 0x03, 0x31, 0x2E, 0x33, 0x12, 0x00, 0xFF, 0x80, 0x7F]
    static let answer: [UInt8] = [0x0A, 0x03, 0x31, 0x2E, 0x34, 0x00, 0x00, 0xFE]

    @Test func mqtt5RecordsBothWays() async throws {
        guard let broker = try TestBroker.address() else { return }
        let fixture = Fixture(broker: broker)
        let names = fixture.names
        let transport = try MQTTTransport(configuration: fixture.transportConfiguration(version: .v5), logger: testLogger("mqtt5"))
        // R-MQTT.13: the CONNECT carries the controller's endpoint ID as a user property.
        #expect(transport.client.configuration.connectUserProperties.map { "\($0.0)=\($0.1)" } == ["usp-endpoint-id=\(names.controllerEndpointID)"])
        #expect(transport.client.configuration.protocolVersion == .v5)
        let agent = try await fixture.agent(version: .v5)
        let agentMessages = Collector<MQTTMessage>()

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await agentMessages.consume(agent.messages) }
            try await withRunningTransport(transport) { events in
                try await events.wait(for: "link up") { $0.linkUps == 1 ? true : nil }

                // Agent → controller: content type, Response Topic and endpoint ID user property.
                try await agent.publish(
                    Self.record, to: names.controllerTopic, qos: 1,
                    properties: MQTTPublishProperties(
                        contentType: "usp.msg", responseTopic: names.agentTopic, userProperties: [("usp-endpoint-id", names.agentEndpointID)]))
                // R-MQTT.27a: the long content type is accepted too.
                try await agent.publish(
                    Self.answer, to: names.controllerTopic, qos: 1,
                    properties: MQTTPublishProperties(contentType: "application/vnd.bbf.usp.msg", responseTopic: names.agentTopic))
                let records = try await events.wait(for: "two records") { $0.records.count == 2 ? $0.records : nil }
                #expect(records[0].bytes == Self.record)
                #expect(records[0].replyTo == MTPAddress(transport: "mqtt", destination: names.agentTopic, endpointID: names.agentEndpointID))
                #expect(records[1].bytes == Self.answer)
                #expect(records[1].replyTo == MTPAddress(transport: "mqtt", destination: names.agentTopic, endpointID: nil))

                // Controller → agent, to the reply address it was given.
                try await transport.send(Self.answer, to: records[0].replyTo)
                let message = try await agentMessages.wait(for: "the controller's record") { $0.first }
                #expect(message.topic == names.agentTopic)
                #expect(message.payload == Self.answer)
                #expect(message.qos == 1)
                #expect(message.contentType == "usp.msg")  // R-MQTT.27
                #expect(message.responseTopic == names.controllerTopic)  // R-MQTT.23
                #expect(transport.statistics.recordsReceived == 2)
                #expect(transport.statistics.recordsSent == 1)
            }
            agent.disconnect()
            try await group.waitForAll()
        }
    }

    @Test func mqtt311RecordsBothWaysWithTheReplyToInTheTopic() async throws {
        guard let broker = try TestBroker.address() else { return }
        let fixture = Fixture(broker: broker)
        let names = fixture.names
        let transport = try MQTTTransport(configuration: fixture.transportConfiguration(version: .v311), logger: testLogger("mqtt311"))
        #expect(transport.client.configuration.protocolVersion == .v311)
        let agent = try await fixture.agent(version: .v311)
        let agentMessages = Collector<MQTTMessage>()
        let encodedAgentTopic = names.agentTopic.replacingOccurrences(of: "/", with: "%2F")
        let encodedControllerTopic = names.controllerTopic.replacingOccurrences(of: "/", with: "%2F")
        #expect(encodedAgentTopic.hasPrefix("tandem-test%2F"))

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await agentMessages.consume(agent.messages) }
            try await withRunningTransport(transport) { events in
                try await events.wait(for: "link up") { $0.linkUps == 1 ? true : nil }

                // R-MQTT.24: the agent appends its own topic, "/" written "%2F", to the controller's.
                try await agent.publish(Self.record, to: "\(names.controllerTopic)/reply-to=\(encodedAgentTopic)", qos: 1)
                let record = try await events.wait(for: "the agent's record") { $0.records.first }
                #expect(record.bytes == Self.record)
                #expect(record.replyTo == MTPAddress(transport: "mqtt", destination: names.agentTopic))

                // The controller answers to the decoded agent topic, appending its own reply-to.
                try await transport.send(Self.answer, to: record.replyTo)
                let message = try await agentMessages.wait(for: "the controller's record") { $0.first }
                #expect(message.topic == "\(names.agentTopic)/reply-to=\(encodedControllerTopic)")
                #expect(MQTTTopics.replyTo(inTopic: message.topic) == names.controllerTopic)
                #expect(message.payload == Self.answer)
                #expect(message.contentType == nil)
                #expect(message.responseTopic == nil)
            }
            agent.disconnect()
            try await group.waitForAll()
        }
    }

    /// An MQTT 5 controller still hears an MQTT 3.1.1 agent (it subscribes to `T/+` as well as `T`).
    @Test func mqtt5ControllerAcceptsAnMQTT311Agent() async throws {
        guard let broker = try TestBroker.address() else { return }
        let fixture = Fixture(broker: broker)
        let names = fixture.names
        let transport = try MQTTTransport(configuration: fixture.transportConfiguration(version: .v5), logger: testLogger("mixed"))
        let agent = try await fixture.agent(version: .v311)
        let agentMessages = Collector<MQTTMessage>()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await agentMessages.consume(agent.messages) }
            try await withRunningTransport(transport) { events in
                try await events.wait(for: "link up") { $0.linkUps == 1 ? true : nil }
                try await agent.publish(Self.record, to: MQTTTopics.topic(names.controllerTopic, withReplyTo: names.agentTopic), qos: 1)
                let record = try await events.wait(for: "the agent's record") { $0.records.first }
                #expect(record.replyTo.destination == names.agentTopic)
                try await transport.send(Self.answer, to: record.replyTo)
                let message = try await agentMessages.wait(for: "the controller's record") { $0.first }
                #expect(message.topic == names.agentTopic)
                #expect(message.payload == Self.answer)
            }
            agent.disconnect()
            try await group.waitForAll()
        }
    }

    @Test func wrongContentTypesAndErrorReportsAreDropped() async throws {
        guard let broker = try TestBroker.address() else { return }
        let fixture = Fixture(broker: broker)
        let names = fixture.names
        let transport = try MQTTTransport(configuration: fixture.transportConfiguration(), logger: testLogger("content-type"))
        let agent = try await fixture.agent()
        try await withRunningTransport(transport) { events in
            try await events.wait(for: "link up") { $0.linkUps == 1 ? true : nil }
            for contentType in ["application/json", "text/plain", "usp.msg.evil"] {
                try await agent.publish(
                    [1, 2, 3], to: names.controllerTopic, qos: 1,
                    properties: MQTTPublishProperties(contentType: contentType, responseTopic: names.agentTopic))
            }
            try await agent.publish(
                Array("err_code:7100\nerr_msg:cannot parse".utf8), to: names.controllerTopic, qos: 1,
                properties: MQTTPublishProperties(contentType: "application/vnd.bbf.usp.error", responseTopic: names.agentTopic))
            // No reply address at all: neither a Response Topic nor /reply-to=.
            try await agent.publish([4, 5, 6], to: names.controllerTopic, qos: 1, properties: MQTTPublishProperties(contentType: "usp.msg"))
            // A good record after them: only it comes through (QoS 1 from one publisher arrives in order).
            try await agent.publish(
                Self.record, to: names.controllerTopic, qos: 1,
                properties: MQTTPublishProperties(contentType: "usp.msg", responseTopic: names.agentTopic))
            let records = try await events.wait(for: "the good record") { $0.records.isEmpty ? nil : $0.records }
            #expect(records.map(\.bytes) == [Self.record])
            let statistics = transport.statistics
            #expect(statistics.droppedContentType == 3)
            #expect(statistics.errorReports == 1)
            #expect(statistics.droppedNoReplyAddress == 1)
            #expect(statistics.recordsReceived == 1)
        }
        agent.disconnect()
    }

    @Test(arguments: [MosquittoClient.ProtocolVersion.v5, .v311])
    func hostileReplyTopicsAreRefusedAndNeverPublishedTo(version: MosquittoClient.ProtocolVersion) async throws {
        guard let broker = try TestBroker.address() else { return }
        let fixture = Fixture(broker: broker)
        let names = fixture.names
        let transport = try MQTTTransport(configuration: fixture.transportConfiguration(version: version), logger: testLogger("hostile"))
        let agent = try await fixture.agent(version: version)
        // A spy on everything under the test's prefix would see any publication to a hostile topic.
        var spyConfiguration = MosquittoClient.Configuration(host: broker.host, port: broker.port, clientID: "spy-\(names.id)")
        spyConfiguration.protocolVersion = .v5
        let spy = try MosquittoClient(configuration: spyConfiguration)
        try await spy.connect()
        try await spy.subscribe("tandem-test/\(names.id)/#")
        let spied = Collector<MQTTMessage>()

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await spied.consume(spy.messages) }
            try await withRunningTransport(transport) { events in
                try await events.wait(for: "link up") { $0.linkUps == 1 ? true : nil }
                let prefix = "tandem-test/\(names.id)"
                let hostile = ["\(prefix)/agents/+", "\(prefix)/#", "/\(prefix)/x", "\(prefix)//x", "\(prefix)/x/", names.controllerTopic]
                for topic in hostile {
                    switch version {
                    case .v5:
                        // MQTT 5: the broker passes a wildcard Response Topic through untouched.
                        try await agent.publish(
                            [9], to: names.controllerTopic, qos: 1, properties: MQTTPublishProperties(contentType: "usp.msg", responseTopic: topic))
                    case .v311:
                        // MQTT 3.1.1: a wildcard cannot be in a topic name, but encoded empty levels can.
                        guard !topic.contains("+") && !topic.contains("#") else { continue }
                        try await agent.publish([9], to: MQTTTopics.topic(names.controllerTopic, withReplyTo: topic), qos: 1)
                    }
                }
                try await agent.publish(
                    Self.record, to: MQTTTopics.topic(names.controllerTopic, withReplyTo: names.agentTopic), qos: 1,
                    properties: MQTTPublishProperties(contentType: "usp.msg", responseTopic: names.agentTopic))
                let records = try await events.wait(for: "the good record") { $0.records.isEmpty ? nil : $0.records }
                #expect(records.map(\.bytes) == [Self.record])
                #expect(transport.statistics.droppedInvalidReplyTopic == (version == .v5 ? hostile.count : hostile.count - 2))

                // And the engine cannot make the transport publish to one either.
                for topic in hostile + ["x\u{0}y", String(repeating: "a", count: 2000), "$SYS/x"] {
                    await #expect(throws: MQTTTransportError.self) {
                        try await transport.send(Self.answer, to: MTPAddress(transport: "mqtt", destination: topic))
                    }
                }
                await #expect(throws: MQTTTransportError.self) {
                    try await transport.send(Self.answer, to: MTPAddress(transport: "websocket", destination: names.agentTopic))
                }
                // Nothing but the agent's own publications went out under the prefix.
                try await Task.sleep(for: .milliseconds(200))
                #expect(transport.statistics.recordsSent == 0)
                let spiedTopics = spied.elements.map(\.topic)
                #expect(spiedTopics.allSatisfy { $0.hasPrefix(names.controllerTopic) }, "\(spiedTopics)")
            }
            agent.disconnect()
            spy.disconnect()
            try await group.waitForAll()
        }
    }

    @Test func oversizeRecordsAreDroppedAndCounted() async throws {
        guard let broker = try TestBroker.address() else { return }
        let fixture = Fixture(broker: broker)
        let names = fixture.names
        var configuration = fixture.transportConfiguration()
        configuration.maximumInboundRecordBytes = 1000
        configuration.maximumOutboundRecordBytes = 1000
        let transport = try MQTTTransport(configuration: configuration, logger: testLogger("oversize"))
        let agent = try await fixture.agent()
        let properties = MQTTPublishProperties(contentType: "usp.msg", responseTopic: names.agentTopic)
        try await withRunningTransport(transport) { events in
            try await events.wait(for: "link up") { $0.linkUps == 1 ? true : nil }
            try await agent.publish(Array(repeating: 0x41, count: 1001), to: names.controllerTopic, qos: 1, properties: properties)
            try await agent.publish(Array(repeating: 0x42, count: 1000), to: names.controllerTopic, qos: 1, properties: properties)
            let records = try await events.wait(for: "the record at the limit") { $0.records.isEmpty ? nil : $0.records }
            #expect(records.map(\.bytes.count) == [1000])
            #expect(transport.statistics.droppedOversize == 1)
            await #expect(throws: MQTTTransportError.self) {
                try await transport.send(Array(repeating: 0, count: 1001), to: records[0].replyTo)
            }
        }
        agent.disconnect()
    }

    /// A second client with the controller's client ID makes the broker drop the controller (session
    /// takeover); the transport reconnects, subscribes again, and QoS 1 records flow again.
    @Test(arguments: [MosquittoClient.ProtocolVersion.v5, .v311])
    func reconnectsAfterTheBrokerDropsTheConnection(version: MosquittoClient.ProtocolVersion) async throws {
        guard let broker = try TestBroker.address() else { return }
        let fixture = Fixture(broker: broker)
        let names = fixture.names
        let configuration = fixture.transportConfiguration(version: version)
        let transport = try MQTTTransport(configuration: configuration, logger: testLogger("takeover"))
        let agent = try await fixture.agent(version: version)
        let agentMessages = Collector<MQTTMessage>()
        let properties = MQTTPublishProperties(contentType: "usp.msg", responseTopic: names.agentTopic)
        let topic = version == .v5 ? names.controllerTopic : MQTTTopics.topic(names.controllerTopic, withReplyTo: names.agentTopic)

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await agentMessages.consume(agent.messages) }
            try await withRunningTransport(transport) { events in
                try await events.wait(for: "link up") { $0.linkUps == 1 ? true : nil }

                var intruderConfiguration = MosquittoClient.Configuration(host: broker.host, port: broker.port, clientID: configuration.clientID)
                intruderConfiguration.protocolVersion = version
                let intruder = try MosquittoClient(configuration: intruderConfiguration)
                // The transport may take its client ID back so fast that the intruder is dropped
                // right after its CONNACK: that is the behaviour under test, not a failure.
                _ = try? await intruder.connect()
                let reason = try await events.wait(for: "link down") { $0.linkDowns.first }
                #expect(!reason.isEmpty)
                // The transport comes back (taking its client ID back from the intruder) and re-subscribes.
                try await events.wait(for: "link up again") { $0.linkUps == 2 ? true : nil }
                #expect(transport.isLinkUp)
                _ = try? await intruder.waitForDisconnection()
                intruder.disconnect()

                try await agent.publish(Self.record, to: topic, qos: 1, properties: properties)
                let record = try await events.wait(for: "a record after reconnection") { $0.records.first }
                #expect(record.bytes == Self.record)
                #expect(record.replyTo.destination == names.agentTopic)
                try await transport.send(Self.answer, to: record.replyTo)
                let message = try await agentMessages.wait(for: "the controller's record after reconnection") { $0.first }
                #expect(message.payload == Self.answer)
                #expect(transport.statistics.linkUps == 2)
                #expect(transport.statistics.linkDowns == 1)
            }
            agent.disconnect()
            try await group.waitForAll()
        }
    }

    /// The broker goes away and comes back on the same port: link down, clear errors while down,
    /// backoff retries against a closed port, link up, subscriptions restored, QoS 1 both ways.
    @Test func reconnectsAfterTheBrokerRestarts() async throws {
        guard try TestBroker.address() != nil else { return }
        guard PrivateBroker.executable != nil else {
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                Issue.record("mosquitto is not installed: the restart test needs its own broker")
            }
            return
        }
        let privateBroker = try PrivateBroker()
        try await privateBroker.start()
        let fixture = Fixture(broker: ("127.0.0.1", privateBroker.port))
        let names = fixture.names
        let transport = try MQTTTransport(configuration: fixture.transportConfiguration(), logger: testLogger("restart"))
        let properties = MQTTPublishProperties(contentType: "usp.msg", responseTopic: names.agentTopic)

        try await withRunningTransport(transport) { events in
            try await events.wait(for: "link up") { $0.linkUps == 1 ? true : nil }

            privateBroker.stop()
            try await events.wait(for: "link down") { $0.linkDowns.isEmpty ? nil : true }
            #expect(!transport.isLinkUp)
            let error = await #expect(throws: MQTTTransportError.self) {
                try await transport.send(Self.answer, to: MTPAddress(transport: "mqtt", destination: names.agentTopic))
            }
            guard case .notConnected = error else {
                Issue.record("expected notConnected, got \(String(describing: error))")
                return
            }
            #expect("\(error!)".contains("is down"))
            // Let a few attempts fail against the closed port, then bring the broker back.
            try await Task.sleep(for: .milliseconds(600))
            #expect(events.elements.linkUps == 1)
            #expect(events.elements.linkDowns.count == 1, "failed attempts while down are not reported again")
            try await privateBroker.start()
            try await events.wait(for: "link up after the restart") { $0.linkUps == 2 ? true : nil }

            let agent = try await fixture.agent()
            let agentMessages = Collector<MQTTMessage>()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await agentMessages.consume(agent.messages) }
                try await agent.publish(Self.record, to: names.controllerTopic, qos: 1, properties: properties)
                let record = try await events.wait(for: "a record after the restart") { $0.records.first }
                #expect(record.bytes == Self.record)
                try await transport.send(Self.answer, to: record.replyTo)
                let message = try await agentMessages.wait(for: "the answer after the restart") { $0.first }
                #expect(message.payload == Self.answer)
                agent.disconnect()
                try await group.waitForAll()
            }
        }
    }

    /// R-MQTT.12/21: the controller can ask for Response Information; mosquitto gives none, so the
    /// configured topic stays the reply topic (with Response Information it would be used instead).
    @Test func requestingResponseInformation() async throws {
        guard let broker = try TestBroker.address() else { return }
        let fixture = Fixture(broker: broker)
        var configuration = fixture.transportConfiguration()
        configuration.requestResponseInformation = true
        let transport = try MQTTTransport(configuration: configuration, logger: testLogger("response-information"))
        #expect(transport.client.configuration.requestResponseInformation)
        try await withRunningTransport(transport) { events in
            try await events.wait(for: "link up") { $0.linkUps == 1 ? true : nil }
            let connack = try #require(transport.client.lastConnack)
            #expect(transport.replyTopic == connack.responseInformation ?? fixture.names.controllerTopic)
        }
    }

    @Test func gracefulShutdownEndsRun() async throws {
        guard let broker = try TestBroker.address() else { return }
        let fixture = Fixture(broker: broker)
        let transport = try MQTTTransport(configuration: fixture.transportConfiguration(), logger: testLogger("shutdown"))
        let group = ServiceGroup(services: [transport], logger: testLogger("group"))
        let events = Collector<TransportEvent>()
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            tasks.addTask { await events.consume(transport.events) }
            try await events.wait(for: "link up") { $0.linkUps == 1 ? true : nil }
            await group.triggerGracefulShutdown()
            // run() returns (the group's run finishes) and the event stream ends.
            try await events.waitUntilFinished()
            try await tasks.waitForAll()
        }
        #expect(!transport.isLinkUp)
        #expect(events.elements.linkDowns == ["the transport is shutting down"])
    }

    @Test func cancellationEndsRunEvenWhileTheBrokerIsUnreachable() async throws {
        let port = try freePort()  // nobody listens there
        var configuration = MQTTTransport.Configuration(host: "127.0.0.1", port: port, endpointID: "self::c", topic: "usp/c")
        configuration.backoff = ReconnectBackoff(initial: .milliseconds(20), maximum: .milliseconds(50))
        let transport = try MQTTTransport(configuration: configuration, logger: testLogger("unreachable"))
        let started = ContinuousClock.now
        try await withRunningTransport(transport) { events in
            let reason = try await events.wait(for: "the first failure") { $0.linkDowns.first }
            #expect(reason.contains("127.0.0.1:\(port)"))
            await #expect(throws: MQTTTransportError.self) {
                try await transport.send([1], to: MTPAddress(transport: "mqtt", destination: "usp/agent"))
            }
            try await Task.sleep(for: .milliseconds(300))
            #expect(events.elements.linkDowns.count == 1)
            #expect(events.elements.linkUps == 0)
        }
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test func badConfigurationsFailAtOnce() throws {
        #expect(throws: MQTTError.self) {
            try MQTTTransport(configuration: MQTTTransport.Configuration(host: "h", endpointID: "self::c", topic: "usp/+"))
        }
        #expect(throws: MQTTError.self) {
            try MQTTTransport(configuration: MQTTTransport.Configuration(host: "h", endpointID: "", topic: "usp/c"))
        }
        var tls = MQTTTransport.Configuration(host: "h", port: 8883, endpointID: "self::c", topic: "usp/c")
        tls.tls = MQTTTLSConfiguration(caFile: "/nonexistent/ca.pem")
        let error = #expect(throws: MQTTError.self) {
            try MQTTTransport(configuration: tls)
        }
        #expect(error?.description.contains("/nonexistent/ca.pem") == true)
        // MQTT 3.1.1 without a client ID uses the endpoint ID (R-MQTT.8).
        var v311 = MQTTTransport.Configuration(host: "h", endpointID: "os::00D09E-42", topic: "usp/c")
        v311.protocolVersion = .v311
        #expect(try MQTTTransport(configuration: v311).client.configuration.clientID == "os::00D09E-42")
    }
}
