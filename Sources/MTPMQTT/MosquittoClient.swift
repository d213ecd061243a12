import CMosquitto
import Dispatch
import Foundation
import Synchronization

/// An MQTT 5.0 / 3.1.1 client over libmosquitto (the design card's MQTT library).
///
/// **Threads.** Each connection's network loop (`mosquitto_loop_forever`) runs on a thread of its own,
/// started by the client rather than by `mosquitto_loop_start`, so that the client learns when the loop
/// ends: libmosquitto returns from its loop without any callback when, for instance, the TLS handshake
/// fails. The callbacks resume the async callers waiting for CONNACK, SUBACK and PUBACK and yield
/// received messages into `messages`; they only take `Core.state`'s mutex, never call back into
/// libmosquitto, and never run user code. The libmosquitto calls that block (the TCP connect with its
/// name lookup, waiting for the loop thread to end, destroying the handle) run on a private serial
/// dispatch queue, never on the Swift cooperative pool, and in the order they were asked for.
///
/// **Connections.** Every `connect()` builds a fresh libmosquitto handle, so no state (message ids,
/// queued QoS 1 messages of a dead connection) leaks from one connection into the next. The client
/// never reconnects by itself: libmosquitto's own reconnect is neutralised. When the broker goes away
/// the connection is closed, `waitForDisconnection()` returns, pending acknowledgements fail, and the
/// owner decides when to call `connect()` again (`MQTTTransport` does, with backoff and jitter). The
/// client ID stays the same across connections (R-MQTT.11), including one the broker assigned (R-MQTT.9).
///
/// **Lifetime.** `messages` stays open across reconnections; it finishes on `disconnect()`,
/// `shutdown()` or deinit. Deinit never blocks: it hands the live connection to the queue to close.
///
/// Process-wide side effect: the first client sets SIGPIPE to ignored, because libmosquitto writes to
/// its sockets with plain `write()` and a broker that vanishes mid-write would otherwise kill the process.
public final class MosquittoClient: Sendable {
    /// Options for the client's connections.
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// The MQTT ClientId. Empty: MQTT 5 sends an empty one and keeps the broker's Assigned Client
        /// Identifier for later connections (R-MQTT.8/9); MQTT 3.1.1 requires `cleanSession` then.
        public var clientID: String
        public var protocolVersion: ProtocolVersion = .v5
        /// 0 (no keep-alive) or 5...65535 seconds (libmosquitto's range).
        public var keepAliveSeconds: Int = 30
        /// Clean Start (MQTT 5) / Clean Session (3.1.1) of every connection; ignored with `resumeSession`.
        public var cleanSession = true
        /// Every connection that has a client ID (the configured one, or the one the broker assigned to
        /// an earlier connection, R-MQTT.9/11) asks to resume its session: Clean Start 0 (MQTT 5
        /// 3.1.2.4) or Clean Session 0 (3.1.1 3.1.2.4), so the broker keeps the subscriptions and
        /// delivers the QoS 1 messages it queued while the client was away (MQTT 5 4.1). A connection
        /// without an ID starts clean (libmosquitto requires it). MQTT 5 keeps a session after a
        /// disconnection only for `sessionExpirySeconds`.
        public var resumeSession = false
        /// MQTT 5 Session Expiry Interval sent in CONNECT; nil sends none (the session ends with the connection).
        public var sessionExpirySeconds: UInt32?
        /// MQTT 5 CONNECT user properties (USP endpoints send `usp-endpoint-id`, R-MQTT.13).
        public var connectUserProperties: [(String, String)] = []
        /// MQTT 5 Request Response Information (R-MQTT.12); the answer is `MQTTConnack.responseInformation`.
        public var requestResponseInformation = false
        public var username: String?
        public var password: String?
        /// TLS towards the broker; nil is plain TCP.
        public var tls: MQTTTLSConfiguration?
        /// How long to wait for the TCP connect plus CONNACK, for SUBACK and for PUBACK.
        public var timeout: Duration = .seconds(10)
        /// Received messages with a larger payload are dropped (and counted) before they are copied.
        public var maximumInboundPayloadBytes: Int = 1 << 20
        /// Received messages not yet read from `messages`; beyond this the oldest are dropped (and counted).
        public var messageBufferLimit: Int = 10_000

        public init(host: String, port: Int, clientID: String) {
            self.host = host
            self.port = port
            self.clientID = clientID
        }
    }

    public enum ProtocolVersion: Int32, Sendable {
        case v311 = 4
        case v5 = 5
    }

    /// The libmosquitto version linked at run time.
    public static var libraryVersion: (major: Int, minor: Int, revision: Int) {
        var major: Int32 = 0, minor: Int32 = 0, revision: Int32 = 0
        mosquitto_lib_version(&major, &minor, &revision)
        return (Int(major), Int(minor), Int(revision))
    }

    private static let libraryInitialized: Bool = {
        mosquitto_lib_init()
        signal(SIGPIPE, SIG_IGN)
        return true
    }()

    public let configuration: Configuration
    /// Messages on the subscribed topics, in arrival order, across reconnections.
    public let messages: AsyncStream<MQTTMessage>

    private let core: Core

    public init(configuration: Configuration) throws(MQTTError) {
        _ = Self.libraryInitialized
        try Self.validate(configuration)
        self.configuration = configuration
        let (stream, continuation) = AsyncStream.makeStream(
            of: MQTTMessage.self, bufferingPolicy: .bufferingNewest(max(1, configuration.messageBufferLimit)))
        messages = stream
        core = Core(configuration: configuration, messageContinuation: continuation)
        // Build (and throw away) one handle now, so that a bad option (an unreadable CA file, a
        // password without a user name under 3.1.1) fails here rather than at the first connect.
        let probe = try Connection.make(core: core, generation: 0, clientID: configuration.clientID)
        probe.close()
    }

    deinit {
        core.terminate()
    }

    // MARK: Operations

    /// Opens a new connection (closing any previous one) and waits for the broker's CONNACK.
    /// Throws when the broker cannot be reached, refuses, or does not answer within the timeout.
    @discardableResult
    public func connect() async throws -> MQTTConnack {
        let connection = try core.beginConnection()
        let address = "\(configuration.host):\(configuration.port)"
        do {
            let code = try await core.withTimeout(configuration.timeout, "no CONNACK from \(address) within \(configuration.timeout)") {
                try await self.core.onQueue { () throws(MQTTError) in try connection.open() }
                return try await self.core.acknowledgement(AckKey(connection.generation, Core.connackID), connection: connection)
            }
            guard code == 0 else {
                throw MQTTError("the broker at \(address) refused the connection (reason code \(code): \(MQTTError.reasonText(code)))")
            }
            return try core.connectionEstablished(connection)
        } catch {
            core.connectionFailed(connection)
            throw error
        }
    }

    /// Subscribes and waits for SUBACK.
    public func subscribe(_ topic: String, qos: Int32 = 1) async throws {
        guard !topic.utf8.contains(0) else { throw MQTTError("subscribe: the topic filter contains NUL") }
        let connection = try core.liveConnection("subscribe to \(topic)")
        var mid: Int32 = 0
        try connection.withHandle { handle throws(MQTTError) in
            try MQTTError.check(mosquitto_subscribe_v5(handle, &mid, topic, qos, 0, nil), "subscribe to \(topic)")
        }
        let code = try await acknowledgement(mid, on: connection, "SUBACK for \(topic)")
        guard code < 0x80 else { throw MQTTError("the broker refused the subscription to \(topic)") }
    }

    /// Publishes and, for QoS 1 and 2, waits for the broker's acknowledgement. Throws at once when
    /// not connected: nothing is queued for a later connection.
    public func publish(_ payload: [UInt8], to topic: String, qos: Int32 = 1, properties: MQTTPublishProperties = MQTTPublishProperties()) async throws {
        guard !topic.utf8.contains(0) else { throw MQTTError("publish: the topic contains NUL") }
        let connection = try core.liveConnection("publish to \(topic)")
        let mid = try connection.withHandle { handle throws(MQTTError) in
            try Self.sendPublish(handle, payload, to: topic, qos: qos, properties: properties, version: configuration.protocolVersion)
        }
        guard qos > 0 else { return }
        let code = try await acknowledgement(mid, on: connection, "PUBACK for \(topic)")
        guard code < 0x80 else {
            throw MQTTError("the broker refused the publication to \(topic) (reason code \(code): \(MQTTError.reasonText(code)))")
        }
    }

    /// Returns when the current connection is lost or closed; at once when there is none.
    /// Throws `CancellationError` when the calling task is cancelled.
    public func waitForDisconnection() async throws -> MQTTDisconnection {
        try await core.waitForDisconnection()
    }

    /// Whether a connection is up (CONNACK received, not lost since).
    public var isConnected: Bool { core.isConnected }

    /// What the broker said in the last successful CONNACK.
    public var lastConnack: MQTTConnack? { core.lastConnack }

    /// Counters since the client was made.
    public var statistics: MQTTClientStatistics { core.statistics }

    /// Sends DISCONNECT (R-MQTT.35) on the current connection, if any, and waits until it is closed.
    /// The client stays usable: `connect()` opens a new connection and `messages` stays open.
    public func closeConnection() async {
        await core.closeCurrent()
    }

    /// Closes the connection like `closeConnection()` and finishes `messages`; the client is done.
    public func shutdown() async {
        core.finishMessages()
        await core.closeCurrent(final: true)
    }

    /// Sends DISCONNECT, stops the network loop and finishes `messages`, without waiting for the
    /// close to complete (it runs on the client's queue). The client is done.
    public func disconnect() {
        core.finishMessages()
        core.closeCurrentInBackground(final: true)
    }

    // MARK: Helpers

    private func acknowledgement(_ mid: Int32, on connection: Connection, _ what: String) async throws -> Int32 {
        try await core.withTimeout(configuration.timeout, "no \(what) within \(configuration.timeout)") {
            try await self.core.acknowledgement(AckKey(connection.generation, mid), connection: connection)
        }
    }

    private static func sendPublish(
        _ handle: OpaquePointer, _ payload: [UInt8], to topic: String, qos: Int32, properties: MQTTPublishProperties, version: ProtocolVersion
    ) throws(MQTTError) -> Int32 {
        var list: OpaquePointer? = nil
        defer { mosquitto_property_free_all(&list) }
        if version == .v5 {
            if let contentType = properties.contentType {
                try MQTTError.check(mosquitto_property_add_string(&list, Int32(MQTT_PROP_CONTENT_TYPE.rawValue), contentType), "add content type")
            }
            if let responseTopic = properties.responseTopic {
                try MQTTError.check(
                    mosquitto_property_add_string(&list, Int32(MQTT_PROP_RESPONSE_TOPIC.rawValue), responseTopic), "add response topic")
            }
            for (name, value) in properties.userProperties {
                try MQTTError.check(
                    mosquitto_property_add_string_pair(&list, Int32(MQTT_PROP_USER_PROPERTY.rawValue), name, value), "add user property")
            }
        }
        guard payload.count <= Int(Int32.max) else { throw MQTTError("publish to \(topic): payload too large") }
        var mid: Int32 = 0
        let rc = payload.withUnsafeBytes { bytes in
            mosquitto_publish_v5(handle, &mid, topic, Int32(bytes.count), bytes.baseAddress, qos, false, list)
        }
        try MQTTError.check(rc, "publish to \(topic)")
        return mid
    }

    private static func validate(_ configuration: Configuration) throws(MQTTError) {
        guard !configuration.host.isEmpty else { throw MQTTError("MQTT configuration: the broker host is empty") }
        guard (1...65535).contains(configuration.port) else { throw MQTTError("MQTT configuration: port \(configuration.port) is out of range") }
        guard configuration.keepAliveSeconds == 0 || (5...65535).contains(configuration.keepAliveSeconds) else {
            throw MQTTError("MQTT configuration: keep-alive must be 0 or 5...65535 seconds, not \(configuration.keepAliveSeconds)")
        }
        if configuration.clientID.isEmpty && !configuration.cleanSession && !configuration.resumeSession {
            throw MQTTError("MQTT configuration: an empty client ID needs a clean session")
        }
        guard !configuration.clientID.utf8.contains(0) else { throw MQTTError("MQTT configuration: the client ID contains NUL") }
        guard configuration.maximumInboundPayloadBytes >= 0 else { throw MQTTError("MQTT configuration: negative payload limit") }
        if let tls = configuration.tls {
            if (tls.certificateFile == nil) != (tls.privateKeyFile == nil) {
                throw MQTTError("MQTT TLS configuration: a client certificate needs its private key and vice versa")
            }
            if tls.caFile == nil && tls.caDirectory == nil && !tls.useSystemTrustStore {
                throw MQTTError("MQTT TLS configuration: set caFile, caDirectory or useSystemTrustStore")
            }
            if tls.certificateFile != nil && tls.caFile == nil && tls.caDirectory == nil {
                throw MQTTError("MQTT TLS configuration: a client certificate needs caFile or caDirectory (libmosquitto)")
            }
        }
    }
}

// MARK: - Public value types

/// TLS towards the broker (R-MQTT.48: TLS 1.2 or later; libmosquitto over OpenSSL).
public struct MQTTTLSConfiguration: Sendable {
    /// PEM file of trusted CA certificates.
    public var caFile: String?
    /// Directory of trusted CA certificates (hashed names, `openssl rehash`).
    public var caDirectory: String?
    /// Also trust the operating system's CA store (MOSQ_OPT_TLS_USE_OS_CERTS).
    public var useSystemTrustStore = false
    /// Client certificate and key (PEM) for brokers that authenticate clients by certificate.
    public var certificateFile: String?
    public var privateKeyFile: String?
    /// Skips the check that the broker certificate names `host` (mosquitto_tls_insecure_set). The chain
    /// is still verified. For tests and lab brokers only.
    public var insecure = false
    /// "tlsv1.3" or "tlsv1.2" pins that version; nil allows TLS 1.2 and 1.3.
    public var version: String?
    /// OpenSSL cipher list; nil keeps OpenSSL's default.
    public var ciphers: String?

    public init(
        caFile: String? = nil, caDirectory: String? = nil, certificateFile: String? = nil, privateKeyFile: String? = nil,
        insecure: Bool = false
    ) {
        self.caFile = caFile
        self.caDirectory = caDirectory
        self.certificateFile = certificateFile
        self.privateKeyFile = privateKeyFile
        self.insecure = insecure
    }
}

/// A message received on a subscription, with its MQTT 5 properties.
public struct MQTTMessage: Sendable {
    public var topic: String
    public var payload: [UInt8]
    public var qos: Int32
    public var retain = false
    public var contentType: String?
    public var responseTopic: String?
    public var userProperties: [(String, String)] = []

    public init(topic: String, payload: [UInt8], qos: Int32) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
    }
}

/// MQTT 5 PUBLISH properties USP uses (R-MQTT.27: Content Type `usp.msg`; Response Topic).
public struct MQTTPublishProperties: Sendable {
    public var contentType: String?
    public var responseTopic: String?
    public var userProperties: [(String, String)]

    public init(contentType: String? = nil, responseTopic: String? = nil, userProperties: [(String, String)] = []) {
        self.contentType = contentType
        self.responseTopic = responseTopic
        self.userProperties = userProperties
    }
}

/// What the broker said when it accepted a connection.
public struct MQTTConnack: Sendable {
    public var sessionPresent: Bool
    /// The client ID in use: the configured one, or the one the broker assigned (R-MQTT.9).
    public var clientID: String
    /// MQTT 5 Assigned Client Identifier, when the client sent an empty one.
    public var assignedClientIdentifier: String?
    /// MQTT 5 Response Information (when requested, R-MQTT.12): the topic to use as "reply to" (R-MQTT.21).
    public var responseInformation: String?
    /// MQTT 5 CONNACK user properties.
    public var userProperties: [(String, String)] = []

    /// Topics the broker asks the client to subscribe to (`subscribe-topic` user properties, R-MQTT.15).
    public var subscribeTopics: [String] { userProperties.filter { $0.0 == "subscribe-topic" }.map(\.1) }

    public init(sessionPresent: Bool, clientID: String) {
        self.sessionPresent = sessionPresent
        self.clientID = clientID
    }
}

/// Why a connection ended.
public struct MQTTDisconnection: Sendable, CustomStringConvertible {
    /// libmosquitto's code: 0 for a disconnect the client asked for, a MOSQ_ERR_* value for a lost
    /// connection, or the MQTT 5 reason code (0x80 and up) of the broker's DISCONNECT.
    public var reasonCode: Int32
    public var description: String

    public init(reasonCode: Int32, description: String) {
        self.reasonCode = reasonCode
        self.description = description
    }

    static func from(code: Int32) -> MQTTDisconnection {
        if code == 0 { return MQTTDisconnection(reasonCode: 0, description: "disconnected by the client") }
        return MQTTDisconnection(reasonCode: code, description: "connection lost (\(code): \(MQTTError.disconnectText(code)))")
    }
}

/// Counters of one client.
public struct MQTTClientStatistics: Sendable, Equatable {
    /// Connections the broker accepted.
    public var connections = 0
    /// Accepted connections that were later lost (not closed by the client).
    public var connectionsLost = 0
    /// Messages handed to `messages`.
    public var messagesReceived = 0
    /// Messages dropped because their payload exceeded `maximumInboundPayloadBytes`.
    public var droppedOversize = 0
    /// Messages dropped because `messages` was full.
    public var droppedBufferFull = 0

    public init() {}
}

/// An MQTT failure, with libmosquitto's error text when it has one.
public struct MQTTError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) { self.description = description }

    init(code: Int32, _ what: String) {
        self.description = "\(what): \(String(cString: mosquitto_strerror(code)))"
    }

    static func check(_ rc: Int32, _ what: String) throws(MQTTError) {
        guard rc == MOSQ_ERR_SUCCESS.rawValue else { throw MQTTError(code: rc, what) }
    }

    /// A CONNACK / SUBACK / PUBACK code: MQTT 5 reason codes, or MQTT 3.1.1 CONNACK return codes 1–5.
    static func reasonText(_ code: Int32) -> String {
        if code >= 0x80 { return String(cString: mosquitto_reason_string(code)) }
        return String(cString: mosquitto_connack_string(code))
    }

    /// A disconnect callback's code: an MQTT 5 reason code from the broker, or a MOSQ_ERR_* value.
    static func disconnectText(_ code: Int32) -> String {
        if code >= 0x80 { return String(cString: mosquitto_reason_string(code)) }
        return String(cString: mosquitto_strerror(code))
    }
}

// MARK: - Internals

/// An acknowledgement waited for: the connection's generation and the packet id (CONNACK: -1).
struct AckKey: Hashable, Sendable {
    var generation: UInt64
    var mid: Int32
    init(_ generation: UInt64, _ mid: Int32) {
        self.generation = generation
        self.mid = mid
    }
}

/// What libmosquitto's callbacks see as user data: which client, and which of its connections.
private final class CallbackContext: Sendable {
    let core: Core
    let generation: UInt64
    init(core: Core, generation: UInt64) {
        self.core = core
        self.generation = generation
    }

    static func from(_ object: UnsafeMutableRawPointer?) -> CallbackContext {
        Unmanaged<CallbackContext>.fromOpaque(object!).takeUnretainedValue()
    }
}

/// One libmosquitto handle: one connection attempt and, if it succeeds, one connection.
///
/// The handle is used under `lock` (so `close()` cannot destroy it under a publish), and `close()` only
/// ever runs on the client's queue, after `open()`.
final class Connection: @unchecked Sendable {
    let generation: UInt64
    private let pointer: OpaquePointer
    private let context: Unmanaged<CallbackContext>
    private let configuration: MosquittoClient.Configuration
    private let lock = Mutex(HandleState())
    /// Signalled by the loop thread when `mosquitto_loop_forever` has returned.
    private let loopEnded = DispatchSemaphore(value: 0)

    private struct HandleState {
        var closed = false
        var loopRunning = false
    }

    private init(generation: UInt64, pointer: OpaquePointer, context: Unmanaged<CallbackContext>, configuration: MosquittoClient.Configuration) {
        self.generation = generation
        self.pointer = pointer
        self.context = context
        self.configuration = configuration
    }

    /// A new handle with every option and callback set, not yet connected.
    fileprivate static func make(core: Core, generation: UInt64, clientID: String) throws(MQTTError) -> Connection {
        let configuration = core.configuration
        let id: String? = clientID.isEmpty ? nil : clientID
        let clean = configuration.resumeSession ? id == nil : configuration.cleanSession
        guard let pointer = mosquitto_new(id, clean, nil) else {
            throw MQTTError("mosquitto_new failed (out of memory or invalid client id)")
        }
        let context = Unmanaged.passRetained(CallbackContext(core: core, generation: generation))
        mosquitto_user_data_set(pointer, context.toOpaque())
        let connection = Connection(generation: generation, pointer: pointer, context: context, configuration: configuration)
        do {
            try connection.configure()
        } catch {
            connection.close()
            throw error
        }
        return connection
    }

    private func configure() throws(MQTTError) {
        let configuration = self.configuration
        try MQTTError.check(
            mosquitto_int_option(pointer, MOSQ_OPT_PROTOCOL_VERSION, configuration.protocolVersion.rawValue), "set the protocol version")
        // The loop runs on a thread the client starts: tell libmosquitto, so that packets queued from
        // other threads (publish, subscribe, disconnect) wake the loop instead of being written there.
        try MQTTError.check(mosquitto_threaded_set(pointer, true), "set threaded mode")
        // The client reconnects only when its owner calls connect(). The disconnect callback marks a
        // lost handle disconnecting, so libmosquitto's loop ends instead of sleeping this long and
        // retrying on its own; should a loss ever bypass the callback, the retry comes after 1 s and
        // close() ends that connection too.
        mosquitto_reconnect_delay_set(pointer, 1, 1, false)
        if configuration.username != nil || configuration.password != nil {
            try MQTTError.check(
                mosquitto_username_pw_set(pointer, configuration.username, configuration.password), "set the MQTT user name and password")
        }
        if let tls = configuration.tls {
            if tls.useSystemTrustStore {
                try MQTTError.check(mosquitto_int_option(pointer, MOSQ_OPT_TLS_USE_OS_CERTS, 1), "use the system CA store")
            }
            if tls.caFile != nil || tls.caDirectory != nil {
                try MQTTError.check(
                    mosquitto_tls_set(pointer, tls.caFile, tls.caDirectory, tls.certificateFile, tls.privateKeyFile, nil),
                    "TLS files (CA \(tls.caFile ?? tls.caDirectory ?? "-"), certificate \(tls.certificateFile ?? "-"))")
            }
            // 1 = SSL_VERIFY_PEER: the broker's chain is always verified.
            try MQTTError.check(mosquitto_tls_opts_set(pointer, 1, tls.version, tls.ciphers), "TLS options")
            if tls.insecure {
                try MQTTError.check(mosquitto_tls_insecure_set(pointer, true), "TLS insecure flag")
            }
        }
        mosquitto_connect_v5_callback_set(pointer) { _, object, reasonCode, flags, properties in
            let context = CallbackContext.from(object)
            context.core.connected(generation: context.generation, reasonCode: reasonCode, flags: flags, properties: properties)
        }
        mosquitto_subscribe_v5_callback_set(pointer) { _, object, mid, count, granted, _ in
            // A granted QoS of 0x80 or more is a refusal (MQTT 5 SUBACK reason codes, 3.1.1 failure 0x80).
            let refused = count < 1 || granted == nil || granted![0] >= 0x80
            let context = CallbackContext.from(object)
            context.core.acknowledged(AckKey(context.generation, mid), code: refused ? 0x80 : 0)
        }
        mosquitto_publish_v5_callback_set(pointer) { _, object, mid, reasonCode, _ in
            let context = CallbackContext.from(object)
            context.core.acknowledged(AckKey(context.generation, mid), code: reasonCode)
        }
        mosquitto_message_v5_callback_set(pointer) { _, object, message, properties in
            guard let message else { return }
            CallbackContext.from(object).core.received(message.pointee, properties: properties)
        }
        mosquitto_disconnect_v5_callback_set(pointer) { mosq, object, reasonCode, _ in
            // A handle is never reused: mark it disconnecting at once, so that libmosquitto's loop ends
            // now instead of sleeping and reconnecting on its own (no DISCONNECT goes out: no socket).
            mosquitto_disconnect_v5(mosq, 0, nil)
            let context = CallbackContext.from(object)
            context.core.disconnected(generation: context.generation, reasonCode: reasonCode)
        }
    }

    /// Connects (blocking: name lookup and TCP connect) and starts the network loop. On the queue only.
    func open() throws(MQTTError) {
        let configuration = self.configuration
        var properties: OpaquePointer? = nil
        defer { mosquitto_property_free_all(&properties) }
        if configuration.protocolVersion == .v5 {
            for (name, value) in configuration.connectUserProperties {
                try MQTTError.check(
                    mosquitto_property_add_string_pair(&properties, Int32(MQTT_PROP_USER_PROPERTY.rawValue), name, value), "add user property")
            }
            if configuration.requestResponseInformation {
                try MQTTError.check(
                    mosquitto_property_add_byte(&properties, Int32(MQTT_PROP_REQUEST_RESPONSE_INFORMATION.rawValue), 1),
                    "add request response information")
            }
            if let expiry = configuration.sessionExpirySeconds {
                try MQTTError.check(
                    mosquitto_property_add_int32(&properties, Int32(MQTT_PROP_SESSION_EXPIRY_INTERVAL.rawValue), expiry),
                    "add session expiry interval")
            }
        }
        let what = "connect to \(configuration.host):\(configuration.port)"
        try lock.withLock { state throws(MQTTError) in
            guard !state.closed else { throw MQTTError("\(what): the connection was closed") }
            try MQTTError.check(
                mosquitto_connect_bind_v5(
                    pointer, configuration.host, Int32(configuration.port), Int32(configuration.keepAliveSeconds), nil, properties),
                what)
            state.loopRunning = true
        }
        let thread = Thread { [self] in
            let timeout = configuration.keepAliveSeconds > 0 ? Int32(configuration.keepAliveSeconds * 1000) : 86_400_000
            let code = mosquitto_loop_forever(pointer, timeout, 1)
            context.takeUnretainedValue().core.loopEnded(generation: generation, code: code)
            loopEnded.signal()
        }
        thread.name = "mosquitto loop"
        thread.start()
    }

    /// Runs `body` with the handle unless the connection is closed.
    func withHandle<T>(_ body: (OpaquePointer) throws(MQTTError) -> T) throws(MQTTError) -> T {
        try lock.withLock { state throws(MQTTError) -> T in
            guard !state.closed else { throw MQTTError("not connected to the broker (the connection was closed)") }
            return try body(pointer)
        }
    }

    /// Sends DISCONNECT when connected, waits for the loop thread to end, destroys the handle. Idempotent.
    /// Blocks briefly; on the queue only (or before the handle was ever opened).
    func close() {
        let loopRunning = lock.withLock { state -> Bool? in
            guard !state.closed else { return nil }
            state.closed = true
            return state.loopRunning
        }
        guard let loopRunning else { return }
        // Marks the handle as disconnecting even when the socket is gone, so the loop thread exits.
        mosquitto_disconnect_v5(pointer, 0, nil)
        // The disconnect wakes the loop, which then sees the handle disconnecting and returns. Should
        // libmosquitto's own reconnect have overwritten the disconnecting state, asking again ends it.
        while loopRunning, loopEnded.wait(timeout: .now() + .seconds(2)) == .timedOut {
            mosquitto_disconnect_v5(pointer, 0, nil)
        }
        mosquitto_destroy(pointer)
        let core = context.takeUnretainedValue().core
        context.release()
        core.connectionClosed(generation: generation)
    }
}

/// A continuation resumed exactly once: by the work's result, or by cancellation.
private final class OneShot<T: Sendable>: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<T, any Error>?, cancelled: Bool, done: Bool)>((nil, false, false))

    /// Returns false (and resumes with CancellationError) when cancellation came first.
    func install(_ continuation: CheckedContinuation<T, any Error>) -> Bool {
        let cancelled = state.withLock { state -> Bool in
            if state.cancelled {
                state.done = true
                return true
            }
            state.continuation = continuation
            return false
        }
        if cancelled { continuation.resume(throwing: CancellationError()) }
        return !cancelled
    }

    func complete(_ result: Result<T, any Error>) {
        let continuation = state.withLock { state -> CheckedContinuation<T, any Error>? in
            guard !state.done else { return nil }
            state.done = true
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(with: result)
    }

    func cancel() {
        let continuation = state.withLock { state -> CheckedContinuation<T, any Error>? in
            state.cancelled = true
            guard !state.done, let continuation = state.continuation else { return nil }
            state.done = true
            state.continuation = nil
            return continuation
        }
        continuation?.resume(throwing: CancellationError())
    }
}

/// The client's shared state, reached by the public API and by libmosquitto's callbacks.
final class Core: Sendable {
    static let connackID: Int32 = -1

    let configuration: MosquittoClient.Configuration
    let queue: DispatchQueue
    private let state: Mutex<State>
    private let messageContinuation: AsyncStream<MQTTMessage>.Continuation

    private enum Phase {
        case idle, connecting, connected, lost, finished
    }

    private struct State {
        /// The newest connection's generation; callbacks of older ones only fail their own waiters.
        var generation: UInt64 = 0
        var phase: Phase = .idle
        var current: Connection?
        var assignedClientID: String?
        var pendingConnack: MQTTConnack?
        var lastConnack: MQTTConnack?
        var lastDisconnection: MQTTDisconnection?
        /// Waiters for acknowledgements by connection and message id; CONNACK uses `connackID`.
        var acknowledgements: [AckKey: CheckedContinuation<Int32, any Error>] = [:]
        /// Acknowledgements that arrived before their waiter registered.
        var early: [AckKey: Int32] = [:]
        /// Acknowledgements whose waiter gave up (timeout, cancellation): dropped when they arrive.
        var abandoned: Set<AckKey> = []
        var disconnectionWaiters: [UInt64: CheckedContinuation<MQTTDisconnection, any Error>] = [:]
        var nextWaiterID: UInt64 = 0
        var statistics = MQTTClientStatistics()
    }

    init(configuration: MosquittoClient.Configuration, messageContinuation: AsyncStream<MQTTMessage>.Continuation) {
        self.configuration = configuration
        self.messageContinuation = messageContinuation
        queue = DispatchQueue(label: "tandem.mosquitto.\(configuration.clientID)")
        state = Mutex(State())
    }

    deinit {
        messageContinuation.finish()
    }

    var isConnected: Bool { state.withLock { $0.phase == .connected } }
    var lastConnack: MQTTConnack? { state.withLock { $0.lastConnack } }
    var statistics: MQTTClientStatistics { state.withLock { $0.statistics } }

    // MARK: Connection lifecycle

    /// Retires the current connection (closing it on the queue) and makes the next one.
    func beginConnection() throws -> Connection {
        let (generation, previous, clientID, replaced) = try state.withLock { state throws(MQTTError) in
            guard state.phase != .finished else { throw MQTTError("the MQTT client was shut down") }
            var replaced: [CheckedContinuation<MQTTDisconnection, any Error>] = []
            if state.phase == .connected {
                replaced = Array(state.disconnectionWaiters.values)
                state.disconnectionWaiters.removeAll()
            }
            state.generation += 1
            state.phase = .connecting
            state.pendingConnack = nil
            // Acknowledgements of older connections can never be claimed.
            state.early.removeAll()
            state.abandoned.removeAll()
            defer { state.current = nil }
            return (state.generation, state.current, state.assignedClientID ?? configuration.clientID, replaced)
        }
        let reason = MQTTDisconnection(reasonCode: 0, description: "replaced by a new connection")
        for waiter in replaced { waiter.resume(returning: reason) }
        if let previous { queue.async { previous.close() } }
        let connection: Connection
        do {
            connection = try Connection.make(core: self, generation: generation, clientID: clientID)
        } catch {
            state.withLock { state in
                if state.generation == generation, state.phase == .connecting { state.phase = .idle }
            }
            throw error
        }
        let installed = state.withLock { state -> Bool in
            guard state.generation == generation, state.phase == .connecting else { return false }
            state.current = connection
            return true
        }
        guard installed else {
            connection.close()
            throw MQTTError("the connection attempt was superseded")
        }
        return connection
    }

    func connectionEstablished(_ connection: Connection) throws -> MQTTConnack {
        try state.withLock { state throws(MQTTError) in
            guard state.generation == connection.generation, state.phase == .connected, let connack = state.pendingConnack else {
                throw MQTTError("the connection to \(configuration.host):\(configuration.port) was lost right after CONNACK")
            }
            state.lastConnack = connack
            return connack
        }
    }

    func connectionFailed(_ connection: Connection) {
        state.withLock { state in
            if state.generation == connection.generation, state.current === connection {
                state.current = nil
                if state.phase != .finished { state.phase = .idle }
            }
        }
        queue.async { connection.close() }
    }

    /// The connected connection, or a clear error.
    func liveConnection(_ what: String) throws(MQTTError) -> Connection {
        let connection = state.withLock { state -> Connection? in state.phase == .connected ? state.current : nil }
        guard let connection else {
            throw MQTTError("\(what): not connected to the broker at \(configuration.host):\(configuration.port)")
        }
        return connection
    }

    /// Closes the current connection and waits until it is closed.
    func closeCurrent(final: Bool = false) async {
        let connection = detachCurrent(final: final)
        guard let connection else { return }
        try? await onQueue { () throws(MQTTError) in connection.close() }
    }

    func closeCurrentInBackground(final: Bool) {
        if let connection = detachCurrent(final: final) { queue.async { connection.close() } }
    }

    /// The client object is going away: close in the background, finish the stream.
    func terminate() {
        closeCurrentInBackground(final: true)
        finishMessages()
    }

    func finishMessages() {
        messageContinuation.finish()
    }

    private func detachCurrent(final: Bool) -> Connection? {
        state.withLock { state in
            defer {
                state.current = nil
                if final {
                    state.phase = .finished
                } else if state.phase != .finished {
                    state.phase = .idle
                }
            }
            return state.current
        }
    }

    /// After a handle is destroyed: nothing can acknowledge its waiters any more.
    func connectionClosed(generation: UInt64) {
        let (waiters, disconnectionWaiters) = state.withLock { state in
            let keys = state.acknowledgements.keys.filter { $0.generation == generation }
            let waiters = keys.compactMap { state.acknowledgements.removeValue(forKey: $0) }
            var disconnectionWaiters: [CheckedContinuation<MQTTDisconnection, any Error>] = []
            // A closed current connection (closeConnection) releases those waiting for its end.
            if state.generation == generation, state.phase != .connected, state.phase != .connecting {
                disconnectionWaiters = Array(state.disconnectionWaiters.values)
                state.disconnectionWaiters.removeAll()
            }
            return (waiters, disconnectionWaiters)
        }
        for waiter in waiters { waiter.resume(throwing: MQTTError("the connection to the broker was closed")) }
        let reason = MQTTDisconnection(reasonCode: 0, description: "disconnected by the client")
        for waiter in disconnectionWaiters { waiter.resume(returning: reason) }
    }

    // MARK: Callbacks (libmosquitto's loop thread)

    func connected(generation: UInt64, reasonCode: Int32, flags: Int32, properties: OpaquePointer?) {
        var connack = MQTTConnack(sessionPresent: flags & 1 != 0, clientID: configuration.clientID)
        connack.assignedClientIdentifier = Self.readString(properties, MQTT_PROP_ASSIGNED_CLIENT_IDENTIFIER)
        connack.responseInformation = Self.readString(properties, MQTT_PROP_RESPONSE_INFORMATION)
        connack.userProperties = Self.readUserProperties(properties)
        let waiter = state.withLock { state -> CheckedContinuation<Int32, any Error>? in
            guard state.generation == generation else { return nil }
            if reasonCode == 0, state.phase == .connecting {
                state.phase = .connected
                state.statistics.connections += 1
                if let assigned = connack.assignedClientIdentifier { state.assignedClientID = assigned }
                connack.clientID = state.assignedClientID ?? configuration.clientID
                state.pendingConnack = connack
            }
            return Self.resolve(&state, AckKey(generation, Self.connackID), code: reasonCode)
        }
        waiter?.resume(returning: reasonCode)
    }

    func acknowledged(_ key: AckKey, code: Int32) {
        let waiter = state.withLock { Self.resolve(&$0, key, code: code) }
        waiter?.resume(returning: code)
    }

    private static func resolve(_ state: inout State, _ key: AckKey, code: Int32) -> CheckedContinuation<Int32, any Error>? {
        if let waiter = state.acknowledgements.removeValue(forKey: key) { return waiter }
        if state.abandoned.remove(key) != nil { return nil }
        // The ack outran the registration of its waiter (or belongs to a retired connection).
        // Bounded, and forgotten with the connection.
        if key.generation == state.generation, state.early.count < 4096 { state.early[key] = code }
        return nil
    }

    func disconnected(generation: UInt64, reasonCode: Int32) {
        let disconnection = MQTTDisconnection.from(code: reasonCode)
        let (waiters, disconnectionWaiters, lostConnection) = state.withLock { state in
            let keys = state.acknowledgements.keys.filter { $0.generation == generation }
            let waiters = keys.compactMap { state.acknowledgements.removeValue(forKey: $0) }
            guard state.generation == generation, state.phase == .connected || state.phase == .connecting else {
                return (waiters, [CheckedContinuation<MQTTDisconnection, any Error>](), Connection?.none)
            }
            if state.phase == .connected { state.statistics.connectionsLost += 1 }
            state.phase = .lost
            state.lastDisconnection = disconnection
            let disconnectionWaiters = Array(state.disconnectionWaiters.values)
            state.disconnectionWaiters.removeAll()
            defer { state.current = nil }
            return (waiters, disconnectionWaiters, state.current)
        }
        // The loop thread cannot wait for itself: the queue closes the dead connection. Enqueued before
        // anyone learns of the loss, so it runs before any connect() that reacts to it.
        if let lostConnection { queue.async { lostConnection.close() } }
        let error = MQTTError("disconnected from the broker at \(configuration.host):\(configuration.port): \(disconnection)")
        for waiter in waiters { waiter.resume(throwing: error) }
        for waiter in disconnectionWaiters { waiter.resume(returning: disconnection) }
    }

    /// The loop thread of connection `generation` ended. Usually after a disconnect already reported;
    /// but libmosquitto also leaves its loop without a callback (a failed TLS handshake): report that.
    func loopEnded(generation: UInt64, code: Int32) {
        disconnected(generation: generation, reasonCode: code == 0 ? Int32(MOSQ_ERR_CONN_LOST.rawValue) : code)
    }

    func received(_ message: mosquitto_message, properties: OpaquePointer?) {
        let length = Int(message.payloadlen)
        guard length <= configuration.maximumInboundPayloadBytes else {
            state.withLock { $0.statistics.droppedOversize += 1 }
            return
        }
        let payload = message.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: length)) } ?? []
        var result = MQTTMessage(topic: message.topic.map { String(cString: $0) } ?? "", payload: payload, qos: message.qos)
        result.retain = message.retain
        result.contentType = Self.readString(properties, MQTT_PROP_CONTENT_TYPE)
        result.responseTopic = Self.readString(properties, MQTT_PROP_RESPONSE_TOPIC)
        result.userProperties = Self.readUserProperties(properties)
        let dropped: Bool
        switch messageContinuation.yield(result) {
        case .dropped: dropped = true
        case .enqueued, .terminated: dropped = false
        @unknown default: dropped = false
        }
        state.withLock { state in
            state.statistics.messagesReceived += 1
            if dropped { state.statistics.droppedBufferFull += 1 }
        }
    }

    /// Every User Property of a property list, in order. libmosquitto allocates each string; all freed here.
    private static func readUserProperties(_ properties: OpaquePointer?) -> [(String, String)] {
        var result: [(String, String)] = []
        // Each call finds the next User Property after `cursor` (skip_first on the one found before).
        var cursor = properties
        var skipFirst = false
        while true {
            var name: UnsafeMutablePointer<CChar>? = nil
            var value: UnsafeMutablePointer<CChar>? = nil
            guard let found = mosquitto_property_read_string_pair(cursor, Int32(MQTT_PROP_USER_PROPERTY.rawValue), &name, &value, skipFirst)
            else { break }
            if let name, let value { result.append((String(cString: name), String(cString: value))) }
            free(name)
            free(value)
            cursor = found
            skipFirst = true
        }
        return result
    }

    private static func readString(_ properties: OpaquePointer?, _ identifier: mqtt5_property) -> String? {
        var value: UnsafeMutablePointer<CChar>? = nil
        guard mosquitto_property_read_string(properties, Int32(identifier.rawValue), &value, false) != nil, let value else { return nil }
        defer { free(value) }
        return String(cString: value)
    }

    // MARK: Waiting

    /// Waits for the acknowledgement `key` of `connection` (no timeout here: see `withTimeout`).
    func acknowledgement(_ key: AckKey, connection: Connection) async throws -> Int32 {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int32, any Error>) in
                // Registration and the cancellation check share the lock with the cancel handler and
                // the callbacks, so the continuation is resumed exactly once whichever comes first.
                let outcome = state.withLock { state -> Result<Int32, any Error>? in
                    if let early = state.early.removeValue(forKey: key) { return .success(early) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    let alive = state.generation == key.generation && (state.phase == .connected || state.phase == .connecting)
                    guard alive else {
                        let reason = state.lastDisconnection.map { ": \($0)" } ?? ""
                        return .failure(MQTTError("the connection to \(configuration.host):\(configuration.port) was lost\(reason)"))
                    }
                    state.acknowledgements[key] = continuation
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Int32, any Error>? in
                guard let waiter = state.acknowledgements.removeValue(forKey: key) else { return nil }
                if state.abandoned.count < 4096 { state.abandoned.insert(key) }
                return waiter
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    func waitForDisconnection() async throws -> MQTTDisconnection {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<MQTTDisconnection, any Error>) in
                let outcome = state.withLock { state -> Result<MQTTDisconnection, any Error>? in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    guard state.phase == .connected else {
                        return .success(state.lastDisconnection ?? MQTTDisconnection(reasonCode: 0, description: "not connected"))
                    }
                    state.disconnectionWaiters[id] = continuation
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.disconnectionWaiters.removeValue(forKey: id) }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// Runs `operation`, failing with `message` when it takes longer than `timeout`.
    func withTimeout<T: Sendable>(_ timeout: Duration, _ message: String, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw MQTTError(message)
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    /// Runs blocking libmosquitto work on the client's serial queue; the caller stops waiting when
    /// cancelled (the work itself still runs to completion, in order with later work).
    func onQueue<T: Sendable>(_ work: @escaping @Sendable () throws(MQTTError) -> T) async throws -> T {
        let box = OneShot<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                guard box.install(continuation) else { return }
                queue.async {
                    do throws(MQTTError) {
                        box.complete(.success(try work()))
                    } catch {
                        box.complete(.failure(error))
                    }
                }
            }
        } onCancel: {
            box.cancel()
        }
    }
}
