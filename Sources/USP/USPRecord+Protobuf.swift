#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SwiftProtobuf
import TandemCore

extension USPRecord {
    /// Decodes a Record received from an MTP.
    ///
    /// Refuses, with a ``USPDecodingError`` and never a trap: input above
    /// ``USPDecodingLimits/maxRecordBytes`` (7100, before parsing); truncated or malformed protobuf
    /// (7100); a Record without `record_type` (R-ENC.3/4), without `version`, `to_id` or `from_id`
    /// (R-MTP.4b), with an unknown enumeration value (R-ENC.2), an empty `no_session_context`
    /// payload (R-E2E.26), TLS12 outside a Session Context (R-E2E.41) or inconsistent SAR states
    /// (7104). Unknown fields are kept.
    public init(serializedBytes bytes: [UInt8], limits: USPDecodingLimits = .default) throws(USPDecodingError) {
        guard bytes.count <= limits.maxRecordBytes else {
            throw USPDecodingError(layer: .record, reason: .tooLarge(size: bytes.count, limit: limits.maxRecordBytes))
        }
        let proto = try ProtobufSupport.decode(UspRecord_Record.self, from: bytes, limits: limits, layer: .record)
        try self.init(validating: proto)
    }

    /// Serializes the Record (deterministically; unknown fields from a decoded Record are written
    /// back after the known ones).
    /// - Throws: ``USPEncodingError`` when `version`, `to_id` or `from_id` is empty (R-MTP.4b) or a
    ///   `no_session_context` payload is empty (R-E2E.26).
    public func serializedBytes() throws(USPEncodingError) -> [UInt8] {
        for (name, value) in [("version", version), ("to_id", toID), ("from_id", fromID)] where value.isEmpty {
            throw USPEncodingError("USP Record needs a \(name) (R-MTP.4b)")
        }
        if case .noSessionContext(let payload) = kind, payload.isEmpty {
            throw USPEncodingError("a no_session_context Record needs a non-empty payload (R-E2E.26)")
        }
        return try ProtobufSupport.encode(proto)
    }

    private static func fail(_ reason: USPDecodingError.Reason) -> USPDecodingError {
        USPDecodingError(layer: .record, reason: reason)
    }

    init(validating proto: UspRecord_Record) throws(USPDecodingError) {
        for (name, value) in [("version", proto.version), ("to_id", proto.toID), ("from_id", proto.fromID)] where value.isEmpty {
            throw Self.fail(.missingField(name))
        }
        guard let security = PayloadSecurity(rawValue: proto.payloadSecurity.rawValue) else {
            throw Self.fail(.invalidValue(field: "payload_security", detail: "unknown value \(proto.payloadSecurity.rawValue) (R-ENC.2)"))
        }
        guard let recordType = proto.recordType else {
            throw Self.fail(.missingField("record_type"))
        }
        let kind: Kind
        switch recordType {
        case .noSessionContext(let record):
            guard !record.payload.isEmpty else {
                throw Self.fail(.invalidValue(field: "no_session_context.payload", detail: "empty (R-E2E.26)"))
            }
            guard security == .plaintext else {
                throw Self.fail(.invalidValue(field: "payload_security", detail: "TLS12 requires a Session Context (R-E2E.41)"))
            }
            kind = .noSessionContext(payload: record.payload.bytes)
        case .sessionContext(let record):
            guard let sar = SARState(rawValue: record.payloadSarState.rawValue),
                let recSAR = SARState(rawValue: record.payloadrecSarState.rawValue)
            else {
                throw Self.fail(.invalidValue(field: "session_context.payload_sar_state", detail: "unknown PayloadSARState (R-ENC.2)"))
            }
            if sar == .none && recSAR != .none {
                // "If payload_sar_state = 0 ... then payloadrec_sar_state will be 0."
                throw Self.fail(.invalidValue(field: "session_context.payloadrec_sar_state", detail: "\(recSAR) while payload_sar_state is NONE"))
            }
            kind = .sessionContext(
                SessionContext(
                    sessionID: record.sessionID, sequenceID: record.sequenceID, expectedID: record.expectedID,
                    retransmitID: record.retransmitID, payloadSARState: sar, payloadrecSARState: recSAR,
                    payload: record.payload.map(\.bytes)))
        case .websocketConnect:
            kind = .webSocketConnect
        case .mqttConnect(let record):
            guard let version = MQTTVersion(rawValue: record.version.rawValue) else {
                throw Self.fail(.invalidValue(field: "mqtt_connect.version", detail: "unknown MQTTVersion \(record.version.rawValue) (R-ENC.2)"))
            }
            kind = .mqttConnect(version: version, subscribedTopic: record.subscribedTopic)
        case .stompConnect(let record):
            guard let version = STOMPVersion(rawValue: record.version.rawValue) else {
                throw Self.fail(.invalidValue(field: "stomp_connect.version", detail: "unknown STOMPVersion \(record.version.rawValue) (R-ENC.2)"))
            }
            kind = .stompConnect(version: version, subscribedDestination: record.subscribedDestination)
        case .disconnect(let record):
            kind = .disconnect(reason: record.reason, reasonCode: USPErrorCode(record.reasonCode))
        case .udsConnect:
            kind = .udsConnect
        }
        self.init(
            version: proto.version, toID: proto.toID, fromID: proto.fromID, payloadSecurity: security,
            macSignature: proto.macSignature.bytes, senderCertificate: proto.senderCert.bytes, kind: kind)
        self.unknownFields = proto.unknownFields
    }

    var proto: UspRecord_Record {
        var proto = UspRecord_Record()
        proto.version = version
        proto.toID = toID
        proto.fromID = fromID
        proto.payloadSecurity = UspRecord_Record.PayloadSecurity(rawValue: payloadSecurity.rawValue) ?? .plaintext
        proto.macSignature = Data(macSignature)
        proto.senderCert = Data(senderCertificate)
        switch kind {
        case .noSessionContext(let payload):
            var record = UspRecord_NoSessionContextRecord()
            record.payload = Data(payload)
            proto.noSessionContext = record
        case .sessionContext(let context):
            proto.sessionContext = context.proto
        case .webSocketConnect:
            proto.websocketConnect = UspRecord_WebSocketConnectRecord()
        case .mqttConnect(let version, let topic):
            var record = UspRecord_MQTTConnectRecord()
            record.version = UspRecord_MQTTConnectRecord.MQTTVersion(rawValue: version.rawValue) ?? .v311
            record.subscribedTopic = topic
            proto.mqttConnect = record
        case .stompConnect(let version, let destination):
            var record = UspRecord_STOMPConnectRecord()
            record.version = UspRecord_STOMPConnectRecord.STOMPVersion(rawValue: version.rawValue) ?? .v12
            record.subscribedDestination = destination
            proto.stompConnect = record
        case .disconnect(let reason, let code):
            var record = UspRecord_DisconnectRecord()
            record.reason = reason
            record.reasonCode = code.rawValue
            proto.disconnect = record
        case .udsConnect:
            proto.udsConnect = UspRecord_UDSConnectRecord()
        }
        proto.unknownFields = unknownFields
        return proto
    }
}

extension USPRecord.SessionContext {
    var proto: UspRecord_SessionContextRecord {
        var record = UspRecord_SessionContextRecord()
        record.sessionID = sessionID
        record.sequenceID = sequenceID
        record.expectedID = expectedID
        record.retransmitID = retransmitID
        typealias SARState = UspRecord_SessionContextRecord.PayloadSARState
        record.payloadSarState = SARState(rawValue: payloadSARState.rawValue) ?? SARState.none
        record.payloadrecSarState = SARState(rawValue: payloadrecSARState.rawValue) ?? SARState.none
        record.payload = payload.map { Data($0) }
        return record
    }
}
