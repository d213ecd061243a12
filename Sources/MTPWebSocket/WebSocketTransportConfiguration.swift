import NIOSSL

/// How a ``WebSocketTransport`` listens, dials and bounds what peers may send.
public struct WebSocketTransportConfiguration: Sendable {
    /// The controller's own endpoint ID. Sent in the `eid` query parameter when the controller dials
    /// an agent (R-WS.10b) and in the `bbf-usp-protocol` extension answer when an agent offered the
    /// extension (R-WS.11a).
    public var controllerEndpointID: String
    /// The listener agents connect to; `nil` for a transport that only dials agents.
    public var listener: Listener?
    /// Largest USP Record accepted in one WebSocket message, in bytes. A larger frame is refused by
    /// the frame decoder with close code 1009; a fragmented message that grows past it likewise.
    /// Records the controller sends are held to the same limit. 1 MiB, like `USPDecodingLimits`.
    public var maxRecordSize: Int
    /// How often the controller pings each peer; a peer that has not answered the previous ping by
    /// the next one is closed with 1001 ("Ping timeout"). `nil` disables controller pings (agents
    /// still ping the controller, R-WS.17, and get pongs, R-WS.13).
    public var pingInterval: Duration?
    /// How long to wait for the peer's Close frame after sending one before dropping the connection.
    public var closeTimeout: Duration
    /// What to do when an endpoint opens a session while it already has one (R-WS.4).
    public var duplicateSessionPolicy: DuplicateSessionPolicy
    /// Reconnection and TLS for sessions the controller opens to agents.
    public var dialing: Dialing

    public init(
        controllerEndpointID: String,
        listener: Listener? = Listener(),
        maxRecordSize: Int = 1 << 20,
        pingInterval: Duration? = .seconds(30),
        closeTimeout: Duration = .seconds(10),
        duplicateSessionPolicy: DuplicateSessionPolicy = .replaceExisting,
        dialing: Dialing = Dialing()
    ) {
        self.controllerEndpointID = controllerEndpointID
        self.listener = listener
        self.maxRecordSize = maxRecordSize
        self.pingInterval = pingInterval
        self.closeTimeout = closeTimeout
        self.duplicateSessionPolicy = duplicateSessionPolicy
        self.dialing = dialing
    }

    /// The WebSocket server agents connect to.
    public struct Listener: Sendable {
        /// Address to bind.
        public var host: String
        /// Port to bind; 0 picks a free port (see ``WebSocketTransport/listeningPort()``).
        public var port: Int
        /// The resource path of the controller's USP endpoint (R-WS.2). Upgrades on any other path
        /// are refused.
        public var path: String
        /// Most TCP connections open at once. At the limit the listener stops accepting until one
        /// closes (new clients wait in the backlog).
        public var maxConnections: Int
        /// Refuse agents that give no endpoint ID in the handshake (neither `?eid=`, R-WS.10b, nor the
        /// deprecated `bbf-usp-protocol` extension). Off by default: the endpoint ID also arrives in
        /// every Record's `from_id`, and USP 1.0-1.2 agents did not have to send `?eid=`.
        public var requireEndpointID: Bool
        /// Length of the kernel's queue of connections not yet accepted.
        public var backlog: Int
        /// TLS for the listener (WSS, TR-369 R-WS.9 allows either); nil serves plain WebSocket.
        public var tlsConfiguration: TLSConfiguration?

        public init(
            host: String = "0.0.0.0",
            port: Int = 0,
            path: String = "/usp",
            maxConnections: Int = 50_000,
            requireEndpointID: Bool = false,
            backlog: Int = 1024,
            tlsConfiguration: TLSConfiguration? = nil
        ) {
            self.tlsConfiguration = tlsConfiguration
            self.host = host
            self.port = port
            self.path = path
            self.maxConnections = maxConnections
            self.requireEndpointID = requireEndpointID
            self.backlog = backlog
        }
    }

    /// R-WS.4 says two endpoints use at most one open WebSocket session, but not which one survives
    /// when a second one opens. Agents reconnect when they believe the old session is dead (after a
    /// NAT rebinding, a reboot, a missed pong), usually before the controller has noticed, so the
    /// default keeps the newest.
    public enum DuplicateSessionPolicy: Hashable, Sendable {
        /// Accept the new session and close the old one with 1008 (policy violation).
        case replaceExisting
        /// Refuse the new session's handshake (HTTP 400) while the old one is open.
        case rejectNew
    }

    /// How the controller keeps sessions it opened to agents alive. TR-369 leaves the controller's
    /// retry policy to the implementation ("WebSocket Session Retry"); this one is exponential
    /// backoff with jitter, reset after every session that was established.
    public struct Dialing: Sendable {
        /// Wait before the first retry.
        public var initialRetryInterval: Duration
        /// Longest wait between retries.
        public var maxRetryInterval: Duration
        /// Growth of the wait after each failed attempt.
        public var retryMultiplier: Double
        /// How long to wait for TCP connect plus the opening handshake.
        public var connectTimeout: Duration
        /// TLS for `wss://` agents; `nil` uses the system trust roots.
        public var tlsConfiguration: TLSConfiguration?

        public init(
            initialRetryInterval: Duration = .seconds(1),
            maxRetryInterval: Duration = .seconds(60),
            retryMultiplier: Double = 2,
            connectTimeout: Duration = .seconds(10),
            tlsConfiguration: TLSConfiguration? = nil
        ) {
            self.initialRetryInterval = initialRetryInterval
            self.maxRetryInterval = maxRetryInterval
            self.retryMultiplier = retryMultiplier
            self.connectTimeout = connectTimeout
            self.tlsConfiguration = tlsConfiguration
        }

        /// The wait before retry number `attempt` (0-based): `initial * multiplier^attempt`, capped at
        /// the maximum, with up to 25 % random jitter taken off so that agents dropped together are
        /// not redialled in lockstep.
        func retryDelay(attempt: Int) -> Duration {
            let initial = initialRetryInterval / .milliseconds(1)
            let maximum = maxRetryInterval / .milliseconds(1)
            var grown = max(initial, 0)
            for _ in 0..<min(max(attempt, 0), 64) where grown < maximum {
                grown *= retryMultiplier
            }
            let capped = min(grown, maximum)
            return .milliseconds(Int64(capped * Double.random(in: 0.75...1.0)))
        }
    }
}

/// A WebSocket Close frame status code (RFC 6455 section 7.4).
public struct WebSocketCloseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16

    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    /// 1000: the purpose of the connection is fulfilled.
    public static let normalClosure = Self(rawValue: 1000)
    /// 1001: the endpoint is going away (shutdown, or a peer that stopped answering pings).
    public static let goingAway = Self(rawValue: 1001)
    /// 1002: a WebSocket protocol error.
    public static let protocolError = Self(rawValue: 1002)
    /// 1003: data the endpoint cannot accept. R-WS.16: the status for a frame whose USP Record
    /// cannot be extracted (a text frame, a malformed Record).
    public static let unsupportedData = Self(rawValue: 1003)
    /// 1008: a message that violates the endpoint's policy.
    public static let policyViolation = Self(rawValue: 1008)
    /// 1009: a message too big to process.
    public static let messageTooLarge = Self(rawValue: 1009)
    /// 1011: an unexpected condition in the endpoint.
    public static let internalError = Self(rawValue: 1011)

    public var description: String { String(rawValue) }
}
