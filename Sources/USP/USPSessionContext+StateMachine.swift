extension USPSessionContext {
    /// The E2E Session Context with one peer as a pure value: every event is a `mutating` method
    /// that returns the actions for its owner to carry out (send these Records, deliver these
    /// Messages, arm a timer). It performs no I/O and reads no clock: time comes in as `now`.
    ///
    /// Rules implemented (TR-369 "End to End Message Exchange"):
    /// - a context starts with `start(sessionID:now:)` (the originator's choice, R-E2E.3) or when
    ///   a Record with a new `session_id` arrives (R-E2E.4, R-E2E.6), which also drops the previous
    ///   context; counters start at 1 (R-E2E.14);
    /// - outgoing Records are numbered +1 each (R-E2E.15), carry `expected_id` (R-E2E.17) and stay
    ///   in the outgoing buffer until the peer's `expected_id` passes them (R-E2E.16);
    /// - incoming Records: ahead of `expected_id` → buffered (within ``Configuration/reorderWindow``),
    ///   and the missing one is requested with `retransmit_id`; behind it or already buffered →
    ///   ignored (R-E2E.20, R-E2E.25); equal → processed with the buffered ones that follow:
    ///   payload reassembled and delivered, then a non-zero `retransmit_id` answered from the
    ///   outgoing buffer (R-E2E.20 rule 3), at most ``Configuration/maxRetransmitTries`` times;
    /// - anything that cannot be buffered or processed purges the context and asks for a restart
    ///   (R-E2E.21); so do a change of `payload_security` (R-E2E.19), `session_id` 0 (R-E2E.24)
    ///   and a `sequence_id` within 10,000 of its maximum (R-E2E.8, R-E2E.9);
    /// - a DisconnectRecord purges everything (R-MTP.7): ``disconnectReceived()``;
    /// - after ``Configuration/sessionExpiration`` of silence the context is dropped.
    public struct StateMachine<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
        /// What the owner must do.
        public enum Action: Hashable, Sendable {
            /// A complete Message payload, in sequence order; decode it with
            /// ``USPMessage/init(serializedBytes:limits:)``.
            case deliver([UInt8])
            /// Send this Record (a retransmission the peer asked for, or an empty Record asking for a
            /// missing one); wrap it with ``Configuration/record(_:)``.
            case send(USPRecord.SessionContext)
            /// The peer started a new context; any previous one was dropped (R-E2E.6).
            case sessionStarted(sessionID: UInt64)
            /// The Record arrived early and waits for the missing ones.
            case buffered(sequenceID: UInt64)
            case ignored(IgnoreReason)
            /// The context failed and was purged; start a new one (R-E2E.21) and, if the failure
            /// came from the peer's Records, tell it with a Disconnect carrying ``USPSessionFailure/code``.
            case restartSession(USPSessionFailure)
            /// Call ``timeoutFired(now:)`` at this instant.
            case scheduleTimeout(Instant)
        }

        private struct Outgoing: Sendable {
            var record: USPRecord.SessionContext
            var retransmissions: Int
        }

        private struct Missing: Sendable {
            var sequenceID: UInt64
            var requests: Int
            var deadline: Instant
        }

        private struct Context: Sendable {
            var sessionID: UInt64
            var payloadSecurity: USPRecord.PayloadSecurity
            var nextSequenceID: UInt64 = 1
            var expectedID: UInt64 = 1
            var outgoing: [UInt64: Outgoing] = [:]
            var incoming: [UInt64: USPRecord.SessionContext] = [:]
            var reassembler: USPReassembler
            var missing: Missing?
            var lastActivity: Instant
        }

        private enum State: Sendable {
            case idle
            case active(Context)
        }

        public let configuration: Configuration
        private let segmenter: USPSegmenter?
        private var state: State = .idle

        /// Highest `sequence_id` usable before the context must be renewed (R-E2E.8, R-E2E.9).
        static var sequenceLimit: UInt64 { UInt64.max - 10_000 }

        /// - Throws: ``USPSessionFailure/Reason/recordSizeTooSmall(maxRecordBytes:overhead:)`` when
        ///   ``Configuration/maxRecordBytes`` cannot hold a Record header.
        public init(configuration: Configuration) throws(USPSessionFailure) {
            self.configuration = configuration
            if let maxRecordBytes = configuration.maxRecordBytes {
                let template = USPRecord(
                    version: configuration.version, toID: configuration.peerEndpointID, fromID: configuration.localEndpointID,
                    payloadSecurity: configuration.payloadSecurity, kind: .webSocketConnect)
                self.segmenter = try USPSegmenter(maxRecordBytes: maxRecordBytes, template: template)
            } else {
                self.segmenter = nil
            }
        }

        // MARK: Inspection

        /// The current context's `session_id`; nil when there is none.
        public var sessionID: UInt64? {
            if case .active(let context) = state { context.sessionID } else { nil }
        }

        /// The `sequence_id` the next outgoing Record will carry.
        public var nextSequenceID: UInt64? {
            if case .active(let context) = state { context.nextSequenceID } else { nil }
        }

        /// The next incoming `sequence_id` expected.
        public var expectedID: UInt64? {
            if case .active(let context) = state { context.expectedID } else { nil }
        }

        /// Sent Records the peer has not acknowledged yet, in order.
        public var unacknowledgedSequenceIDs: [UInt64] {
            if case .active(let context) = state { context.outgoing.keys.sorted() } else { [] }
        }

        /// Received Records waiting for a missing predecessor, in order.
        public var bufferedSequenceIDs: [UInt64] {
            if case .active(let context) = state { context.incoming.keys.sorted() } else { [] }
        }

        /// When ``timeoutFired(now:)`` should next be called (a pending retransmission request or
        /// the expiry of an idle context); nil when nothing is pending.
        public var nextDeadline: Instant? {
            guard case .active(let context) = state else { return nil }
            let expiry = configuration.sessionExpiration.map { context.lastActivity.advanced(by: $0) }
            switch (context.missing?.deadline, expiry) {
            case (let a?, let b?): return min(a, b)
            case (let a?, nil): return a
            case (nil, let b?): return b
            case (nil, nil): return nil
            }
        }

        // MARK: Events

        /// Starts (or restarts) a context that Tandem originates, dropping any previous one.
        /// - Throws: ``USPSessionFailure/Reason/invalidSessionID(_:)`` unless `sessionID` is greater
        ///   than 1 (R-E2E.3).
        public mutating func start(sessionID: UInt64, now: Instant) throws(USPSessionFailure) {
            guard sessionID > 1 else { throw USPSessionFailure(.invalidSessionID(sessionID)) }
            state = .active(newContext(sessionID: sessionID, payloadSecurity: configuration.payloadSecurity, now: now))
        }

        /// Numbers (and segments) an outgoing Message payload; the Records stay buffered for
        /// retransmission until acknowledged. An empty payload gives one Record without payload,
        /// which acknowledges what was received.
        /// - Throws: ``USPSessionFailure`` `.noSession` without a context, `.expired` when it timed
        ///   out, `.sequenceExhausted` near the end of the counter (R-E2E.9); the latter two purge it.
        public mutating func send(_ payload: [UInt8], now: Instant) throws(USPSessionFailure) -> [USPRecord.SessionContext] {
            guard case .active(var context) = state else { throw USPSessionFailure(.noSession) }
            if isExpired(context, now: now) {
                state = .idle
                throw USPSessionFailure(.expired)
            }
            let segments =
                payload.isEmpty
                ? [USPSegmenter.Segment(payload: [], payloadSARState: .none, payloadrecSARState: .none)]
                : segmenter?.segment(payload) ?? [USPSegmenter.Segment(payload: payload, payloadSARState: .none, payloadrecSARState: .none)]
            guard context.nextSequenceID <= Self.sequenceLimit - UInt64(segments.count) else {
                state = .idle
                throw USPSessionFailure(.sequenceExhausted)
            }
            var records: [USPRecord.SessionContext] = []
            for segment in segments {
                let record = USPRecord.SessionContext(
                    sessionID: context.sessionID, sequenceID: context.nextSequenceID, expectedID: context.expectedID,
                    payloadSARState: segment.payloadSARState, payloadrecSARState: segment.payloadrecSARState,
                    payload: segment.payload.isEmpty ? [] : [segment.payload])
                context.outgoing[record.sequenceID] = Outgoing(record: record, retransmissions: 0)
                context.nextSequenceID += 1
                records.append(record)
            }
            context.lastActivity = now
            state = .active(context)
            return records
        }

        /// Handles a received Session Context Record (already checked to be addressed to Tandem,
        /// R-E2E.1). `payloadSecurity` is the Record's `payload_security`.
        public mutating func receive(
            _ record: USPRecord.SessionContext, payloadSecurity: USPRecord.PayloadSecurity, now: Instant
        ) -> [Action] {
            if case .active(let context) = state, isExpired(context, now: now) {
                state = .idle
            }
            guard record.sessionID != 0 else {
                state = .idle
                return [.ignored(.invalidSessionID), .restartSession(USPSessionFailure(.invalidSessionID(0)))]
            }
            var actions: [Action] = []
            var context: Context
            if case .active(let current) = state, current.sessionID == record.sessionID {
                context = current
            } else {
                context = newContext(sessionID: record.sessionID, payloadSecurity: payloadSecurity, now: now)
                actions.append(.sessionStarted(sessionID: record.sessionID))
            }
            func fail(_ reason: USPSessionFailure.Reason) -> [Action] {
                state = .idle
                return actions + [.restartSession(USPSessionFailure(reason))]
            }
            guard payloadSecurity == context.payloadSecurity else { return fail(.payloadSecurityChanged) }
            guard record.sequenceID <= Self.sequenceLimit else { return fail(.sequenceExhausted) }
            context.lastActivity = now

            // The peer's expected_id acknowledges everything we sent below it (R-E2E.16).
            context.outgoing = context.outgoing.filter { $0.key >= record.expectedID }

            if record.sequenceID < context.expectedID || context.incoming[record.sequenceID] != nil {
                state = .active(context)
                return actions + [.ignored(.duplicate(sequenceID: record.sequenceID))]
            }
            if record.sequenceID > context.expectedID {
                guard record.sequenceID - context.expectedID <= configuration.reorderWindow else {
                    return fail(.reorderWindowExceeded(sequenceID: record.sequenceID, expectedID: context.expectedID))
                }
                context.incoming[record.sequenceID] = record
                actions.append(.buffered(sequenceID: record.sequenceID))
                actions += requestMissing(&context, now: now)
                state = .active(context)
                return actions
            }

            var next: USPRecord.SessionContext? = record
            while let current = next {
                do throws(USPSessionFailure) {
                    if let payload = try context.reassembler.append(current) {
                        actions.append(.deliver(payload))
                    }
                } catch {
                    state = .idle
                    return actions + [.restartSession(error)]
                }
                if current.retransmitID != 0 {
                    guard var stored = context.outgoing[current.retransmitID] else {
                        return fail(.retransmitUnavailable(sequenceID: current.retransmitID))
                    }
                    guard stored.retransmissions < configuration.maxRetransmitTries else {
                        return fail(.retransmitLimitReached(sequenceID: current.retransmitID))
                    }
                    stored.retransmissions += 1
                    context.outgoing[current.retransmitID] = stored
                    actions.append(.send(stored.record))
                }
                context.expectedID = current.sequenceID + 1
                next = context.incoming.removeValue(forKey: context.expectedID)
            }
            if context.incoming.isEmpty {
                context.missing = nil
            } else {
                actions += requestMissing(&context, now: now)
            }
            state = .active(context)
            return actions
        }

        /// A timer armed by ``Action/scheduleTimeout(_:)`` (or ``nextDeadline``) fired: asks again
        /// for a missing Record, gives up after ``Configuration/maxRetransmitTries`` requests, and
        /// drops an expired context.
        public mutating func timeoutFired(now: Instant) -> [Action] {
            guard case .active(var context) = state else { return [] }
            if isExpired(context, now: now) {
                state = .idle
                return [.restartSession(USPSessionFailure(.expired))]
            }
            var actions: [Action] = []
            if var missing = context.missing, now >= missing.deadline {
                guard missing.requests < configuration.maxRetransmitTries else {
                    state = .idle
                    return [.restartSession(USPSessionFailure(.retransmitLimitReached(sequenceID: missing.sequenceID)))]
                }
                actions.append(.send(controlRecord(&context, retransmitID: missing.sequenceID)))
                missing.requests += 1
                missing.deadline = now.advanced(by: configuration.retransmitTimeout)
                context.missing = missing
                actions.append(.scheduleTimeout(missing.deadline))
            }
            state = .active(context)
            return actions
        }

        /// The peer sent a DisconnectRecord (or the MTP connection closed): all E2E state for it is
        /// purged (R-MTP.7); the next Record starts afresh.
        public mutating func disconnectReceived() {
            state = .idle
        }

        // MARK: Helpers

        private func newContext(sessionID: UInt64, payloadSecurity: USPRecord.PayloadSecurity, now: Instant) -> Context {
            Context(
                sessionID: sessionID, payloadSecurity: payloadSecurity,
                reassembler: USPReassembler(maxPayloadBytes: configuration.maxMessageBytes), lastActivity: now)
        }

        private func isExpired(_ context: Context, now: Instant) -> Bool {
            guard let expiration = configuration.sessionExpiration else { return false }
            return now >= context.lastActivity.advanced(by: expiration)
        }

        /// An empty Record asking for `retransmitID`; numbered and kept like any other.
        private func controlRecord(_ context: inout Context, retransmitID: UInt64) -> USPRecord.SessionContext {
            let record = USPRecord.SessionContext(
                sessionID: context.sessionID, sequenceID: context.nextSequenceID, expectedID: context.expectedID,
                retransmitID: retransmitID)
            context.outgoing[record.sequenceID] = Outgoing(record: record, retransmissions: 0)
            context.nextSequenceID += 1
            return record
        }

        /// Asks for the Record at `expected_id` unless a request for it is already pending.
        private func requestMissing(_ context: inout Context, now: Instant) -> [Action] {
            if let missing = context.missing, missing.sequenceID == context.expectedID { return [] }
            let request = controlRecord(&context, retransmitID: context.expectedID)
            let deadline = now.advanced(by: configuration.retransmitTimeout)
            context.missing = Missing(sequenceID: context.expectedID, requests: 1, deadline: deadline)
            return [.send(request), .scheduleTimeout(deadline)]
        }
    }
}
