import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
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
/// `run()` owns everything long-lived: the listener, the redial loops, the session tasks. Graceful
/// shutdown first closes every session with 1001 (going away), then stops redialling, then stops
/// the listener. The event stream finishes when `run()` returns; a transport runs once.
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
        // library's own shutdown handler would close sessions with 1000 first.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let listener = configuration.listener {
            services.append(.init(service: try makeListenerApplication(listener), serviceName: "websocket-listener"))
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
            try await session.outbound.write(.binary(ByteBuffer(bytes: record)))
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

    // MARK: Listener

    private func makeListenerApplication(_ listener: WebSocketTransportConfiguration.Listener) throws -> some ApplicationProtocol {
        let router = Router()
        // A plain GET on the USP path is an agent that forgot to upgrade.
        router.get(RouterPath(listener.path)) { _, _ in
            Response(status: .upgradeRequired, headers: [.upgrade: "websocket", .secWebSocketProtocol: USPWebSocketHandshake.subprotocol])
        }
        let webSocket = WebSocketServerConfiguration(
            maxFrameSize: configuration.maxRecordSize,
            autoPing: configuration.pingInterval.map { .enabled(timePeriod: $0) } ?? .disabled,
            closeTimeout: configuration.closeTimeout,
            validateUTF8: false)
        let plain: HTTPServerBuilder = .http1WebSocketUpgrade(configuration: .init(http1: .init(idleTimeout: .seconds(30)), ws: webSocket)) {
            [self] request, channel, logger in
            self.shouldUpgrade(request, channel: channel, logger: logger, listener: listener)
        }
        let server = try listener.tlsConfiguration.map { tls in try HTTPServerBuilder.tls(plain, tlsConfiguration: tls) } ?? plain
        return Application(
            router: router,
            server: server,
            configuration: .init(
                address: .hostname(listener.host, port: listener.port),
                serverName: nil,
                backlog: listener.backlog,
                availableConnectionsDelegate: .maximum(listener.maxConnections, logger: logger)),
            onServerRunning: { [self] channel in
                let port = channel.localAddress?.port ?? listener.port
                self.logger.info(
                    "WebSocket MTP listening",
                    metadata: ["host": "\(listener.host)", "port": "\(port)", "path": "\(listener.path)"])
                await self.onListening(listener.host, port)
                self.listenerState.listening(port: port)
                self.registry.yield(.linkUp)
            },
            logger: logger)
    }

    /// Decides the opening handshake of an agent's session (the HTTP upgrade request).
    private func shouldUpgrade(
        _ request: HTTPRequest,
        channel: any Channel,
        logger: Logger,
        listener: WebSocketTransportConfiguration.Listener
    ) -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> {
        // The session keeps the logger it is given: a copy with its own metadata would be one more
        // dictionary per idle agent. Refusals here log with the peer's address.
        let sessionLogger = logger
        let peer = Self.describe(channel.remoteAddress)
        var logger = logger
        logger[metadataKey: "ws.peer"] = "\(peer)"
        let (path, query) = USPWebSocketHandshake.splitTarget(request.path ?? "")
        guard path == listener.path else {
            logger.debug("WebSocket upgrade refused: wrong path", metadata: ["path": "\(path)"])
            return .dontUpgrade
        }
        // R-WS.12a: no `v1.usp` offered, no session.
        guard USPWebSocketHandshake.offersUSP(request.headerFields) else {
            logger.info("WebSocket upgrade refused: the client did not offer the v1.usp subprotocol (R-WS.12a)")
            return .dontUpgrade
        }
        // R-WS.10b/R-WS.10c: the agent's endpoint ID, percent-encoded in the `eid` query parameter.
        var endpointID: String?
        switch USPWebSocketHandshake.queryEndpointID(query) {
        case .present(let eid): endpointID = eid
        case .absent: break
        case .invalid:
            logger.info("WebSocket upgrade refused: malformed eid query parameter")
            return .dontUpgrade
        }
        // R-WS.10a (deprecated since USP 1.3): older agents put it in the bbf-usp-protocol extension.
        // Its absence is no error (R-WS.11c).
        let extensionOffer = USPWebSocketHandshake.extensionEndpointID(request.headerFields)
        if case .some(.some(let extensionEID)) = extensionOffer {
            if let endpointID, endpointID != extensionEID {
                logger.warning(
                    "WebSocket eid query parameter and bbf-usp-protocol extension disagree; using the query",
                    metadata: ["eid.query": "\(endpointID)", "eid.extension": "\(extensionEID)"])
            }
            endpointID = endpointID ?? extensionEID
        }
        if endpointID == nil && listener.requireEndpointID {
            logger.info("WebSocket upgrade refused: no endpoint ID in the handshake")
            return .dontUpgrade
        }
        guard !registry.isShuttingDown else { return .dontUpgrade }
        if configuration.duplicateSessionPolicy == .rejectNew, let endpointID, registry.hasSession(endpointID: endpointID) {
            logger.info(
                "WebSocket upgrade refused: the endpoint already has a session (R-WS.4)",
                metadata: ["usp.endpoint": "\(endpointID)"])
            return .dontUpgrade
        }
        // R-WS.11: echo the subprotocol. R-WS.11a: answer the extension with our own endpoint ID.
        var headers: HTTPFields = [.secWebSocketProtocol: USPWebSocketHandshake.subprotocol]
        if extensionOffer != nil {
            headers[.secWebSocketExtensions] = USPWebSocketHandshake.extensionHeaderValue(endpointID: configuration.controllerEndpointID)
        }
        let driver = self.driver
        return .upgrade(headers) { [endpointID, peer, sessionLogger] inbound, outbound, _ in
            await driver.run(endpointID: endpointID, peer: peer, inbound: inbound, outbound: outbound, logger: sessionLogger)
        }
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
