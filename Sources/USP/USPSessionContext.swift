/// The E2E Session Context between Tandem and one Agent (TR-369 "End to End Message Exchange"):
/// sequencing, acknowledgement, retransmission, duplicate suppression and segmentation of Records
/// over MTPs that may reorder or lose them, or that cap their size.
///
/// ``StateMachine`` holds the state; this namespace holds its configuration and vocabulary.
public enum USPSessionContext {
    /// The per-Controller E2ESession settings of `Device.LocalAgent.Controller.{i}.E2ESession`,
    /// seen from the Controller, plus the Record header used when sending.
    public struct Configuration: Hashable, Sendable {
        /// Tandem's Endpoint ID (`from_id` of what it sends).
        public var localEndpointID: String
        /// The Agent's Endpoint ID (`to_id` of what Tandem sends).
        public var peerEndpointID: String
        /// The `version` written into outgoing Records.
        public var version: String
        /// Constant within a context (R-E2E.18).
        public var payloadSecurity: USPRecord.PayloadSecurity
        /// `MaxUSPRecordSize`: outgoing Messages are segmented so that each Record fits; nil sends
        /// every Message in one Record.
        public var maxRecordBytes: Int?
        /// Largest reassembled Message accepted.
        public var maxMessageBytes: Int
        /// `MaxRetransmitTries`: how often one Record may be resent on request, and how often a
        /// missing Record is asked for before the context is restarted.
        public var maxRetransmitTries: Int
        /// How many Records beyond `expected_id` may wait in the incoming buffer (R-E2E.20 rule 1);
        /// beyond it the Record cannot be buffered and the context restarts (R-E2E.21).
        public var reorderWindow: UInt64
        /// How long to wait for a missing Record before asking for it again.
        public var retransmitTimeout: Duration
        /// `SessionExpiration`: idle time after which the context is dropped; nil keeps it.
        public var sessionExpiration: Duration?

        public init(
            localEndpointID: String, peerEndpointID: String, version: String = USPRecord.protocolVersion,
            payloadSecurity: USPRecord.PayloadSecurity = .plaintext, maxRecordBytes: Int? = nil,
            maxMessageBytes: Int = USPDecodingLimits.default.maxMessageBytes, maxRetransmitTries: Int = 3,
            reorderWindow: UInt64 = 64, retransmitTimeout: Duration = .seconds(5), sessionExpiration: Duration? = nil
        ) {
            self.localEndpointID = localEndpointID
            self.peerEndpointID = peerEndpointID
            self.version = version
            self.payloadSecurity = payloadSecurity
            self.maxRecordBytes = maxRecordBytes
            self.maxMessageBytes = maxMessageBytes
            self.maxRetransmitTries = maxRetransmitTries
            self.reorderWindow = reorderWindow
            self.retransmitTimeout = retransmitTimeout
            self.sessionExpiration = sessionExpiration
        }

        /// `context` wrapped in a Record from ``localEndpointID`` to ``peerEndpointID``.
        public func record(_ context: USPRecord.SessionContext) -> USPRecord {
            USPRecord(
                version: version, toID: peerEndpointID, fromID: localEndpointID, payloadSecurity: payloadSecurity,
                kind: .sessionContext(context))
        }
    }

    /// Why a received Record was dropped without effect.
    public enum IgnoreReason: Hashable, Sendable {
        /// Already processed or already buffered (R-E2E.20 rule 2, R-E2E.25).
        case duplicate(sequenceID: UInt64)
        /// `session_id` 0 (R-E2E.24); the context restarts as well.
        case invalidSessionID
    }
}
