import TandemCore

/// Why an E2E Session Context operation failed. Per R-E2E.21 a Record that cannot be buffered or
/// processed ends the context: the state machine purges it and the owner starts a new one.
public struct USPSessionFailure: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Reason: Hashable, Sendable {
        /// No context is established; call `start(sessionID:now:)` first.
        case noSession
        /// A session identifier that R-E2E.3 does not allow (it must be greater than 1).
        case invalidSessionID(UInt64)
        /// `payload_security` changed within the context (R-E2E.18, R-E2E.19).
        case payloadSecurityChanged
        /// A Record arrived too far ahead of `expected_id` to buffer (R-E2E.20 rule 1, R-E2E.21).
        case reorderWindowExceeded(sequenceID: UInt64, expectedID: UInt64)
        /// The peer asked to resend a Record that is no longer (or never was) in the outgoing
        /// buffer.
        case retransmitUnavailable(sequenceID: UInt64)
        /// A Record was asked for more often than `MaxRetransmitTries`, or a missing Record did not
        /// arrive after as many requests.
        case retransmitLimitReached(sequenceID: UInt64)
        /// The SAR states of consecutive Records do not form a segmented payload.
        case segmentation(String)
        /// A reassembled payload grew past the limit.
        case payloadTooLarge(size: Int, limit: Int)
        /// `sequence_id` came within 10,000 of its maximum (R-E2E.8, R-E2E.9).
        case sequenceExhausted
        /// The context was idle longer than `SessionExpiration`.
        case expired
        /// The maximum Record size leaves no room for payload.
        case recordSizeTooSmall(maxRecordBytes: Int, overhead: Int)
    }

    public let reason: Reason

    public init(_ reason: Reason) {
        self.reason = reason
    }

    /// The Record error to put in a DisconnectRecord when the context ends on this failure:
    /// 7104 for a Record with an invalid value, 7105 when the context is terminated otherwise.
    public var code: USPErrorCode {
        switch reason {
        case .invalidSessionID, .payloadSecurityChanged, .segmentation, .payloadTooLarge: .invalidRecordValue
        default: .sessionContextTerminated
        }
    }

    public var description: String {
        switch reason {
        case .noSession: "no E2E Session Context is established"
        case .invalidSessionID(let id): "session_id \(id) is not allowed (R-E2E.3: greater than 1)"
        case .payloadSecurityChanged: "payload_security changed within the Session Context (R-E2E.19)"
        case .reorderWindowExceeded(let seq, let expected): "sequence_id \(seq) is too far ahead of expected_id \(expected) to buffer"
        case .retransmitUnavailable(let seq): "retransmission of sequence_id \(seq) requested, but it is not in the outgoing buffer"
        case .retransmitLimitReached(let seq): "sequence_id \(seq) reached MaxRetransmitTries"
        case .segmentation(let detail): "segmentation and reassembly failed: \(detail)"
        case .payloadTooLarge(let size, let limit): "reassembled payload of \(size) bytes exceeds \(limit)"
        case .sequenceExhausted: "sequence_id is within 10,000 of its maximum (R-E2E.8)"
        case .expired: "the Session Context expired"
        case .recordSizeTooSmall(let max, let overhead): "a \(max)-byte Record leaves no room for payload (\(overhead) bytes of header)"
        }
    }
}
