import CMosquitto
import Foundation
import Synchronization

/// An MQTT 5.0 / 3.1.1 client over libmosquitto (the design card's MQTT library).
///
/// libmosquitto runs its network loop on a thread of its own (`mosquitto_loop_start`); its callbacks
/// resume the async callers waiting for CONNACK, SUBACK and PUBACK, and yield received messages into
/// `messages`. The handle is used only through libmosquitto's thread-safe entry points after
/// `connect()`, and the callback state is guarded by a mutex.
public final class MosquittoClient: Sendable {
    /// Options for one connection.
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var clientID: String
        public var protocolVersion: ProtocolVersion = .v5
        public var keepAliveSeconds: Int = 30
        public var cleanSession = true
        /// MQTT 5 CONNECT user properties (USP agents send `usp-endpoint-id`, R-MQTT.13).
        public var connectUserProperties: [(String, String)] = []
        /// How long to wait for CONNACK, SUBACK and PUBACK.
        public var timeout: Duration = .seconds(10)

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
        return true
    }()

    public let configuration: Configuration
    /// Messages on the subscribed topics, in arrival order.
    public let messages: AsyncStream<MQTTMessage>

    private let handle: Handle
    private let state: Mutex<State>
    private let messageContinuation: AsyncStream<MQTTMessage>.Continuation

    private struct State {
        /// Waiters for acknowledgements by message id; CONNACK uses `connackID`.
        var acknowledgements: [Int32: CheckedContinuation<Int32, any Error>] = [:]
        /// Acknowledgements that arrived before their waiter registered.
        var early: [Int32: Int32] = [:]
        var loopRunning = false
    }

    private static let connackID: Int32 = -1

    /// The libmosquitto handle. libmosquitto's public calls are thread safe once the loop thread runs.
    private final class Handle: @unchecked Sendable {
        let pointer: OpaquePointer
        init(_ pointer: OpaquePointer) { self.pointer = pointer }
    }

    public init(configuration: Configuration) throws(MQTTError) {
        _ = Self.libraryInitialized
        self.configuration = configuration
        (messages, messageContinuation) = AsyncStream.makeStream(of: MQTTMessage.self, bufferingPolicy: .bufferingNewest(100_000))
        state = Mutex(State())
        guard let pointer = mosquitto_new(configuration.clientID, configuration.cleanSession, nil) else {
            throw MQTTError("mosquitto_new failed (out of memory or invalid client id)")
        }
        handle = Handle(pointer)
        mosquitto_user_data_set(pointer, Unmanaged.passUnretained(self).toOpaque())
        try Self.check(mosquitto_int_option(pointer, MOSQ_OPT_PROTOCOL_VERSION, configuration.protocolVersion.rawValue), "set protocol version")
        mosquitto_connect_v5_callback_set(pointer) { _, object, reasonCode, _, _ in
            MosquittoClient.from(object).connected(reasonCode: reasonCode)
        }
        mosquitto_subscribe_v5_callback_set(pointer) { _, object, mid, count, granted, _ in
            // A granted QoS of 0x80 or more is a refusal (MQTT 5 SUBACK reason codes).
            let refused = count < 1 || granted == nil || granted![0] >= 0x80
            MosquittoClient.from(object).acknowledged(mid: mid, code: refused ? 0x80 : 0)
        }
        mosquitto_publish_v5_callback_set(pointer) { _, object, mid, reasonCode, _ in
            MosquittoClient.from(object).acknowledged(mid: mid, code: reasonCode)
        }
        mosquitto_message_v5_callback_set(pointer) { _, object, message, properties in
            guard let message else { return }
            MosquittoClient.from(object).received(message.pointee, properties: properties)
        }
        mosquitto_disconnect_v5_callback_set(pointer) { _, object, reasonCode, _ in
            MosquittoClient.from(object).disconnected(reasonCode: reasonCode)
        }
    }

    deinit {
        mosquitto_loop_stop(handle.pointer, true)
        mosquitto_destroy(handle.pointer)
        messageContinuation.finish()
    }

    private static func from(_ object: UnsafeMutableRawPointer?) -> MosquittoClient {
        Unmanaged<MosquittoClient>.fromOpaque(object!).takeUnretainedValue()
    }

    // MARK: Operations

    /// Connects and waits for the broker's CONNACK.
    public func connect() async throws {
        state.withLock { _ = $0.early.removeValue(forKey: Self.connackID) }
        try sendConnect()
        let startLoop = state.withLock { state -> Bool in
            defer { state.loopRunning = true }
            return !state.loopRunning
        }
        if startLoop { try Self.check(mosquitto_loop_start(handle.pointer), "start the network loop") }
        let code = try await acknowledgement(Self.connackID, "CONNACK from \(configuration.host):\(configuration.port)")
        guard code == 0 else { throw MQTTError("the broker refused the connection (reason code \(code))") }
    }

    private func sendConnect() throws(MQTTError) {
        var properties: OpaquePointer? = nil
        defer { mosquitto_property_free_all(&properties) }
        if configuration.protocolVersion == .v5 {
            for (name, value) in configuration.connectUserProperties {
                try Self.check(mosquitto_property_add_string_pair(&properties, Int32(MQTT_PROP_USER_PROPERTY.rawValue), name, value), "add user property")
            }
        }
        try Self.check(
            mosquitto_connect_bind_v5(
                handle.pointer, configuration.host, Int32(configuration.port), Int32(configuration.keepAliveSeconds), nil, properties),
            "connect to \(configuration.host):\(configuration.port)")
    }

    /// Subscribes and waits for SUBACK.
    public func subscribe(_ topic: String, qos: Int32 = 1) async throws {
        var mid: Int32 = 0
        try Self.check(mosquitto_subscribe_v5(handle.pointer, &mid, topic, qos, 0, nil), "subscribe to \(topic)")
        let code = try await acknowledgement(mid, "SUBACK for \(topic)")
        guard code < 0x80 else { throw MQTTError("the broker refused the subscription to \(topic)") }
    }

    /// Publishes and, for QoS 1 and 2, waits for the broker's acknowledgement.
    public func publish(_ payload: [UInt8], to topic: String, qos: Int32 = 1, properties: MQTTPublishProperties = MQTTPublishProperties()) async throws {
        let mid = try sendPublish(payload, to: topic, qos: qos, properties: properties)
        guard qos > 0 else { return }
        let code = try await acknowledgement(mid, "PUBACK for \(topic)")
        guard code < 0x80 else { throw MQTTError("the broker refused the publication to \(topic) (reason code \(code))") }
    }

    private func sendPublish(_ payload: [UInt8], to topic: String, qos: Int32, properties: MQTTPublishProperties) throws(MQTTError) -> Int32 {
        var list: OpaquePointer? = nil
        defer { mosquitto_property_free_all(&list) }
        if configuration.protocolVersion == .v5 {
            if let contentType = properties.contentType {
                try Self.check(mosquitto_property_add_string(&list, Int32(MQTT_PROP_CONTENT_TYPE.rawValue), contentType), "add content type")
            }
            if let responseTopic = properties.responseTopic {
                try Self.check(mosquitto_property_add_string(&list, Int32(MQTT_PROP_RESPONSE_TOPIC.rawValue), responseTopic), "add response topic")
            }
            for (name, value) in properties.userProperties {
                try Self.check(mosquitto_property_add_string_pair(&list, Int32(MQTT_PROP_USER_PROPERTY.rawValue), name, value), "add user property")
            }
        }
        var mid: Int32 = 0
        let rc = payload.withUnsafeBytes { bytes in
            mosquitto_publish_v5(handle.pointer, &mid, topic, Int32(bytes.count), bytes.baseAddress, qos, false, list)
        }
        try Self.check(rc, "publish to \(topic)")
        return mid
    }

    /// Sends DISCONNECT and stops the network loop.
    public func disconnect() {
        mosquitto_disconnect_v5(handle.pointer, 0, nil)
        let running = state.withLock { state -> Bool in
            defer { state.loopRunning = false }
            return state.loopRunning
        }
        if running { mosquitto_loop_stop(handle.pointer, false) }
        messageContinuation.finish()
    }

    // MARK: Callbacks (libmosquitto's thread)

    private func connected(reasonCode: Int32) {
        acknowledged(mid: Self.connackID, code: reasonCode)
    }

    private func acknowledged(mid: Int32, code: Int32) {
        let waiter = state.withLock { state -> CheckedContinuation<Int32, any Error>? in
            if let waiter = state.acknowledgements.removeValue(forKey: mid) { return waiter }
            state.early[mid] = code  // the ack outran the registration of its waiter
            return nil
        }
        waiter?.resume(returning: code)
    }

    private func disconnected(reasonCode: Int32) {
        let waiters = state.withLock { state -> [CheckedContinuation<Int32, any Error>] in
            defer { state.acknowledgements.removeAll() }
            return Array(state.acknowledgements.values)
        }
        for waiter in waiters { waiter.resume(throwing: MQTTError("disconnected from the broker (reason code \(reasonCode))")) }
    }

    private func received(_ message: mosquitto_message, properties: OpaquePointer?) {
        let payload = message.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: Int(message.payloadlen))) } ?? []
        var result = MQTTMessage(topic: message.topic.map { String(cString: $0) } ?? "", payload: payload, qos: message.qos)
        result.contentType = Self.readString(properties, MQTT_PROP_CONTENT_TYPE)
        result.responseTopic = Self.readString(properties, MQTT_PROP_RESPONSE_TOPIC)
        // Each call finds the next User Property after `cursor` (skip_first on the one found before).
        var cursor = properties
        var skipFirst = false
        while true {
            var name: UnsafeMutablePointer<CChar>? = nil
            var value: UnsafeMutablePointer<CChar>? = nil
            guard let found = mosquitto_property_read_string_pair(cursor, Int32(MQTT_PROP_USER_PROPERTY.rawValue), &name, &value, skipFirst)
            else { break }
            if let name, let value { result.userProperties.append((String(cString: name), String(cString: value))) }
            free(name)
            free(value)
            cursor = found
            skipFirst = true
        }
        messageContinuation.yield(result)
    }

    private static func readString(_ properties: OpaquePointer?, _ identifier: mqtt5_property) -> String? {
        var value: UnsafeMutablePointer<CChar>? = nil
        guard mosquitto_property_read_string(properties, Int32(identifier.rawValue), &value, false) != nil, let value else { return nil }
        defer { free(value) }
        return String(cString: value)
    }

    // MARK: Helpers

    /// Waits for the acknowledgement of `mid` for at most the configured timeout.
    private func acknowledgement(_ mid: Int32, _ what: String) async throws -> Int32 {
        let timeout = configuration.timeout
        return try await withThrowingTaskGroup(of: Int32.self) { group in
            group.addTask { try await self.waitForAcknowledgement(mid) }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw MQTTError("no \(what) within \(timeout)")
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    private func waitForAcknowledgement(_ mid: Int32) async throws -> Int32 {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int32, any Error>) in
                // Registration and the cancellation check share the lock with the cancel handler,
                // so the continuation is resumed exactly once whichever comes first.
                let outcome = state.withLock { state -> Result<Int32, any Error>? in
                    if let early = state.early.removeValue(forKey: mid) { return .success(early) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    state.acknowledgements[mid] = continuation
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.acknowledgements.removeValue(forKey: mid) }
            waiter?.resume(throwing: CancellationError())
        }
    }

    private static func check(_ rc: Int32, _ what: String) throws(MQTTError) {
        guard rc == MOSQ_ERR_SUCCESS.rawValue else { throw MQTTError(code: rc, what) }
    }
}

/// A message received on a subscription, with its MQTT 5 properties.
public struct MQTTMessage: Sendable {
    public var topic: String
    public var payload: [UInt8]
    public var qos: Int32
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

/// An MQTT failure, with libmosquitto's error text when it has one.
public struct MQTTError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) { self.description = description }

    init(code: Int32, _ what: String) {
        self.description = "\(what): \(String(cString: mosquitto_strerror(code)))"
    }
}
