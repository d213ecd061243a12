/// One STOMP 1.2 client session with a broker, kept up across connection losses: the values it is
/// made of. `STOMPConnection.StateMachine` decides; `STOMPTransport` does the I/O.
public enum STOMPConnection {
    /// What the state machine needs to know to speak for the endpoint.
    public struct Settings: Hashable, Sendable {
        /// The endpoint ID sent in the `endpoint-id` header of the STOMP frame (R-STOMP.4).
        public var endpointID: String
        /// The destination to subscribe to, unless the broker names one with `subscribe-dest`
        /// (R-STOMP.6, R-STOMP.14/15). It is also the `reply-to-dest` of every SEND (R-STOMP.21).
        public var destination: String
        /// The `host` header of the STOMP frame: the virtual host, or the broker's host name (R-STOMP.5).
        public var host: String
        /// `login` and `passcode` headers; omit both only with client-certificate authentication (R-STOMP.3).
        public var login: String?
        public var passcode: String?
        /// The heart-beats this endpoint offers and asks for (R-STOMP.8–11).
        public var heartBeat: HeartBeat = HeartBeat(outgoing: .seconds(30), incoming: .seconds(30))
        /// The link is dead when nothing arrives for this many negotiated receive intervals.
        public var heartBeatTolerance: Double = 2
        /// How long each step of the handshake may take: the TCP/TLS connection, the CONNECTED
        /// frame, the RECEIPT for SUBSCRIBE.
        public var handshakeTimeout: Duration = .seconds(10)
        /// How long to wait for the RECEIPT of a SEND or of DISCONNECT.
        public var receiptTimeout: Duration = .seconds(10)
        /// Whether every SEND asks for a RECEIPT, so `send` returns only once the broker has the record.
        public var requestSendReceipts = true
        /// The wait before each reconnection attempt (R-STOMP.7, R-STOMP.25).
        public var backoff = Backoff()

        public init(endpointID: String, destination: String, host: String) {
            self.endpointID = endpointID
            self.destination = destination
            self.host = host
        }
    }

    /// A `heart-beat` header value: the smallest interval at which this side can send heart-beats, and
    /// the interval at which it wants to receive them; zero means "none" (STOMP 1.2 "Heart-beating").
    public struct HeartBeat: Hashable, Sendable, CustomStringConvertible {
        public var outgoing: Duration
        public var incoming: Duration

        public init(outgoing: Duration, incoming: Duration) {
            self.outgoing = outgoing
            self.incoming = incoming
        }

        /// No heart-beats either way: the header value `0,0` (R-STOMP.9).
        public static let disabled = HeartBeat(outgoing: .zero, incoming: .zero)

        /// `cx,cy` in milliseconds.
        public var description: String { "\(Self.milliseconds(outgoing)),\(Self.milliseconds(incoming))" }

        /// Parses `sx,sy` (milliseconds); nil when malformed.
        public init?(header: String) {
            let parts = header.split(separator: ",", omittingEmptySubsequences: false)
            guard parts.count == 2,
                let first = Int64(parts[0].trimmingSpaces()), let second = Int64(parts[1].trimmingSpaces()),
                first >= 0, second >= 0
            else { return nil }
            outgoing = .milliseconds(first)
            incoming = .milliseconds(second)
        }

        /// The intervals both sides keep to, computed as STOMP 1.2 "Heart-beating" says: the client sends
        /// every max(cx, sy) unless cx or sy is 0; the server every max(sx, cy) unless sx or cy is 0.
        public static func negotiate(client: HeartBeat, server: HeartBeat) -> Negotiated {
            func interval(_ sender: Duration, _ receiver: Duration) -> Duration? {
                sender == .zero || receiver == .zero ? nil : max(sender, receiver)
            }
            return Negotiated(send: interval(client.outgoing, server.incoming), receive: interval(server.outgoing, client.incoming))
        }

        /// The negotiated intervals; nil is "no heart-beats that way".
        public struct Negotiated: Hashable, Sendable {
            /// How often the client must send something.
            public var send: Duration?
            /// How often the client may expect something from the server.
            public var receive: Duration?

            public init(send: Duration?, receive: Duration?) {
                self.send = send
                self.receive = receive
            }
        }

        static func milliseconds(_ duration: Duration) -> Int64 {
            let (seconds, attoseconds) = duration.components
            return seconds * 1000 + attoseconds / 1_000_000_000_000_000
        }
    }

    /// The reconnection wait: the TR-069 / TR-369 retry table. Retry n (n ≥ 1) waits a random time in
    /// [m·(k/1000)^(n−1), m·(k/1000)^n], the exponent stops growing at n = 10, and no wait exceeds
    /// `maximumInterval` (the `ServerRetryInitialInterval`, `ServerRetryIntervalMultiplier` and
    /// `ServerRetryMaxInterval` of TR-181 `STOMP.Connection.{i}`). The random part spreads the
    /// reconnections of many endpoints after a broker restart.
    public struct Backoff: Hashable, Sendable {
        /// m: the shortest first wait.
        public var initialInterval: Duration
        /// k: the growth per retry, in thousandths (2000 doubles it); values under 1000 count as 1000.
        public var multiplier: Int
        /// The longest wait.
        public var maximumInterval: Duration

        /// m = 5 s, k = 2000, at most 10 minutes (a controller should not sit out an hour-long wait
        /// after a broker outage).
        public init(initialInterval: Duration = .seconds(5), multiplier: Int = 2000, maximumInterval: Duration = .seconds(600)) {
            self.initialInterval = initialInterval
            self.multiplier = max(multiplier, 1000)
            self.maximumInterval = maximumInterval
        }

        /// The range the wait before retry `retry` is drawn from.
        public func range(retry: Int) -> ClosedRange<Duration> {
            let exponent = min(max(retry, 1), 10) - 1
            let factor = Double(multiplier) / 1000
            let lower = initialInterval * power(factor, exponent)
            let upper = lower * factor
            return min(lower, maximumInterval)...min(upper, maximumInterval)
        }

        /// A wait drawn uniformly from `range(retry:)`.
        public func delay(retry: Int, using random: inout some RandomNumberGenerator) -> Duration {
            let range = range(retry: retry)
            let span = range.upperBound - range.lowerBound
            return range.lowerBound + span * Double.random(in: 0...1, using: &random)
        }

        private func power(_ base: Double, _ exponent: Int) -> Double {
            (0..<exponent).reduce(1) { product, _ in product * base }
        }
    }

    /// What the broker granted: known once CONNECTED arrives.
    public struct Session: Hashable, Sendable {
        /// The `server` header, when the broker sent one.
        public var server: String?
        /// The `session` header, when the broker sent one.
        public var sessionID: String?
        public var heartBeat: HeartBeat.Negotiated
        /// The destination subscribed to: `subscribe-dest` from CONNECTED, else the configured one.
        public var destination: String

        public init(server: String?, sessionID: String?, heartBeat: HeartBeat.Negotiated, destination: String) {
            self.server = server
            self.sessionID = sessionID
            self.heartBeat = heartBeat
            self.destination = destination
        }
    }

    /// A USP Record received in a MESSAGE frame.
    public struct Delivery: Hashable, Sendable {
        public var record: [UInt8]
        /// Where the answer goes: the MESSAGE's `reply-to-dest` (R-STOMP.23).
        public var replyTo: String
        /// The broker's `message-id`, for logs.
        public var messageID: String?

        public init(record: [UInt8], replyTo: String, messageID: String?) {
            self.record = record
            self.replyTo = replyTo
            self.messageID = messageID
        }
    }

    /// The headers USP adds to STOMP, and its content type.
    public enum Header {
        /// R-STOMP.4: the sender's endpoint ID, in the STOMP frame.
        public static let endpointID = "endpoint-id"
        /// R-STOMP.6: the destination a broker assigns in CONNECTED.
        public static let subscribeDestination = "subscribe-dest"
        /// R-STOMP.21: where the receiver sends its answer.
        public static let replyToDestination = "reply-to-dest"
        /// R-STOMP.20: the content type of a USP Record.
        public static let uspContentType = "application/vnd.bbf.usp.msg"
    }
}

/// A small, seedable generator (SplitMix64) so the state machine stays a deterministic value in tests.
public struct SplitMix64: RandomNumberGenerator, Hashable, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> Substring {
        var text = self
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return text
    }
}
