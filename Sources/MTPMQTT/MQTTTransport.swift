import Logging
import MTP
import ServiceLifecycle
import Synchronization

/// The USP MQTT MTP for the controller (TR-369 MQTT binding), over `MosquittoClient`.
///
/// `run()` connects to the broker, subscribes to the controller's topic, and keeps the link up: when the
/// connection is lost (libmosquitto's disconnect callback) it emits `.linkDown`, waits per
/// `configuration.backoff` (exponential, jittered; R-MQTT.10/33), connects again with the same client ID
/// (R-MQTT.11), resuming its session so that QoS 1 records published meanwhile are delivered
/// (`sessionExpirySeconds`), subscribes again and emits `.linkUp`. libmosquitto's own reconnect is not used. `run()`
/// returns on graceful shutdown or cancellation, after sending DISCONNECT (R-MQTT.35).
///
/// Subscriptions: the controller topic `T` (where MQTT 5 agents publish, Response Topic in a property)
/// and `T/+` (where MQTT 3.1.1 agents publish, as `T/reply-to=<their topic, / as %2F>`, R-MQTT.24),
/// whichever version the controller itself speaks; the same two for the broker's Response Information
/// topic when one was requested and given (R-MQTT.12/21), and every CONNACK `subscribe-topic` (R-MQTT.15).
///
/// Inbound records become `.record` events whose `replyTo` names the agent's topic. Records are dropped,
/// logged and counted when too large, of another content type (R-MQTT.27a), without a usable reply
/// address, or when the reply address is hostile (wildcards, empty levels, NUL, control characters,
/// `$` topics, over-long, or the controller's own topic): nothing is ever published to such a topic.
public final class MQTTTransport: MessageTransport {
    /// What the transport needs to reach the broker and speak USP over it.
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var tls: MQTTTLSConfiguration?
        /// R-MQTT.7.
        public var username: String?
        public var password: String?
        /// The MQTT ClientId. Empty: MQTT 5 lets the broker assign one and keeps it (R-MQTT.8/9);
        /// MQTT 3.1.1 uses the endpoint ID (R-MQTT.8).
        public var clientID = ""
        /// MQTT 5.0 (R-MQTT.1) or 3.1.1 (R-MQTT.2).
        public var protocolVersion: MosquittoClient.ProtocolVersion = .v5
        /// The controller's USP endpoint ID, sent as the `usp-endpoint-id` CONNECT user property (R-MQTT.13).
        public var endpointID: String
        /// The controller's topic: subscribed to, and the "reply to" of every record it sends (R-MQTT.22).
        public var topic: String
        /// R-MQTT.14.
        public var keepAliveSeconds = 30
        /// How long the broker keeps the controller's session after the link drops (MQTT 5 Session
        /// Expiry Interval, 3.1.2.11.2): its subscriptions and the QoS 1 records agents publish to it
        /// meanwhile (MQTT 5 4.1). Reconnections resume the session (Clean Start 0 with the same client
        /// ID, R-MQTT.11), so those records arrive once the link is back. 0: every connection starts a
        /// fresh session and what was published while the link was down is lost. MQTT 3.1.1 has no
        /// expiry: non-zero keeps the session (Clean Session 0) as long as the broker's own limit.
        public var sessionExpirySeconds: UInt32 = 3600
        /// Waits between connection attempts.
        public var backoff = ReconnectBackoff()
        /// Limit for the TCP connect plus CONNACK, for each SUBACK and each PUBACK.
        public var operationTimeout: Duration = .seconds(10)
        /// Larger inbound records are dropped before they are copied.
        public var maximumInboundRecordBytes = 1 << 20
        /// `send` refuses larger records.
        public var maximumOutboundRecordBytes = 1 << 20
        /// Longest reply topic accepted from an agent.
        public var maximumTopicBytes = 1024
        /// MQTT 5: ask for Response Information (R-MQTT.12) and, when the broker gives it, use it as
        /// the "reply to" topic (R-MQTT.21) and subscribe to it.
        public var requestResponseInformation = false
        /// Accept records that carry no Content Type (MQTT 3.1.1 senders cannot set one; some MQTT 5
        /// agents omit it). A Content Type that is present must be a USP one either way.
        public var acceptMissingContentType = true
        /// Events not yet read from `events`; beyond this the oldest are dropped (and counted).
        public var eventBufferLimit = 10_000

        public init(host: String, port: Int = 1883, endpointID: String, topic: String) {
            self.host = host
            self.port = port
            self.endpointID = endpointID
            self.topic = topic
        }
    }

    /// Content Type of records the controller sends (R-MQTT.27).
    public static let contentType = "usp.msg"
    /// Content Types accepted on records received (R-MQTT.27a).
    public static let acceptedContentTypes: Set<String> = ["usp.msg", "application/vnd.bbf.usp.msg"]
    /// Content Types of an agent's report that it could not process a record (R-MQTT.31a, deprecated
    /// since USP 1.2, which reports errors in USP Records instead; older agents still send them).
    public static let errorContentTypes: Set<String> = ["usp.error", "application/vnd.bbf.usp.error"]
    /// The MQTT user property naming a USP endpoint (R-MQTT.13).
    public static let endpointIDProperty = "usp-endpoint-id"

    public let name = "mqtt"
    public let events: AsyncStream<TransportEvent>
    public let configuration: Configuration

    /// Internal for tests (the CONNECT properties it was given).
    let client: MosquittoClient
    private let logger: Logger
    private let eventContinuation: AsyncStream<TransportEvent>.Continuation
    private let state: Mutex<LinkState>

    private struct LinkState {
        var up = false
        /// Down was already reported since the last `.linkUp` (or since start).
        var downReported = false
        /// The "reply to" topic of this connection: the configured topic or the broker's Response Information.
        var replyTopic: String
        /// Topics that must never be a destination (they are the controller's own).
        var ownTopics: [String]
        var statistics = MQTTTransportStatistics()
        /// `receiveRecords` waiting for the link to come up (see there).
        var upWaiter: CheckedContinuation<Void, Never>?

        /// The waiting `receiveRecords`, if any, to resume outside the lock.
        mutating func takeUpWaiter() -> CheckedContinuation<Void, Never>? {
            defer { upWaiter = nil }
            return upWaiter
        }

        init(topic: String) {
            replyTopic = topic
            ownTopics = [topic]
        }
    }

    public init(configuration: Configuration, logger: Logger = Logger(label: "tandem.mtp.mqtt")) throws {
        guard !configuration.endpointID.isEmpty else { throw MQTTError("MQTT transport: the controller endpoint ID is empty") }
        if let problem = MQTTTopics.problem(withDestination: configuration.topic, maximumBytes: 65535) {
            throw MQTTError("MQTT transport: the controller topic \"\(configuration.topic)\" is unusable: \(problem)")
        }
        self.configuration = configuration
        self.logger = logger
        state = Mutex(LinkState(topic: configuration.topic))
        var clientConfiguration = MosquittoClient.Configuration(
            host: configuration.host, port: configuration.port,
            clientID: configuration.clientID.isEmpty && configuration.protocolVersion == .v311 ? configuration.endpointID : configuration.clientID)
        clientConfiguration.protocolVersion = configuration.protocolVersion
        clientConfiguration.keepAliveSeconds = configuration.keepAliveSeconds
        if configuration.sessionExpirySeconds > 0 {
            clientConfiguration.resumeSession = true
            if configuration.protocolVersion == .v5 { clientConfiguration.sessionExpirySeconds = configuration.sessionExpirySeconds }
        }
        clientConfiguration.connectUserProperties = [(Self.endpointIDProperty, configuration.endpointID)]  // R-MQTT.13
        clientConfiguration.requestResponseInformation = configuration.requestResponseInformation
        clientConfiguration.username = configuration.username
        clientConfiguration.password = configuration.password
        clientConfiguration.tls = configuration.tls
        clientConfiguration.timeout = configuration.operationTimeout
        clientConfiguration.maximumInboundPayloadBytes = configuration.maximumInboundRecordBytes
        client = try MosquittoClient(configuration: clientConfiguration)
        (events, eventContinuation) = AsyncStream.makeStream(
            of: TransportEvent.self, bufferingPolicy: .bufferingNewest(max(1, configuration.eventBufferLimit)))
    }

    /// Whether the link is up: connected and subscribed (R-MQTT.17: only then may records be published).
    public var isLinkUp: Bool { state.withLock { $0.up } }

    /// The topic agents should answer to (the controller topic, or the broker's Response Information).
    public var replyTopic: String { state.withLock { $0.replyTopic } }

    /// Counters since the transport was made.
    public var statistics: MQTTTransportStatistics {
        let client = self.client.statistics
        return state.withLock { state in
            var statistics = state.statistics
            statistics.droppedOversize += client.droppedOversize
            statistics.droppedBufferFull = client.droppedBufferFull
            return statistics
        }
    }

    // MARK: Service

    /// Keeps the link up until graceful shutdown or cancellation, then sends DISCONNECT and finishes
    /// `events`. Run it once: the transport cannot be restarted.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.receiveRecords() }
                group.addTask { await self.keepConnected() }
            }
        }
        let wasUp = state.withLock { state -> Bool in
            defer { state.up = false }
            return state.up
        }
        if wasUp { emit(.linkDown(reason: "the transport is shutting down")) }
        await client.shutdown()  // DISCONNECT (R-MQTT.35)
        logger.info("MQTT transport stopped", metadata: ["broker": "\(configuration.host):\(configuration.port)"])
        eventContinuation.finish()
    }

    /// Connects, subscribes, waits for a loss, backs off, again, until cancelled.
    private func keepConnected() async {
        let broker = "\(configuration.host):\(configuration.port)"
        var attempt = 0
        while !Task.isCancelled {
            do {
                let connack = try await client.connect()
                let filters = subscriptionFilters(connack)
                for filter in filters {
                    try await client.subscribe(filter, qos: 1)
                }
                let waiter = state.withLock { state in
                    state.up = true
                    state.downReported = false
                    state.statistics.linkUps += 1
                    return state.takeUpWaiter()
                }
                attempt = 0
                logger.info(
                    "MQTT link up",
                    metadata: [
                        "broker": "\(broker)", "clientID": "\(connack.clientID)", "subscriptions": "\(filters)",
                        "sessionResumed": "\(connack.sessionPresent)",
                    ])
                emit(.linkUp)
                waiter?.resume()
                let loss = try await client.waitForDisconnection()
                guard !Task.isCancelled else { break }
                state.withLock { state in
                    state.up = false
                    state.downReported = true
                    state.statistics.linkDowns += 1
                }
                logger.warning("MQTT link down, reconnecting", metadata: ["broker": "\(broker)", "reason": "\(loss)"])
                emit(.linkDown(reason: loss.description))
            } catch {
                guard !Task.isCancelled else { break }
                // R-MQTT.17: without its subscriptions the controller must not publish: drop the connection.
                await client.closeConnection()
                let report = state.withLock { state -> Bool in
                    let wasUp = state.up
                    state.up = false
                    defer { state.downReported = true }
                    if wasUp { state.statistics.linkDowns += 1 }
                    return wasUp || !state.downReported
                }
                logger.warning("MQTT connection attempt failed", metadata: ["broker": "\(broker)", "error": "\(error)", "attempt": "\(attempt)"])
                if report { emit(.linkDown(reason: "\(error)")) }
            }
            let delay = configuration.backoff.delay(attempt: attempt)
            attempt += 1
            logger.debug("MQTT reconnect wait", metadata: ["broker": "\(broker)", "delay": "\(delay)"])
            do { try await Task.sleep(for: delay) } catch { break }
        }
    }

    /// R-MQTT.15 for the controller: its topic(s), for MQTT 5 and MQTT 3.1.1 agents, and `subscribe-topic`s.
    /// Also settles this connection's reply topic. Internal for tests.
    func subscriptionFilters(_ connack: MQTTConnack) -> [String] {
        var replyTopic = configuration.topic
        if configuration.requestResponseInformation, let information = connack.responseInformation {
            if let problem = MQTTTopics.problem(withDestination: information, maximumBytes: 65535) {
                logger.warning("ignoring the broker's Response Information", metadata: ["topic": "\(information)", "problem": "\(problem)"])
            } else {
                replyTopic = information  // R-MQTT.21
            }
        }
        var own = [configuration.topic]
        if replyTopic != configuration.topic { own.append(replyTopic) }
        var filters: [String] = []
        for topic in own {
            filters.append(topic)  // MQTT 5 agents: Response Topic property
            filters.append(topic + "/+")  // MQTT 3.1.1 agents: T/reply-to=<encoded topic> (R-MQTT.24)
        }
        for topic in connack.subscribeTopics where !filters.contains(topic) {
            filters.append(topic)
        }
        state.withLock { state in
            state.replyTopic = replyTopic
            state.ownTopics = own
        }
        return filters
    }

    // MARK: Inbound

    /// Turns received messages into `.record` events. A record is passed on only while the link is up:
    /// a resumed session delivers what the broker queued right after CONNACK, before the subscriptions
    /// are renewed, and the answer to such a record (a NotifyResp) may be published only once they are
    /// (R-MQTT.17); so records wait here, in order, until the link is up.
    private func receiveRecords() async {
        for await message in client.messages {
            await waitForLinkUp()
            if Task.isCancelled { break }
            let ownTopics = state.withLock { $0.ownTopics }
            let policy = InboundPolicy(
                maximumRecordBytes: configuration.maximumInboundRecordBytes, maximumTopicBytes: configuration.maximumTopicBytes,
                ownTopics: ownTopics, acceptMissingContentType: configuration.acceptMissingContentType)
            switch Self.classify(message, policy: policy) {
            case .success(let record):
                state.withLock { $0.statistics.recordsReceived += 1 }
                emit(.record(record))
            case .failure(let drop):
                state.withLock { $0.statistics.count(drop) }
                if case .errorReport(let text) = drop {
                    // R-MQTT.31a (deprecated): the agent could not process one of our records.
                    logger.warning("MQTT USP error report from an agent", metadata: ["topic": "\(message.topic)", "report": "\(text)"])
                } else {
                    logger.notice("MQTT message dropped", metadata: ["topic": "\(message.topic)", "reason": "\(drop)"])
                }
            }
        }
    }

    /// Returns once the link is up, or the task is cancelled.
    private func waitForLinkUp() async {
        // The common case, every record while the link is up: no continuation.
        if state.withLock({ $0.up }) { return }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state -> Bool in
                    guard !state.up, !Task.isCancelled else { return true }
                    state.upWaiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.takeUpWaiter() }?.resume()
        }
    }

    private func emit(_ event: TransportEvent) {
        if case .dropped = eventContinuation.yield(event) {
            state.withLock { $0.statistics.droppedEventBufferFull += 1 }
        }
    }

    /// What an inbound message must satisfy.
    struct InboundPolicy: Sendable {
        var maximumRecordBytes: Int
        var maximumTopicBytes: Int
        var ownTopics: [String]
        var acceptMissingContentType: Bool
    }

    /// Turns a received MQTT message into a record with its reply address, or says why not.
    static func classify(_ message: MQTTMessage, policy: InboundPolicy) -> Result<InboundRecord, InboundDrop> {
        if message.payload.count > policy.maximumRecordBytes { return .failure(.oversize(bytes: message.payload.count)) }
        if let contentType = message.contentType {
            let normalized = contentType.lowercased()
            if errorContentTypes.contains(normalized) {
                return .failure(.errorReport(String(decoding: message.payload.prefix(512), as: UTF8.self)))
            }
            // R-MQTT.27a: `usp.msg` or `application/vnd.bbf.usp.msg`.
            guard acceptedContentTypes.contains(normalized) else { return .failure(.contentType(contentType)) }
        } else if !policy.acceptMissingContentType {
            return .failure(.contentType(nil))
        }
        // R-MQTT.26: MQTT 5 Response Topic; else R-MQTT.25: after the last "/reply-to=" of the topic name.
        guard let replyTopic = message.responseTopic ?? MQTTTopics.replyTo(inTopic: message.topic) else {
            return .failure(.noReplyAddress)
        }
        if let problem = MQTTTopics.problem(withDestination: replyTopic, maximumBytes: policy.maximumTopicBytes, ownTopics: policy.ownTopics) {
            return .failure(.invalidReplyTopic(problem))
        }
        let endpointID = message.userProperties.first { $0.0 == endpointIDProperty }.map(\.1).flatMap(validEndpointID)
        return .success(InboundRecord(bytes: message.payload, replyTo: MTPAddress(transport: "mqtt", destination: replyTopic, endpointID: endpointID)))
    }

    /// An endpoint ID from the network, when it is plausible (TR-369 endpoint IDs are short printable text).
    static func validEndpointID(_ value: String) -> String? {
        guard (1...256).contains(value.utf8.count) else { return nil }
        guard value.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F && !(0x80...0x9F).contains($0.value) }) else { return nil }
        return value
    }

    /// Why an inbound message did not become a record.
    enum InboundDrop: Error, Equatable, CustomStringConvertible {
        case oversize(bytes: Int)
        case contentType(String?)
        case errorReport(String)
        case noReplyAddress
        case invalidReplyTopic(MQTTTopicProblem)

        var description: String {
            switch self {
            case .oversize(let bytes): "the record is \(bytes) bytes, over the limit"
            case .contentType(let type): "content type \(type.map { "\"\($0)\"" } ?? "missing") is not a USP record"
            case .errorReport: "a USP error report"
            case .noReplyAddress: "no reply address (neither a Response Topic nor /reply-to= in the topic)"
            case .invalidReplyTopic(let problem): "unusable reply topic: \(problem)"
            }
        }
    }

    // MARK: Outbound

    /// Publishes `record` QoS 1 to the agent topic `destination.destination` and waits for PUBACK.
    /// MQTT 5: Content Type `usp.msg` (R-MQTT.27), Response Topic = the controller's reply topic
    /// (R-MQTT.23). MQTT 3.1.1: the reply topic is appended to the topic name (R-MQTT.24).
    public func send(_ record: [UInt8], to destination: MTPAddress) async throws {
        guard destination.transport == name else {
            throw MQTTTransportError.wrongTransport(destination.transport)
        }
        guard record.count <= configuration.maximumOutboundRecordBytes else {
            throw MQTTTransportError.recordTooLarge(bytes: record.count, limit: configuration.maximumOutboundRecordBytes)
        }
        let (up, replyTopic, ownTopics) = state.withLock { ($0.up, $0.replyTopic, $0.ownTopics) }
        if let problem = MQTTTopics.problem(withDestination: destination.destination, maximumBytes: configuration.maximumTopicBytes, ownTopics: ownTopics) {
            throw MQTTTransportError.invalidDestination(destination.destination, problem)
        }
        guard up else {
            throw MQTTTransportError.notConnected(broker: "\(configuration.host):\(configuration.port)")
        }
        let topic: String
        var properties = MQTTPublishProperties()
        switch configuration.protocolVersion {
        case .v5:
            topic = destination.destination
            properties.contentType = Self.contentType  // R-MQTT.27
            properties.responseTopic = replyTopic  // R-MQTT.22/23
        case .v311:
            topic = MQTTTopics.topic(destination.destination, withReplyTo: replyTopic)  // R-MQTT.24
        }
        do {
            try await client.publish(record, to: topic, qos: 1, properties: properties)
        } catch {
            throw MQTTTransportError.publishFailed(topic: topic, reason: "\(error)")
        }
        state.withLock { $0.statistics.recordsSent += 1 }
    }
}

/// Why `MQTTTransport.send` failed.
public enum MQTTTransportError: Error, CustomStringConvertible, Sendable {
    case wrongTransport(String)
    case invalidDestination(String, MQTTTopicProblem)
    case recordTooLarge(bytes: Int, limit: Int)
    case notConnected(broker: String)
    case publishFailed(topic: String, reason: String)

    public var description: String {
        switch self {
        case .wrongTransport(let transport): "the MQTT transport cannot send to a \(transport) address"
        case .invalidDestination(let topic, let problem): "refusing to publish to \"\(topic)\": \(problem)"
        case .recordTooLarge(let bytes, let limit): "the record is \(bytes) bytes, over the MQTT limit of \(limit)"
        case .notConnected(let broker): "the MQTT link to \(broker) is down"
        case .publishFailed(let topic, let reason): "publishing to \(topic) failed: \(reason)"
        }
    }
}

/// Counters of one MQTT transport.
public struct MQTTTransportStatistics: Sendable, Equatable {
    public var recordsReceived = 0
    public var recordsSent = 0
    /// Inbound records over `maximumInboundRecordBytes`.
    public var droppedOversize = 0
    /// Inbound messages with a Content Type that is not a USP record's.
    public var droppedContentType = 0
    /// Inbound records with no reply address.
    public var droppedNoReplyAddress = 0
    /// Inbound records whose reply address was refused (wildcards, empty levels, …).
    public var droppedInvalidReplyTopic = 0
    /// `usp.error` reports received (R-MQTT.31a, deprecated since USP 1.2): logged, not records.
    public var errorReports = 0
    /// Messages lost because the client's buffer was full.
    public var droppedBufferFull = 0
    /// Events lost because `events` was not read fast enough.
    public var droppedEventBufferFull = 0
    public var linkUps = 0
    public var linkDowns = 0

    public init() {}

    mutating func count(_ drop: MQTTTransport.InboundDrop) {
        switch drop {
        case .oversize: droppedOversize += 1
        case .contentType: droppedContentType += 1
        case .errorReport: errorReports += 1
        case .noReplyAddress: droppedNoReplyAddress += 1
        case .invalidReplyTopic: droppedInvalidReplyTopic += 1
        }
    }
}
