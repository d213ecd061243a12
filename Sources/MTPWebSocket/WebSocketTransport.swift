import Logging
import MTP
import NIOCore
import NIOWebSocket
import ServiceLifecycle

/// The USP WebSocket MTP (TR-369 "WebSocket Binding") on the controller side.
///
/// One transport holds every WebSocket session of the controller, whichever side opened it:
///
/// - **Listener**: agents connect to the controller's own WebSocket server (the usual deployment,
///   R-WS.5). The upgrade is accepted only on the configured path, only with the `v1.usp`
///   subprotocol (R-WS.12a), which is echoed (R-WS.11); the agent's endpoint ID comes from the
///   percent-encoded `?eid=` query parameter (R-WS.10b, R-WS.10c) or, from older agents, the
///   `bbf-usp-protocol` extension.
/// - **Dialer**: for agents that run the WebSocket server (R-WS.6), ``connect(url:agentEndpointID:)``
///   keeps a session open, redialling with backoff.
///
/// Each session is reported as `.peerConnected` with an address whose `destination` is the
/// session id and whose `endpointID` is the agent's; every binary message as a `.record` answering
/// to that address; the end of the session as `.peerDisconnected`. Records travel one per binary
/// frame (R-WS.14). A text frame, or an empty message, closes the session with 1003 (R-WS.16); a
/// Record the engine cannot parse should be answered the same way through
/// ``close(_:code:reason:)``.
///
/// `run()` owns everything long-lived: the listener (``WebSocketListener``: NIO channel handlers,
/// no task per accepted session), the redial loops and their session tasks. Graceful shutdown first
/// closes every session with 1001 (going away), then stops redialling, then stops the listener,
/// which waits for the sessions' close handshakes. The event stream finishes when `run()` returns; a transport runs once.
public final class WebSocketTransport: MessageTransport, Sendable {
    public let name = "websocket"
    public let events: AsyncStream<TransportEvent>

    public let configuration: WebSocketTransportConfiguration
    private let logger: Logger
    private let registry: SessionRegistry
    private let listenerState = ListenerState()
    private let driver: SessionDriver
    private let dialer: Dialer
    private let onListening: @Sendable (_ host: String, _ port: Int) async -> Void

    /// - Parameters:
    ///   - configuration: Listener, limits, keep-alive, redial policy, the controller's endpoint ID.
    ///   - logger: Logger for the transport and its sessions.
    ///   - onListening: Called with the bound host and port once the listener accepts connections
    ///     (the real port when the configuration said 0), before ``listeningPort()`` returns.
    public init(
        configuration: WebSocketTransportConfiguration,
        logger: Logger,
        onListening: @escaping @Sendable (_ host: String, _ port: Int) async -> Void = { _, _ in }
    ) {
        self.configuration = configuration
        self.logger = logger
        self.onListening = onListening
        let (events, continuation) = AsyncStream<TransportEvent>.makeStream(bufferingPolicy: .unbounded)
        self.events = events
        self.registry = SessionRegistry(transportName: name, continuation: continuation)
        self.driver = SessionDriver(
            registry: registry, maxRecordSize: configuration.maxRecordSize, policy: configuration.duplicateSessionPolicy)
        self.dialer = Dialer(configuration: configuration, registry: registry, driver: driver, logger: logger)
    }

    // MARK: Service

    public func run() async throws {
        defer {
            _ = registry.beginShutdown()
            listenerState.stopped()
            registry.finish()
        }
        // Graceful shutdown stops services in reverse order and waits for each: first every
        // session gets 1001, then the redial loops stop, then the listener. Without this order the
        // WebSocket library's own shutdown handler would close dialled sessions with 1000 first.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let listener = configuration.listener {
            let listener = WebSocketListener(
                settings: ListenerSettings(configuration: configuration, listener: listener, registry: registry, logger: logger),
                listenerState: listenerState,
                onListening: onListening)
            services.append(.init(service: listener, serviceName: "websocket-listener"))
        } else {
            registry.yield(.linkUp)
        }
        services.append(.init(service: dialer, serviceName: "websocket-dialer"))
        services.append(.init(service: GoingAwayOnShutdown(registry: registry, logger: logger), serviceName: "websocket-going-away"))
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        try await group.run()
    }

    // MARK: Sending and closing

    /// Writes `record` as one binary frame (R-WS.14; not fragmented, R-WS.14a) on the session named
    /// by `destination.destination`, or, when that is empty, on the open session of
    /// `destination.endpointID`.
    ///
    /// - Throws: ``WebSocketTransportError`` `.noSuchPeer` when no such session is open,
    ///   `.connectionClosed` when it closes during the write, `.recordTooLarge`.
    public func send(_ record: [UInt8], to destination: MTPAddress) async throws {
        guard record.count <= configuration.maxRecordSize else {
            throw WebSocketTransportError(.recordTooLarge(size: record.count, limit: configuration.maxRecordSize))
        }
        guard let session = registry.session(for: destination) else {
            throw WebSocketTransportError(.noSuchPeer(destination))
        }
        do {
            try await session.outbound.write(record: ByteBuffer(bytes: record))
        } catch let error as CancellationError {
            throw error
        } catch {
            throw WebSocketTransportError(.connectionClosed(session.address))
        }
    }

    /// Closes a session with a Close frame carrying `code`. The engine calls this with
    /// ``WebSocketCloseCode/unsupportedData`` (1003) for a Record it cannot extract (R-WS.16).
    /// Does nothing when the session is already gone.
    public func close(_ address: MTPAddress, code: WebSocketCloseCode, reason: String? = nil) async {
        guard let session = registry.session(for: address) else { return }
        try? await session.outbound.close(WebSocketErrorCode(codeNumber: Int(code.rawValue)), reason: reason)
    }

    /// Number of open sessions.
    public var sessionCount: Int { registry.count }

    /// The listener's bound port, once it accepts connections.
    ///
    /// - Throws: ``WebSocketTransportError`` `.shuttingDown` when the transport stopped (or has no
    ///   listener and `run()` returned) before the listener came up.
    /// R-WS.14 / pitfall: a record that cannot be parsed closes the session with 1003.
    public func rejectUnparseableRecord(from peer: MTPAddress) async {
        await close(peer, code: .unsupportedData, reason: "unparseable USP record")
    }

    public func listeningPort() async throws -> Int {
        try await listenerState.port()
    }

    // MARK: Dialling agents

    /// Keeps a session open to an agent that runs a WebSocket server, redialling with backoff
    /// (``WebSocketTransportConfiguration/Dialing``) whenever it closes. The request carries
    /// `Sec-WebSocket-Protocol: v1.usp` (R-WS.10) and the controller's endpoint ID as `eid` in the
    /// query (R-WS.10b, R-WS.10c); the session is established only if the agent echoes `v1.usp`
    /// (R-WS.12). A `bbf-usp-protocol` extension in the answer is tolerated, asked for or not.
    ///
    /// Calling it again for the same agent and URL does nothing; with another URL it redials there.
    ///
    /// - Parameters:
    ///   - url: `ws://` or `wss://` URL of the agent's USP resource.
    ///   - agentEndpointID: The agent's endpoint ID, reported in the session's address.
    public func connect(url: String, agentEndpointID: String) async throws {
        guard let agentURL = AgentURL(url) else { throw WebSocketTransportError(.invalidURL(url)) }
        guard !registry.isShuttingDown else { throw WebSocketTransportError(.shuttingDown) }
        await dialer.connect(url: agentURL, agentEndpointID: agentEndpointID)
    }

    /// Stops keeping a session open to the agent and closes the dialled session with 1000.
    public func disconnect(agentEndpointID: String) async {
        await dialer.disconnect(agentEndpointID: agentEndpointID)
    }

    /// `host:port` (`[host]:port` for IPv6) of a socket address, `?` for none.
    public static func describe(_ address: SocketAddress?) -> String {
        guard let address else { return "?" }
        let host = address.ipAddress ?? "?"
        let port = address.port.map(String.init) ?? "?"
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// Closes every open session with 1001 when graceful shutdown begins, before the listener and the
/// dialer are told to stop (their own shutdown would close with 1000).
private struct GoingAwayOnShutdown: Service {
    let registry: SessionRegistry
    let logger: Logger

    func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            return  // cancelled: connections are torn down without a handshake
        }
        let sessions = registry.beginShutdown()
        logger.info("Closing WebSocket sessions for shutdown", metadata: ["sessions": "\(sessions.count)"])
        await withDiscardingTaskGroup { group in
            for session in sessions {
                group.addTask {
                    try? await session.outbound.close(.goingAway, reason: "controller shutting down")
                }
            }
        }
    }
}
