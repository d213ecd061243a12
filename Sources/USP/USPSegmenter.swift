/// Splits a payload into Session Context segments that each fit, once wrapped in a Record, under a
/// maximum Record size (TR-369 "SAR function algorithm", originating Endpoint). Pure: no state.
///
/// The size of the Record header is measured on `template` (version, `to_id`, `from_id`,
/// `payload_security`, and a `mac_signature` / `sender_cert` of the length that will be sent),
/// with every Session Context counter at its largest encoding, so that any `session_id` /
/// `sequence_id` / `expected_id` / `retransmit_id` fits.
///
/// The payload is segmented as one element: PLAINTEXT (cases 1 and 2 of the specification), where
/// `payloadrec_sar_state` equals `payload_sar_state`. For TLS12 the caller passes the TLS records
/// back to back; they are split on size, not on TLS record boundaries.
public struct USPSegmenter: Hashable, Sendable {
    /// One Record's share of the payload.
    public struct Segment: Hashable, Sendable {
        public var payload: [UInt8]
        public var payloadSARState: USPRecord.SARState
        public var payloadrecSARState: USPRecord.SARState

        public init(payload: [UInt8], payloadSARState: USPRecord.SARState, payloadrecSARState: USPRecord.SARState) {
            self.payload = payload
            self.payloadSARState = payloadSARState
            self.payloadrecSARState = payloadrecSARState
        }
    }

    public let maxRecordBytes: Int
    public let template: USPRecord
    /// The most payload bytes one Record can carry.
    public let maxSegmentBytes: Int

    /// - Throws: ``USPSessionFailure/Reason/recordSizeTooSmall(maxRecordBytes:overhead:)`` when the
    ///   header alone does not fit.
    public init(maxRecordBytes: Int, template: USPRecord) throws(USPSessionFailure) {
        self.maxRecordBytes = maxRecordBytes
        self.template = template
        func size(payloadBytes: Int) -> Int {
            var record = template
            record.kind = .sessionContext(
                USPRecord.SessionContext(
                    sessionID: .max, sequenceID: .max, expectedID: .max, retransmitID: .max,
                    payloadSARState: .inProcess, payloadrecSARState: .inProcess,
                    payload: [[UInt8](repeating: 0, count: payloadBytes)]))
            // The template's fields are plain strings and bytes; encoding fails only past 2 GiB.
            return (try? ProtobufSupport.encode(record.proto).count) ?? Int.max
        }
        let overhead = size(payloadBytes: 0)
        var fit = maxRecordBytes - overhead
        // Length prefixes grow with the payload (1 to 5 bytes each): step back until it fits.
        while fit > 0 && size(payloadBytes: fit) > maxRecordBytes { fit -= 1 }
        guard fit > 0 else { throw USPSessionFailure(.recordSizeTooSmall(maxRecordBytes: maxRecordBytes, overhead: overhead)) }
        self.maxSegmentBytes = fit
    }

    /// The segments of `payload`, in order: one with `NONE` when it fits, otherwise
    /// `BEGIN`, `INPROCESS`..., `COMPLETE`.
    public func segment(_ payload: [UInt8]) -> [Segment] {
        guard payload.count > maxSegmentBytes else {
            return [Segment(payload: payload, payloadSARState: .none, payloadrecSARState: .none)]
        }
        var segments: [Segment] = []
        var start = 0
        while start < payload.count {
            let end = min(start + maxSegmentBytes, payload.count)
            let state: USPRecord.SARState = start == 0 ? .begin : (end == payload.count ? .complete : .inProcess)
            segments.append(Segment(payload: Array(payload[start..<end]), payloadSARState: state, payloadrecSARState: state))
            start = end
        }
        return segments
    }

    /// Whole Records for `payload`, numbered from `firstSequenceID`.
    public func records(for payload: [UInt8], sessionID: UInt64, firstSequenceID: UInt64, expectedID: UInt64) -> [USPRecord] {
        segment(payload).enumerated().map { offset, segment in
            var record = template
            record.kind = .sessionContext(
                USPRecord.SessionContext(
                    sessionID: sessionID, sequenceID: firstSequenceID + UInt64(offset), expectedID: expectedID,
                    payloadSARState: segment.payloadSARState, payloadrecSARState: segment.payloadrecSARState,
                    payload: [segment.payload]))
            return record
        }
    }
}
