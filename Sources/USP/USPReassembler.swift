/// Rebuilds payloads from Session Context Records fed in `sequence_id` order (TR-369 "SAR function
/// algorithm", receiving Endpoint): a payload is complete at a Record whose `payload_sar_state` is
/// `COMPLETE` (with `payloadrec_sar_state` `COMPLETE`, or `NONE` when each Record held whole TLS
/// records), or at once for `NONE`.
public struct USPReassembler: Hashable, Sendable {
    public let maxPayloadBytes: Int
    private var buffer: [UInt8] = []
    /// True between a `BEGIN` and its `COMPLETE`.
    public private(set) var isInProgress = false

    public init(maxPayloadBytes: Int = USPDecodingLimits.default.maxMessageBytes) {
        self.maxPayloadBytes = maxPayloadBytes
    }

    /// Adds the next Record's payload. Returns the payload when it is complete; nil while a
    /// segmented payload is still open, or for a Record without payload (an acknowledgement or a
    /// retransmission request).
    /// - Throws: ``USPSessionFailure`` for SAR states out of order or a payload over the limit;
    ///   the partial payload is dropped.
    public mutating func append(_ record: USPRecord.SessionContext) throws(USPSessionFailure) -> [UInt8]? {
        let sar = record.payloadSARState
        let rec = record.payloadrecSARState
        func fail(_ detail: String) -> USPSessionFailure {
            reset()
            return USPSessionFailure(.segmentation("sequence_id \(record.sequenceID): \(detail)"))
        }
        let size = record.payload.reduce(0) { $0 + $1.count }
        switch sar {
        case .none:
            // A Record without payload (an acknowledgement or a retransmission request) may arrive
            // between segments; it carries nothing to reassemble.
            if isInProgress && size == 0 && rec == .none { return nil }
            guard !isInProgress else { throw fail("an unsegmented Record arrived inside a segmented payload") }
            guard rec == .none else { throw fail("payloadrec_sar_state \(rec) with payload_sar_state NONE") }
            guard size > 0 else { return nil }
            guard size <= maxPayloadBytes else { throw USPSessionFailure(.payloadTooLarge(size: size, limit: maxPayloadBytes)) }
            return record.payload.count == 1 ? record.payload[0] : Array(record.payload.joined())
        case .begin:
            guard !isInProgress else { throw fail("BEGIN inside a segmented payload") }
            isInProgress = true
            buffer = []
        case .inProcess, .complete:
            guard isInProgress else { throw fail("\(sar) without a BEGIN") }
        }
        guard buffer.count + size <= maxPayloadBytes else {
            let total = buffer.count + size
            reset()
            throw USPSessionFailure(.payloadTooLarge(size: total, limit: maxPayloadBytes))
        }
        for element in record.payload { buffer += element }
        guard sar == .complete else { return nil }
        guard rec == .complete || rec == .none else { throw fail("payload_sar_state COMPLETE with payloadrec_sar_state \(rec)") }
        let payload = buffer
        reset()
        return payload
    }

    /// Drops any partial payload.
    public mutating func reset() {
        buffer = []
        isInProgress = false
    }
}
