import SwiftProtobuf
import TandemCore

/// A USP Record (TR-369 "Message Transfer Protocols", `usp-record-1-4.proto`): the envelope every
/// MTP carries, addressed from one Endpoint to another, holding a Message (with or without an E2E
/// Session Context) or an MTP Connect / Disconnect notice.
///
/// Decoding tolerates fields this schema does not know (proto3): a USP 1.5 Record with
/// `originator_id` (14) and `destination_id` (15) decodes, exposes them through ``originatorID``
/// and ``destinationID``, and re-encodes byte for byte.
public struct USPRecord: Sendable {
    /// The protocol version Tandem writes into `version` (the schema it implements).
    public static let protocolVersion = "1.4"
    /// The versions Tandem speaks, for `GetSupportedProtocol` (R-GSP).
    public static let supportedProtocolVersions = ["1.0", "1.1", "1.2", "1.3", "1.4"]

    /// `payload_security`: constant within a Session Context (R-E2E.18).
    public enum PayloadSecurity: Int, Hashable, Sendable, CaseIterable {
        case plaintext = 0
        /// TLS 1.2 or later, only inside a Session Context (R-E2E.41).
        case tls12 = 1
    }

    /// `MQTTConnectRecord.version`.
    public enum MQTTVersion: Int, Hashable, Sendable, CaseIterable {
        /// MQTT 3.1.1 (protocol level 4).
        case v3_1_1 = 0
        case v5 = 1
    }

    /// `STOMPConnectRecord.version`.
    public enum STOMPVersion: Int, Hashable, Sendable, CaseIterable {
        case v1_2 = 0
    }

    /// `PayloadSARState`: where a Record sits in a segmented payload (TR-369 "SAR function").
    public enum SARState: Int, Hashable, Sendable, CaseIterable, CustomStringConvertible {
        /// Not segmented.
        case none = 0
        case begin = 1
        case inProcess = 2
        case complete = 3

        public var description: String {
            switch self {
            case .none: "NONE"
            case .begin: "BEGIN"
            case .inProcess: "INPROCESS"
            case .complete: "COMPLETE"
            }
        }
    }

    /// The fields of a `SessionContextRecord` (TR-369 "Exchange of USP Records within an E2E
    /// Session Context").
    public struct SessionContext: Hashable, Sendable {
        /// Chosen by the Endpoint that starts the context, greater than 1 (R-E2E.3).
        public var sessionID: UInt64
        /// Starts at 1 and grows by 1 per Record sent (R-E2E.14, R-E2E.15).
        public var sequenceID: UInt64
        /// The next `sequence_id` the sender expects; acknowledges everything below it (R-E2E.17).
        public var expectedID: UInt64
        /// Non-zero: resend the Record with this `sequence_id` (R-E2E.20).
        public var retransmitID: UInt64
        /// Segmentation of the Message across Records.
        public var payloadSARState: SARState
        /// Segmentation of one payload element (TLS record or plaintext Message) across Records.
        public var payloadrecSARState: SARState
        /// The payload elements; one for PLAINTEXT, TLS records for TLS12.
        public var payload: [[UInt8]]

        public init(
            sessionID: UInt64, sequenceID: UInt64, expectedID: UInt64, retransmitID: UInt64 = 0,
            payloadSARState: SARState = .none, payloadrecSARState: SARState = .none, payload: [[UInt8]] = []
        ) {
            self.sessionID = sessionID
            self.sequenceID = sequenceID
            self.expectedID = expectedID
            self.retransmitID = retransmitID
            self.payloadSARState = payloadSARState
            self.payloadrecSARState = payloadrecSARState
            self.payload = payload
        }
    }

    /// The `record_type` oneof.
    public enum Kind: Hashable, Sendable {
        /// A whole serialized Message outside any Session Context; never empty (R-E2E.26).
        case noSessionContext(payload: [UInt8])
        case sessionContext(SessionContext)
        /// Sent by an Agent once its WebSocket to the Controller is up (R-MTP.6).
        case webSocketConnect
        /// Sent by an Agent after connecting to the broker, with the topic it listens on.
        case mqttConnect(version: MQTTVersion, subscribedTopic: String)
        /// Sent by an Agent after connecting to the STOMP server, with its destination.
        case stompConnect(version: STOMPVersion, subscribedDestination: String)
        /// The sender is closing the MTP or the Session Context; drop E2E state for it (R-MTP.7).
        /// `reasonCode` is a Record error, 7100-7106 (R-MTP.9).
        case disconnect(reason: String, reasonCode: USPErrorCode)
        /// Sent by an Agent after the UNIX domain socket handshake (USP 1.3).
        case udsConnect
    }

    /// "Major.Minor" of the sender's USP version.
    public var version: String
    /// The receiver's Endpoint ID; a Record for another ID is ignored (R-E2E.1).
    public var toID: String
    /// The sender's Endpoint ID.
    public var fromID: String
    public var payloadSecurity: PayloadSecurity
    /// Signature or HMAC over the non-payload fields (R-E2E.29 to R-E2E.39); empty when the MTP
    /// protects the Record.
    public var macSignature: [UInt8]
    /// The sender's PEM certificate, for checking ``macSignature``.
    public var senderCertificate: [UInt8]
    public var kind: Kind
    /// Fields this schema does not define (USP 1.5 and later), kept for re-encoding.
    var unknownFields: SwiftProtobuf.UnknownStorage

    public init(
        version: String = USPRecord.protocolVersion, toID: String, fromID: String,
        payloadSecurity: PayloadSecurity = .plaintext, macSignature: [UInt8] = [], senderCertificate: [UInt8] = [],
        kind: Kind
    ) {
        self.version = version
        self.toID = toID
        self.fromID = fromID
        self.payloadSecurity = payloadSecurity
        self.macSignature = macSignature
        self.senderCertificate = senderCertificate
        self.kind = kind
        self.unknownFields = SwiftProtobuf.UnknownStorage()
    }

    /// A Record between two endpoint IDs.
    public init(
        version: String = USPRecord.protocolVersion, to: EndpointID, from: EndpointID,
        payloadSecurity: PayloadSecurity = .plaintext, kind: Kind
    ) {
        self.init(version: version, toID: to.rawValue, fromID: from.rawValue, payloadSecurity: payloadSecurity, kind: kind)
    }

    /// ``toID`` parsed as an endpoint ID (leniently about length, as registries are); nil when it is
    /// not one.
    public var toEndpoint: EndpointID? { try? EndpointID(toID, strictLength: false) }
    /// ``fromID`` parsed as an endpoint ID; nil when it is not one.
    public var fromEndpoint: EndpointID? { try? EndpointID(fromID, strictLength: false) }

    /// USP 1.5 `originator_id` (field 14): the original sender of a forwarded Record. Read from the
    /// fields the 1.4 schema does not know; nil when absent.
    public var originatorID: String? { WireScanner.string(field: 14, in: unknownFields.data.bytes) }
    /// USP 1.5 `destination_id` (field 15): the final target of a forwarded Record; nil when absent.
    public var destinationID: String? { WireScanner.string(field: 15, in: unknownFields.data.bytes) }

    /// Whether the Record carries fields unknown to the 1.4 schema (a newer peer).
    public var hasUnknownFields: Bool { !unknownFields.data.isEmpty }

    /// Whether this Record is addressed to `endpoint` (R-E2E.1: ignore it otherwise).
    public func isAddressed(to endpoint: EndpointID) -> Bool {
        toEndpoint.map { $0.lookupKey == endpoint.lookupKey } ?? (toID == endpoint.rawValue)
    }
}

extension USPRecord: Hashable {
    public static func == (lhs: USPRecord, rhs: USPRecord) -> Bool {
        lhs.version == rhs.version && lhs.toID == rhs.toID && lhs.fromID == rhs.fromID
            && lhs.payloadSecurity == rhs.payloadSecurity && lhs.macSignature == rhs.macSignature
            && lhs.senderCertificate == rhs.senderCertificate && lhs.kind == rhs.kind
            && lhs.unknownFields.data == rhs.unknownFields.data
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(version)
        hasher.combine(toID)
        hasher.combine(fromID)
        hasher.combine(payloadSecurity)
        hasher.combine(kind)
        hasher.combine(unknownFields.data)
    }
}

// MARK: Builders

extension USPRecord {
    /// A `NoSessionContextRecord` carrying `message`, from `from` to `to`.
    /// - Throws: ``USPEncodingError`` when the message lacks its `msg_id`.
    public init(message: USPMessage, to: EndpointID, from: EndpointID, version: String = USPRecord.protocolVersion) throws(USPEncodingError) {
        self.init(version: version, to: to, from: from, kind: .noSessionContext(payload: try message.serializedBytes()))
    }

    /// A DisconnectRecord (R-MTP.7) with a Record error code (R-MTP.9).
    public static func disconnect(
        to: EndpointID, from: EndpointID, reason: String, code: USPErrorCode, version: String = USPRecord.protocolVersion
    ) -> USPRecord {
        USPRecord(version: version, to: to, from: from, kind: .disconnect(reason: reason, reasonCode: code))
    }

    /// The Message inside a `NoSessionContextRecord`.
    /// - Throws: ``USPDecodingError`` when the Record is of another kind or the payload does not
    ///   decode. Session Context payloads go through ``USPSessionContext`` reassembly first.
    public func message(limits: USPDecodingLimits = .default) throws(USPDecodingError) -> USPMessage {
        switch kind {
        case .noSessionContext(let payload):
            return try USPMessage(serializedBytes: payload, limits: limits)
        case .sessionContext:
            throw USPDecodingError(
                layer: .record, reason: .unexpectedKind("a session_context Record must be reassembled by its USPSessionContext"))
        default:
            throw USPDecodingError(layer: .record, reason: .unexpectedKind("\(kind.name) Record carries no Message"))
        }
    }
}

extension USPRecord.Kind {
    /// The `record_type` field name.
    public var name: String {
        switch self {
        case .noSessionContext: "no_session_context"
        case .sessionContext: "session_context"
        case .webSocketConnect: "websocket_connect"
        case .mqttConnect: "mqtt_connect"
        case .stompConnect: "stomp_connect"
        case .disconnect: "disconnect"
        case .udsConnect: "uds_connect"
        }
    }
}
