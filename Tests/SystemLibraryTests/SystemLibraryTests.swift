import CLibXML2
import Foundation
import MTPMQTT
import Testing

/// The system libraries of the design card link and work: libxml2 (SOAP) and libmosquitto (MQTT).
@Suite struct SystemLibraryTests {
    @Test func libxml2ParsesWithoutNetworkOrEntities() throws {
        xmlInitParser()
        let xml = #"<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/></soap:Envelope>"#
        let options = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue)
        let document = try #require(xml.withCString { xmlReadMemory($0, Int32(strlen($0)), "envelope.xml", "UTF-8", options) })
        defer { xmlFreeDoc(document) }
        let root = try #require(xmlDocGetRootElement(document))
        #expect(String(cString: root.pointee.name) == "Envelope")
        #expect(String(cString: root.pointee.ns.pointee.href) == "http://schemas.xmlsoap.org/soap/envelope/")
        #expect(LIBXML_VERSION >= 20900)
    }

    @Test func libmosquittoLinks() {
        let version = MosquittoClient.libraryVersion
        #expect(version.major == 2)
    }
}

/// Needs the broker `Scripts/test` starts; its address comes in TANDEM_TEST_MQTT.
@Suite struct MosquittoBrokerTests {
    @Test(arguments: [MosquittoClient.ProtocolVersion.v5, .v311])
    func publishSubscribeRoundTripThroughTheBroker(version: MosquittoClient.ProtocolVersion) async throws {
        guard let broker = try TestBroker.address() else { return }
        let topic = "tandem-test/\(UUID().uuidString)"
        var subscriberConfiguration = MosquittoClient.Configuration(host: broker.host, port: broker.port, clientID: "sub-\(UUID().uuidString)")
        subscriberConfiguration.protocolVersion = version
        let subscriber = try MosquittoClient(configuration: subscriberConfiguration)
        try await subscriber.connect()
        try await subscriber.subscribe(topic)

        var publisherConfiguration = MosquittoClient.Configuration(host: broker.host, port: broker.port, clientID: "pub-\(UUID().uuidString)")
        publisherConfiguration.protocolVersion = version
        publisherConfiguration.connectUserProperties = [("usp-endpoint-id", "os::00D09E-1")]
        let publisher = try MosquittoClient(configuration: publisherConfiguration)
        try await publisher.connect()
        let payload: [UInt8] = [0x0A, 0x03, 0x31, 0x2E, 0x33, 0x00, 0xFF]
        try await publisher.publish(
            payload, to: topic, qos: 1,
            properties: MQTTPublishProperties(
                contentType: "usp.msg", responseTopic: "usp/agent/reply", userProperties: [("k1", "v1"), ("k2", "v2")]))

        var iterator = subscriber.messages.makeAsyncIterator()
        let message = try #require(await iterator.next())
        #expect(message.topic == topic)
        #expect(message.payload == payload)
        #expect(message.qos == 1)
        if version == .v5 {
            #expect(message.contentType == "usp.msg")
            #expect(message.responseTopic == "usp/agent/reply")
            #expect(message.userProperties.map { "\($0.0)=\($0.1)" } == ["k1=v1", "k2=v2"])
        } else {
            // MQTT 3.1.1 has no properties: nothing may leak through.
            #expect(message.contentType == nil)
            #expect(message.userProperties.isEmpty)
        }
        publisher.disconnect()
        subscriber.disconnect()
    }

    @Test func connectingToAClosedPortFailsClearly() async throws {
        guard try TestBroker.address() != nil else { return }
        // Port 1 on loopback is not a broker: the error must say where it tried.
        let client = try MosquittoClient(configuration: MosquittoClient.Configuration(host: "127.0.0.1", port: 1, clientID: "nobody"))
        await #expect {
            try await client.connect()
        } throws: { error in
            "\(error)".contains("127.0.0.1:1")
        }
    }
}

enum TestBroker {
    /// The broker from TANDEM_TEST_MQTT (`host:port`). Without it the test is skipped on a
    /// developer's machine but fails under CI (CI=true), where Scripts/test must have started one.
    static func address() throws -> (host: String, port: Int)? {
        let environment = ProcessInfo.processInfo.environment
        guard let value = environment["TANDEM_TEST_MQTT"], let colon = value.lastIndex(of: ":"),
            let port = Int(value[value.index(after: colon)...])
        else {
            if environment["CI"] == "true" {
                Issue.record("TANDEM_TEST_MQTT is not set: under CI, Scripts/test must start mosquitto and export it")
            }
            return nil
        }
        return (String(value[..<colon]), port)
    }
}
