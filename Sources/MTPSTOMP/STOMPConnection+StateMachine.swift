extension STOMPConnection {
    /// The STOMP 1.2 client session of a USP endpoint, as a value: every event is a mutating method that
    /// takes the current time and returns what to do. It does no I/O, reads no clock and draws no
    /// system randomness, so every transition is testable in isolation.
    ///
    /// Lifecycle: `start` → open a connection → `connectionOpened` sends the `STOMP` frame →
    /// CONNECTED → SUBSCRIBE with a receipt → RECEIPT → link up. Any loss (close, ERROR frame, protocol
    /// violation, handshake timeout, missed heart-beats) closes the connection and schedules a
    /// reconnection after a `Backoff` wait (R-STOMP.7, R-STOMP.25). `shutdownRequested` sends
    /// DISCONNECT with a receipt and waits for it (R-STOMP.28).
    ///
    /// The driver calls `tick(now:)` periodically (a fraction of the shortest heart-beat or timeout);
    /// the machine sends heart-beats, notices silence and fires timeouts from it.
    ///
    /// It never sends BEGIN, COMMIT, ABORT, ACK or NACK (R-STOMP.26/27): the subscription is `ack:auto`.
    public struct StateMachine: Sendable {
        public typealias Instant = ContinuousClock.Instant
        /// Identifies one `sendRequested` call in `completeSend` / `failSend`.
        public typealias SendToken = UInt64

        /// What the driver must do, in order.
        public enum Action: Hashable, Sendable {
            /// Open a TCP (and TLS) connection to the broker, then report `connectionOpened` or
            /// `connectionClosed`.
            case openConnection
            /// Write this frame on the connection.
            case write(STOMPFrame)
            /// Write one heart-beat EOL.
            case writeHeartBeat
            /// Close the connection; nothing more will be read from or written to it.
            case closeConnection
            /// The link is up: subscribed, records can be sent.
            case linkUp(Session)
            /// The link that was up is down.
            case linkDown(reason: String)
            /// A USP Record arrived.
            case deliver(Delivery)
            /// A MESSAGE was dropped because it cannot carry a USP Record we can answer.
            case reject(reason: String)
            /// The record of this `sendRequested` is with the broker.
            case completeSend(SendToken)
            /// The record of this `sendRequested` was not sent, or not acknowledged.
            case failSend(SendToken, STOMPError)
            /// The connection failed; the next attempt starts after `after` (for the logs).
            case scheduleRetry(after: Duration, reason: String)
            /// The machine is done; the driver stops.
            case finish
        }

        /// Where the machine is, for logs, metrics and tests.
        public enum Phase: Hashable, Sendable {
            case idle, connecting, awaitingConnected, subscribing, open, disconnecting, waitingToRetry, finished
        }

        private enum State: Sendable {
            case idle
            /// The TCP/TLS connection is being opened.
            case connecting(Attempt)
            /// The `STOMP` frame is sent; CONNECTED is awaited.
            case awaitingConnected(Attempt, Link)
            /// SUBSCRIBE is sent; its RECEIPT is awaited.
            case subscribing(Attempt, Link, Session, receipt: String)
            /// Subscribed: the link is up.
            case open(Link, Session)
            /// DISCONNECT is sent; its RECEIPT is awaited until `deadline`.
            case disconnecting(Link, receipt: String, deadline: Instant)
            /// Waiting for `until` before connection attempt number `retry`.
            case waitingToRetry(retry: Int, until: Instant)
            case finished
        }

        /// One connection attempt: how many failed before it, and when its current step times out.
        private struct Attempt: Sendable {
            var retry: Int
            var deadline: Instant
        }

        /// Traffic on an open connection, for heart-beats.
        private struct Link: Sendable {
            var lastRead: Instant
            var lastWrite: Instant
            var heartBeat = HeartBeat.Negotiated(send: nil, receive: nil)
        }

        private struct PendingReceipt: Sendable {
            var token: SendToken
            var deadline: Instant
        }

        /// The subscription `id` (one subscription per connection).
        static let subscriptionID = "usp-0"

        public let settings: Settings
        private var state: State = .idle
        private var random: SplitMix64
        private var receiptCounter = 0
        /// SEND frames whose RECEIPT is awaited, by receipt id.
        private var pendingReceipts: [String: PendingReceipt] = [:]

        /// `seed` drives the backoff jitter; pass a fixed one in tests.
        public init(settings: Settings, seed: UInt64 = UInt64.random(in: .min ... .max)) {
            self.settings = settings
            random = SplitMix64(seed: seed)
        }

        public var phase: Phase {
            switch state {
            case .idle: .idle
            case .connecting: .connecting
            case .awaitingConnected: .awaitingConnected
            case .subscribing: .subscribing
            case .open: .open
            case .disconnecting: .disconnecting
            case .waitingToRetry: .waitingToRetry
            case .finished: .finished
            }
        }

        /// The session the broker granted, while subscribing or up.
        public var session: Session? {
            switch state {
            case .subscribing(_, _, let session, _), .open(_, let session): session
            default: nil
            }
        }

        /// The number of SEND receipts awaited.
        public var pendingSendCount: Int { pendingReceipts.count }

        // MARK: Events

        /// The driver starts: open the first connection.
        public mutating func start(now: Instant) -> [Action] {
            guard case .idle = state else { return [] }
            state = .connecting(Attempt(retry: 0, deadline: now + settings.handshakeTimeout))
            return [.openConnection]
        }

        /// The TCP (and TLS) connection is open: send the `STOMP` frame.
        public mutating func connectionOpened(now: Instant) -> [Action] {
            guard case .connecting(var attempt) = state else { return [] }
            // R-STOMP.2: a STOMP frame, not CONNECT; STOMP 1.2 requires accept-version and host.
            var headers: STOMPHeaders = ["accept-version": "1.2", "host": settings.host]
            // R-STOMP.3: login and passcode unless the client authenticates with a certificate.
            if let login = settings.login { headers.append("login", login) }
            if let passcode = settings.passcode { headers.append("passcode", passcode) }
            // R-STOMP.8–10 (and R-STOMP.9: "0,0" when heart-beats are off).
            headers.append("heart-beat", settings.heartBeat.description)
            // R-STOMP.4: the endpoint ID; the STOMP frame escapes its colons as \c (STOMPFrame does it).
            headers.append(Header.endpointID, settings.endpointID)
            attempt.deadline = now + settings.handshakeTimeout
            state = .awaitingConnected(attempt, Link(lastRead: now, lastWrite: now))
            return [.write(STOMPFrame(.stomp, headers: headers))]
        }

        /// A frame or heart-beat arrived.
        public mutating func packetReceived(_ packet: STOMPPacket, now: Instant) -> [Action] {
            switch state {
            case .idle, .connecting, .waitingToRetry, .finished:
                return []

            case .awaitingConnected(let attempt, var link):
                link.lastRead = now
                state = .awaitingConnected(attempt, link)
                guard case .frame(let frame) = packet else { return [] }
                switch frame.command {
                case .connected:
                    return connected(frame, attempt: attempt, link: link, now: now)
                case .error:
                    // R-STOMP.7: a refused connection enters the retry state.
                    return lose(Self.errorReason(frame), now: now, close: true, retry: attempt.retry + 1)
                default:
                    return lose("expected CONNECTED, received \(frame.command.rawValue)", now: now, close: true, retry: attempt.retry + 1)
                }

            case .subscribing(let attempt, var link, let session, let receipt):
                link.lastRead = now
                state = .subscribing(attempt, link, session, receipt: receipt)
                guard case .frame(let frame) = packet else { return [] }
                switch frame.command {
                case .receipt where frame.headers["receipt-id"] == receipt:
                    state = .open(link, session)
                    return [.linkUp(session)]
                case .receipt:
                    return []
                case .message:
                    // The broker may deliver queued records before it acknowledges the subscription.
                    return [Self.inspect(frame)]
                case .error:
                    // R-STOMP.25 (a refused subscription).
                    return lose(Self.errorReason(frame), now: now, close: true, retry: attempt.retry + 1)
                default:
                    return lose("unexpected \(frame.command.rawValue) frame while subscribing", now: now, close: true, retry: attempt.retry + 1)
                }

            case .open(var link, let session):
                link.lastRead = now
                state = .open(link, session)
                guard case .frame(let frame) = packet else { return [] }
                switch frame.command {
                case .message:
                    return [Self.inspect(frame)]
                case .receipt:
                    return receiptReceived(frame)
                case .error:
                    // R-STOMP.25: the broker closes the connection after ERROR; enter the retry state.
                    return lose(Self.errorReason(frame), now: now, close: true, retry: 1, wasUp: true)
                default:
                    return lose("unexpected \(frame.command.rawValue) frame", now: now, close: true, retry: 1, wasUp: true)
                }

            case .disconnecting(var link, let receipt, let deadline):
                link.lastRead = now
                state = .disconnecting(link, receipt: receipt, deadline: deadline)
                guard case .frame(let frame) = packet else { return [] }
                switch frame.command {
                case .receipt where frame.headers["receipt-id"] == receipt:
                    return finish(close: true)
                case .receipt:
                    return receiptReceived(frame)
                case .message:
                    return [Self.inspect(frame)]
                default:
                    return finish(close: true)
                }
            }
        }

        /// The connection closed (or could not be opened), for `reason`.
        public mutating func connectionClosed(reason: String, now: Instant) -> [Action] {
            switch state {
            case .idle, .waitingToRetry, .finished:
                return []
            case .connecting(let attempt), .awaitingConnected(let attempt, _), .subscribing(let attempt, _, _, _):
                return lose(reason, now: now, close: false, retry: attempt.retry + 1)
            case .open:
                return lose(reason, now: now, close: false, retry: 1, wasUp: true)
            case .disconnecting:
                return finish(close: false)
            }
        }

        /// The endpoint wants `record` sent to `destination`. Fails at once unless the link is up.
        public mutating func sendRequested(_ record: [UInt8], to destination: String, token: SendToken, now: Instant) -> [Action] {
            guard case .open(var link, let session) = state else {
                let reason = phase == .disconnecting || phase == .finished ? "the transport is shutting down" : "not connected to the broker"
                return [.failSend(token, STOMPError(.linkDown, reason))]
            }
            guard !destination.isEmpty else {
                return [.failSend(token, STOMPError(.invalidDestination, "empty STOMP destination"))]
            }
            // R-STOMP.18–22: SEND with content-length, the USP content type and our reply-to-dest.
            var headers: STOMPHeaders = [
                "destination": destination,
                "content-type": Header.uspContentType,
                Header.replyToDestination: session.destination,
                "content-length": String(record.count),
            ]
            var actions: [Action] = []
            if settings.requestSendReceipts {
                // R-STOMP.30: the RECEIPT says the broker has processed the SEND.
                let receipt = makeReceiptID()
                headers.append("receipt", receipt)
                pendingReceipts[receipt] = PendingReceipt(token: token, deadline: now + settings.receiptTimeout)
                actions.append(.write(STOMPFrame(.send, headers: headers, body: record)))
            } else {
                actions += [.write(STOMPFrame(.send, headers: headers, body: record)), .completeSend(token)]
            }
            link.lastWrite = now
            state = .open(link, session)
            return actions
        }

        /// Time passed: heart-beats, silence, timeouts, the end of a retry wait.
        public mutating func tick(now: Instant) -> [Action] {
            switch state {
            case .idle, .finished:
                return []
            case .connecting(let attempt):
                guard now >= attempt.deadline else { return [] }
                return lose("no connection within \(settings.handshakeTimeout)", now: now, close: true, retry: attempt.retry + 1)
            case .awaitingConnected(let attempt, _):
                guard now >= attempt.deadline else { return [] }
                return lose("no CONNECTED frame within \(settings.handshakeTimeout)", now: now, close: true, retry: attempt.retry + 1)
            case .subscribing(let attempt, var link, let session, let receipt):
                if now >= attempt.deadline {
                    return lose("no RECEIPT for SUBSCRIBE within \(settings.handshakeTimeout)", now: now, close: true, retry: attempt.retry + 1)
                }
                switch heartBeat(&link, now: now) {
                case .dead(let reason):
                    return lose(reason, now: now, close: true, retry: attempt.retry + 1)
                case .alive(let actions):
                    state = .subscribing(attempt, link, session, receipt: receipt)
                    return actions
                }
            case .open(var link, let session):
                var actions = expireReceipts(now: now)
                switch heartBeat(&link, now: now) {
                case .dead(let reason):
                    return actions + lose(reason, now: now, close: true, retry: 1, wasUp: true)
                case .alive(let heartBeatActions):
                    state = .open(link, session)
                    actions += heartBeatActions
                    return actions
                }
            case .disconnecting(var link, let receipt, let deadline):
                if now >= deadline { return finish(close: true) }
                var actions = expireReceipts(now: now)
                if case .alive(let heartBeatActions) = heartBeat(&link, now: now) { actions += heartBeatActions }
                state = .disconnecting(link, receipt: receipt, deadline: deadline)
                return actions
            case .waitingToRetry(let retry, let until):
                guard now >= until else { return [] }
                state = .connecting(Attempt(retry: retry, deadline: now + settings.handshakeTimeout))
                return [.openConnection]
            }
        }

        /// Graceful shutdown: DISCONNECT with a receipt when connected (R-STOMP.28), else stop at once.
        public mutating func shutdownRequested(now: Instant) -> [Action] {
            switch state {
            case .idle, .waitingToRetry:
                return finish(close: false)
            case .connecting, .awaitingConnected:
                return finish(close: true)
            case .subscribing(_, var link, _, _):
                let (frame, receipt) = disconnectFrame()
                link.lastWrite = now
                state = .disconnecting(link, receipt: receipt, deadline: now + settings.receiptTimeout)
                return [.write(frame)]
            case .open(var link, _):
                let (frame, receipt) = disconnectFrame()
                link.lastWrite = now
                state = .disconnecting(link, receipt: receipt, deadline: now + settings.receiptTimeout)
                return [.linkDown(reason: "shutting down"), .write(frame)]
            case .disconnecting, .finished:
                return []
            }
        }

        // MARK: Transitions

        private mutating func connected(_ frame: STOMPFrame, attempt: Attempt, link: Link, now: Instant) -> [Action] {
            let retry = attempt.retry + 1
            guard frame.headers["version"] == "1.2" else {
                let version = frame.headers["version"] ?? "1.0 (no version header)"
                return lose("the broker speaks STOMP \(version), not 1.2", now: now, close: true, retry: retry)
            }
            // A missing heart-beat header means "0,0" (STOMP 1.2 "Heart-beating").
            var serverHeartBeat = HeartBeat.disabled
            if let header = frame.headers["heart-beat"] {
                guard let parsed = HeartBeat(header: header) else {
                    return lose("malformed heart-beat header \(header.debugDescription) in CONNECTED", now: now, close: true, retry: retry)
                }
                serverHeartBeat = parsed
            }
            // R-STOMP.6, R-STOMP.14/15: a subscribe-dest from the broker wins over the configuration.
            let assigned = frame.headers[Header.subscribeDestination].flatMap { $0.isEmpty ? nil : $0 }
            guard let destination = assigned ?? (settings.destination.isEmpty ? nil : settings.destination) else {
                // R-STOMP.16: no destination at all: DISCONNECT and retry.
                let reason = "no destination to subscribe to (no subscribe-dest and none configured)"
                return [.write(STOMPFrame(.disconnect))] + lose(reason, now: now, close: true, retry: retry)
            }
            let session = Session(
                server: frame.headers["server"], sessionID: frame.headers["session"],
                heartBeat: HeartBeat.negotiate(client: settings.heartBeat, server: serverHeartBeat),
                destination: destination)
            var link = link
            link.heartBeat = session.heartBeat
            link.lastWrite = now
            let receipt = makeReceiptID()
            // R-STOMP.12/13/17: SUBSCRIBE to our destination with ack:auto; the receipt confirms it.
            let subscribe = STOMPFrame(
                .subscribe,
                headers: ["id": Self.subscriptionID, "destination": destination, "ack": "auto", "receipt": receipt])
            state = .subscribing(Attempt(retry: attempt.retry, deadline: now + settings.handshakeTimeout), link, session, receipt: receipt)
            return [.write(subscribe)]
        }

        private mutating func receiptReceived(_ frame: STOMPFrame) -> [Action] {
            guard let id = frame.headers["receipt-id"], let pending = pendingReceipts.removeValue(forKey: id) else { return [] }
            return [.completeSend(pending.token)]
        }

        private mutating func expireReceipts(now: Instant) -> [Action] {
            let expired = pendingReceipts.filter { $0.value.deadline <= now }
            guard !expired.isEmpty else { return [] }
            var actions: [Action] = []
            for (id, pending) in expired.sorted(by: { $0.value.token < $1.value.token }) {
                pendingReceipts[id] = nil
                actions.append(.failSend(pending.token, STOMPError(.receiptTimeout, "no RECEIPT for SEND within \(settings.receiptTimeout)")))
            }
            return actions
        }

        private enum HeartBeatCheck {
            case alive([Action])
            case dead(String)
        }

        /// R-STOMP.11: keep to the negotiated intervals. A heart-beat goes out when half the send interval
        /// passed without a write (so one always lands inside the interval, despite tick granularity); the
        /// link is dead after `heartBeatTolerance` receive intervals of silence.
        private func heartBeat(_ link: inout Link, now: Instant) -> HeartBeatCheck {
            if let receive = link.heartBeat.receive, now - link.lastRead > receive * settings.heartBeatTolerance {
                return .dead("missed heart-beats: nothing received for \(now - link.lastRead) (interval \(receive))")
            }
            if let send = link.heartBeat.send, now - link.lastWrite >= send / 2 {
                link.lastWrite = now
                return .alive([.writeHeartBeat])
            }
            return .alive([])
        }

        /// The connection is lost: close it (unless already closed), report the link down if it was up,
        /// fail the sends in flight and wait before retry number `retry`.
        private mutating func lose(_ reason: String, now: Instant, close: Bool, retry: Int, wasUp: Bool = false) -> [Action] {
            var actions: [Action] = close ? [.closeConnection] : []
            if wasUp { actions.append(.linkDown(reason: reason)) }
            actions += failPendingSends(STOMPError(.linkDown, "the connection was lost before the RECEIPT: \(reason)"))
            let delay = settings.backoff.delay(retry: retry, using: &random)
            state = .waitingToRetry(retry: retry, until: now + delay)
            actions.append(.scheduleRetry(after: delay, reason: reason))
            return actions
        }

        private mutating func finish(close: Bool) -> [Action] {
            var actions: [Action] = close ? [.closeConnection] : []
            actions += failPendingSends(STOMPError(.linkDown, "the transport shut down before the RECEIPT"))
            state = .finished
            actions.append(.finish)
            return actions
        }

        private mutating func failPendingSends(_ error: STOMPError) -> [Action] {
            let tokens = pendingReceipts.values.map(\.token).sorted()
            pendingReceipts.removeAll()
            return tokens.map { .failSend($0, error) }
        }

        private mutating func makeReceiptID() -> String {
            receiptCounter += 1
            return "tandem-\(receiptCounter)"
        }

        private mutating func disconnectFrame() -> (STOMPFrame, String) {
            let receipt = makeReceiptID()
            return (STOMPFrame(.disconnect, headers: ["receipt": receipt]), receipt)
        }

        // MARK: Inbound records

        /// Accepts a MESSAGE as a USP Record only with the USP content type (R-STOMP.20) and a
        /// reply-to-dest to answer on (R-STOMP.21, R-STOMP.23); anything else is dropped.
        static func inspect(_ frame: STOMPFrame) -> Action {
            let contentType = frame.headers["content-type"]
            guard let contentType, mediaType(contentType) == Header.uspContentType else {
                let found = contentType.map { $0.debugDescription } ?? "absent"
                return .reject(reason: "content-type \(found) is not \(Header.uspContentType) (R-STOMP.20)")
            }
            guard let replyTo = frame.headers[Header.replyToDestination], !replyTo.isEmpty else {
                return .reject(reason: "no reply-to-dest header (R-STOMP.21)")
            }
            return .deliver(Delivery(record: frame.body, replyTo: replyTo, messageID: frame.headers["message-id"]))
        }

        /// `type/subtype` without parameters, lowercased.
        private static func mediaType(_ value: String) -> String {
            let essence = value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            return essence.filter { $0 != " " && $0 != "\t" }.lowercased()
        }

        private static func errorReason(_ frame: STOMPFrame) -> String {
            var reason = "the broker sent ERROR"
            if let message = frame.headers["message"] { reason += ": \(message)" }
            var body = Substring(String(decoding: frame.body.prefix(200), as: UTF8.self))
            while let last = body.last, last.isWhitespace { body.removeLast() }
            while let first = body.first, first.isWhitespace { body.removeFirst() }
            if !body.isEmpty { reason += " (\(body))" }
            return reason
        }
    }
}
