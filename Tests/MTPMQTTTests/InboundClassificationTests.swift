import MTP
@testable import MTPMQTT
import Testing

/// How a received MQTT message becomes a record with its reply address (no broker needed).
@Suite struct InboundClassificationTests {
    let policy = MQTTTransport.InboundPolicy(
        maximumRecordBytes: 64, maximumTopicBytes: 128, ownTopics: ["usp/controller"], acceptMissingContentType: true)

    func message(
        topic: String = "usp/controller", payload: [UInt8] = [0x0A, 0x03], contentType: String? = "usp.msg", responseTopic: String? = nil,
        userProperties: [(String, String)] = []
    ) -> MQTTMessage {
        var message = MQTTMessage(topic: topic, payload: payload, qos: 1)
        message.contentType = contentType
        message.responseTopic = responseTopic
        message.userProperties = userProperties
        return message
    }

    @Test func mqtt5RecordTakesItsReplyAddressFromTheResponseTopic() throws {
        let result = MQTTTransport.classify(
            message(responseTopic: "usp/agents/a1", userProperties: [("other", "x"), ("usp-endpoint-id", "os::00D09E-1")]), policy: policy)
        let record = try result.get()
        #expect(record.bytes == [0x0A, 0x03])
        #expect(record.replyTo == MTPAddress(transport: "mqtt", destination: "usp/agents/a1", endpointID: "os::00D09E-1"))
    }

    @Test(arguments: ["usp.msg", "application/vnd.bbf.usp.msg", "Application/VND.BBF.USP.MSG"])
    func acceptsBothUSPContentTypes(contentType: String) throws {
        let record = try MQTTTransport.classify(message(contentType: contentType, responseTopic: "usp/agents/a1"), policy: policy).get()
        #expect(record.replyTo.destination == "usp/agents/a1")
        #expect(record.replyTo.endpointID == nil)
    }

    @Test func mqtt311RecordTakesItsReplyAddressFromTheTopicName() throws {
        let record = try MQTTTransport.classify(
            message(topic: "usp/controller/reply-to=usp%2Fagents%2Fa1", contentType: nil), policy: policy
        ).get()
        #expect(record.replyTo.destination == "usp/agents/a1")
    }

    @Test func theResponseTopicWinsOverTheTopicName() throws {
        let record = try MQTTTransport.classify(
            message(topic: "usp/controller/reply-to=usp%2Fagents%2Fold", responseTopic: "usp/agents/new"), policy: policy
        ).get()
        #expect(record.replyTo.destination == "usp/agents/new")
    }

    @Test func otherContentTypesAreDropped() {
        #expect(
            MQTTTransport.classify(message(contentType: "application/json", responseTopic: "usp/agents/a1"), policy: policy)
                == .failure(.contentType("application/json")))
        var strict = policy
        strict.acceptMissingContentType = false
        #expect(MQTTTransport.classify(message(contentType: nil, responseTopic: "usp/agents/a1"), policy: strict) == .failure(.contentType(nil)))
    }

    /// R-MQTT.31a (deprecated since USP 1.2): old agents report unprocessable records this way.
    @Test(arguments: ["usp.error", "application/vnd.bbf.usp.error"])
    func errorReportsAreNotRecords(contentType: String) {
        let report = Array("err_code:7100\nerr_msg:bad record".utf8)
        #expect(
            MQTTTransport.classify(message(payload: report, contentType: contentType, responseTopic: "usp/agents/a1"), policy: policy)
                == .failure(.errorReport("err_code:7100\nerr_msg:bad record")))
    }

    @Test func aRecordWithoutReplyAddressIsDropped() {
        #expect(MQTTTransport.classify(message(), policy: policy) == .failure(.noReplyAddress))
        #expect(MQTTTransport.classify(message(topic: "usp/controller/other", contentType: nil), policy: policy) == .failure(.noReplyAddress))
    }

    @Test func hostileReplyTopicsAreRefused() {
        #expect(MQTTTransport.classify(message(responseTopic: "usp/agents/+"), policy: policy) == .failure(.invalidReplyTopic(.wildcard)))
        #expect(MQTTTransport.classify(message(responseTopic: "#"), policy: policy) == .failure(.invalidReplyTopic(.wildcard)))
        #expect(
            MQTTTransport.classify(message(topic: "usp/controller/reply-to=%2Fusp%2F%2Fx", contentType: nil), policy: policy)
                == .failure(.invalidReplyTopic(.emptyLevel)))
        #expect(MQTTTransport.classify(message(responseTopic: "usp/controller"), policy: policy) == .failure(.invalidReplyTopic(.ownTopic)))
        #expect(
            MQTTTransport.classify(message(responseTopic: String(repeating: "x", count: 129)), policy: policy)
                == .failure(.invalidReplyTopic(.tooLong(bytes: 129, limit: 128))))
    }

    @Test func oversizeRecordsAreDropped() {
        #expect(
            MQTTTransport.classify(message(payload: Array(repeating: 1, count: 65), responseTopic: "usp/agents/a1"), policy: policy)
                == .failure(.oversize(bytes: 65)))
    }

    @Test func implausibleEndpointIDsAreIgnoredNotFatal() throws {
        for value in ["", "with space", "bell\u{7}", String(repeating: "e", count: 300)] {
            let record = try MQTTTransport.classify(
                message(responseTopic: "usp/agents/a1", userProperties: [("usp-endpoint-id", value)]), policy: policy
            ).get()
            #expect(record.replyTo.endpointID == nil)
        }
    }
}

extension Result where Success == InboundRecord, Failure == MQTTTransport.InboundDrop {
    static func == (lhs: Self, rhs: Self) -> Bool {
        switch (lhs, rhs) {
        case (.failure(let left), .failure(let right)): left == right
        case (.success(let left), .success(let right)): left.bytes == right.bytes && left.replyTo == right.replyTo
        default: false
        }
    }
}

/// Which topic filters the controller subscribes to after CONNACK (R-MQTT.15) and its reply topic (R-MQTT.21).
@Suite struct SubscriptionFilterTests {
    func transport(requestResponseInformation: Bool) throws -> MQTTTransport {
        var configuration = MQTTTransport.Configuration(host: "127.0.0.1", endpointID: "self::c", topic: "usp/controller")
        configuration.requestResponseInformation = requestResponseInformation
        return try MQTTTransport(configuration: configuration)
    }

    @Test func theControllerTopicForBothMQTTVersions() throws {
        let transport = try transport(requestResponseInformation: false)
        var connack = MQTTConnack(sessionPresent: false, clientID: "c")
        connack.responseInformation = "broker/given"  // not requested: ignored
        #expect(transport.subscriptionFilters(connack) == ["usp/controller", "usp/controller/+"])
        #expect(transport.replyTopic == "usp/controller")
    }

    @Test func theBrokersResponseInformationBecomesTheReplyTopic() throws {
        let transport = try transport(requestResponseInformation: true)
        var connack = MQTTConnack(sessionPresent: false, clientID: "c")
        connack.responseInformation = "broker/given/c"
        connack.userProperties = [("subscribe-topic", "usp/extra/#"), ("other", "x"), ("subscribe-topic", "usp/controller")]
        #expect(
            transport.subscriptionFilters(connack) == [
                "usp/controller", "usp/controller/+", "broker/given/c", "broker/given/c/+", "usp/extra/#",
            ])
        #expect(transport.replyTopic == "broker/given/c")
        // Records claiming either of the controller's topics as their reply address are refused.
        let policy = MQTTTransport.InboundPolicy(
            maximumRecordBytes: 100, maximumTopicBytes: 100, ownTopics: ["usp/controller", "broker/given/c"], acceptMissingContentType: true)
        var message = MQTTMessage(topic: "usp/controller", payload: [1], qos: 1)
        message.responseTopic = "broker/given/c"
        #expect(MQTTTransport.classify(message, policy: policy) == .failure(.invalidReplyTopic(.ownTopic)))
    }

    @Test func aWildcardResponseInformationIsIgnored() throws {
        let transport = try transport(requestResponseInformation: true)
        var connack = MQTTConnack(sessionPresent: false, clientID: "c")
        connack.responseInformation = "broker/+/c"
        #expect(transport.subscriptionFilters(connack) == ["usp/controller", "usp/controller/+"])
        #expect(transport.replyTopic == "usp/controller")
    }
}
