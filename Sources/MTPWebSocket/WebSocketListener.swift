import HTTPTypes
import Logging
import MTP
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import ServiceLifecycle

/// The WebSocket server agents connect to (R-WS.5), built on SwiftNIO channel handlers with no task
/// per connection: an idle agent costs its channel, NIOWebSocket's frame decoder and encoder, one
/// ``ListenerConnection`` and its registry entry.
///
/// Per connection: optional TLS, then the HTTP/1.1 server pipeline with NIOWebSocket's upgrader,
/// and ``ListenerHTTPHandler`` for requests that are not upgraded. After the upgrade the HTTP
/// handlers are gone and ``ListenerConnection`` serves the session.
///
/// `run()` binds (a bind failure is thrown), reports the port, and serves until graceful shutdown
/// or cancellation. Then it stops accepting, asks open connections to close (sessions were closed
/// with 1001 by the transport before), and returns once they have, at most `closeTimeout` plus a
/// second later.
struct WebSocketListener: Service {
    let settings: ListenerSettings
    let listenerState: ListenerState
    let onListening: @Sendable (_ host: String, _ port: Int) async -> Void

    /// An idle HTTP connection (before the upgrade) is closed after this long.
    static let httpIdleTimeout = TimeAmount.seconds(30)

    func run() async throws {
        let listener = settings.listener
        let sslContext = try listener.tlsConfiguration.map { try NIOSSLContext(configuration: $0) }
        let group = MultiThreadedEventLoopGroup.singleton
        let serverLoop = group.next()
        let tracker = ConnectionTracker(eventLoop: serverLoop, maxConnections: listener.maxConnections, logger: settings.logger)
        let upgrader = makeUpgrader()
        let settings = self.settings
        let serverChannel = try await ServerBootstrap(group: serverLoop, childGroup: group)
            .serverChannelOption(.backlog, value: Int32(clamping: listener.backlog))
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(tracker) }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // An idle agent's socket keeps its last receive buffer: start small, shrink to 64 bytes,
            // grow for records (NIO's default starts at 2 KiB).
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 64 << 10))
            // NIO keeps up to maxMessagesPerRead receive buffers per channel for reuse, and a
            // buffer still referenced when the next read comes (a frame decoded from it) adds one
            // more to that pool: with 4, idle agents held about 6 KiB more each (20.5 → 14 KiB per
            // agent at 15,000). An agent sends a record now and then; one read per wake-up is plenty.
            .childChannelOption(.maxMessagesPerRead, value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let sslContext { try pipeline.addHandler(NIOSSLServerHandler(context: sslContext)) }
                    try pipeline.configureHTTPServerPipeline(withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
                    try pipeline.addHandler(ListenerHTTPHandler(path: settings.listener.path))
                }
            }
            .bind(host: listener.host, port: listener.port)
            .get()

        let port = serverChannel.localAddress?.port ?? listener.port
        settings.logger.info(
            "WebSocket MTP listening", metadata: ["host": "\(listener.host)", "port": "\(port)", "path": "\(listener.path)"])
        await onListening(listener.host, port)
        listenerState.listening(port: port)
        settings.registry.yield(.linkUp)

        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                try? await serverChannel.closeFuture.get()
            } onGracefulShutdown: {
                serverChannel.close(promise: nil)
            }
        } onCancel: {
            serverChannel.close(promise: nil)
        }
        // Graceful: sessions are lingering in their close handshake; give them closeTimeout.
        // Cancelled: no handshake.
        let grace = Task.isCancelled ? .zero : settings.closeTimeout + .seconds(1)
        try? await serverLoop.flatSubmit { tracker.closeAll(grace: grace) }.get()
    }

    /// One upgrader for every connection: it holds no per-connection state.
    private func makeUpgrader() -> NIOWebSocketServerUpgrader {
        let settings = self.settings
        return NIOWebSocketServerUpgrader(
            maxFrameSize: settings.maxRecordSize,
            // Decoder errors go to `ListenerConnection`, which answers 1009 or 1002 and lingers.
            automaticErrorHandling: false,
            shouldUpgrade: { channel, head in
                channel.eventLoop.makeSucceededFuture(settings.upgradeHeaders(for: head, peer: channel.remoteAddress))
            },
            upgradePipelineHandler: { channel, head in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    let http = try pipeline.context(handlerType: ListenerHTTPHandler.self)
                    pipeline.removeHandler(context: http, promise: nil)
                    let endpointID = (try? settings.offer(in: head).get())?.endpointID
                    try pipeline.addHandler(ListenerConnection(eventLoop: channel.eventLoop, settings: settings, endpointID: endpointID))
                }
            })
    }
}

/// Sent down every open connection when the listener stops: a connection still in HTTP closes.
struct ListenerShutdown: Sendable {}

// MARK: - Opening handshake

/// What an acceptable upgrade request offers.
struct USPUpgradeOffer {
    /// From `?eid=` (R-WS.10b) or the deprecated `bbf-usp-protocol` extension (R-WS.10a).
    let endpointID: String?
    /// Whether the request carried the `bbf-usp-protocol` extension, to be answered (R-WS.11a).
    let offersExtension: Bool
    /// The extension's endpoint ID when it disagrees with the query's (the query wins).
    var ignoredExtensionEndpointID: String?
}

/// Why an upgrade request is refused (answered with 400 by ``ListenerHTTPHandler``).
struct UpgradeRefusal: Error {
    let message: Logger.Message
    var metadata: Logger.Metadata = [:]
}

extension ListenerSettings {
    /// The USP rules of the opening handshake that depend on the request alone.
    func offer(in head: HTTPRequestHead) -> Result<USPUpgradeOffer, UpgradeRefusal> {
        let (path, query) = USPWebSocketHandshake.splitTarget(head.uri)
        guard path == listener.path else {
            return .failure(UpgradeRefusal(message: "WebSocket upgrade refused: wrong path", metadata: ["path": "\(path)"]))
        }
        var fields = HTTPFields()
        for value in head.headers["Sec-WebSocket-Protocol"] { fields.append(HTTPField(name: .secWebSocketProtocol, value: value)) }
        for value in head.headers["Sec-WebSocket-Extensions"] { fields.append(HTTPField(name: .secWebSocketExtensions, value: value)) }
        // R-WS.12a: no `v1.usp` offered, no session.
        guard USPWebSocketHandshake.offersUSP(fields) else {
            return .failure(UpgradeRefusal(message: "WebSocket upgrade refused: the client did not offer the v1.usp subprotocol (R-WS.12a)"))
        }
        // R-WS.10b/R-WS.10c: the agent's endpoint ID, percent-encoded in the `eid` query parameter.
        var endpointID: String?
        switch USPWebSocketHandshake.queryEndpointID(query) {
        case .present(let eid): endpointID = eid
        case .absent: break
        case .invalid: return .failure(UpgradeRefusal(message: "WebSocket upgrade refused: malformed eid query parameter"))
        }
        // R-WS.10a (deprecated since USP 1.3): older agents put it in the bbf-usp-protocol extension.
        // Its absence is no error (R-WS.11c).
        let extensionOffer = USPWebSocketHandshake.extensionEndpointID(fields)
        var ignoredExtensionEndpointID: String?
        if case .some(.some(let extensionEID)) = extensionOffer {
            if let endpointID, endpointID != extensionEID { ignoredExtensionEndpointID = extensionEID }
            endpointID = endpointID ?? extensionEID
        }
        if endpointID == nil && listener.requireEndpointID {
            return .failure(UpgradeRefusal(message: "WebSocket upgrade refused: no endpoint ID in the handshake"))
        }
        return .success(USPUpgradeOffer(
            endpointID: endpointID, offersExtension: extensionOffer != nil, ignoredExtensionEndpointID: ignoredExtensionEndpointID))
    }

    /// Decides an upgrade request: the headers to add to the 101 answer, or `nil` to refuse it.
    func upgradeHeaders(for head: HTTPRequestHead, peer: SocketAddress?) -> HTTPHeaders? {
        let offer: USPUpgradeOffer
        switch self.offer(in: head) {
        case .success(let accepted):
            offer = accepted
        case .failure(var refusal):
            refusal.metadata["ws.peer"] = "\(WebSocketTransport.describe(peer))"
            logger.info(refusal.message, metadata: refusal.metadata)
            return nil
        }
        if let ignored = offer.ignoredExtensionEndpointID, let endpointID = offer.endpointID {
            logger.warning(
                "WebSocket eid query parameter and bbf-usp-protocol extension disagree; using the query",
                metadata: ["eid.query": "\(endpointID)", "eid.extension": "\(ignored)", "ws.peer": "\(WebSocketTransport.describe(peer))"])
        }
        guard !registry.isShuttingDown else { return nil }
        if policy == .rejectNew, let endpointID = offer.endpointID, registry.hasSession(endpointID: endpointID) {
            logger.info(
                "WebSocket upgrade refused: the endpoint already has a session (R-WS.4)",
                metadata: ["usp.endpoint": "\(endpointID)", "ws.peer": "\(WebSocketTransport.describe(peer))"])
            return nil
        }
        // R-WS.11: echo the subprotocol. R-WS.11a: answer the extension with our own endpoint ID.
        var headers = HTTPHeaders([("Sec-WebSocket-Protocol", USPWebSocketHandshake.subprotocol)])
        if offer.offersExtension {
            headers.add(name: "Sec-WebSocket-Extensions", value: USPWebSocketHandshake.extensionHeaderValue(endpointID: controllerEndpointID))
        }
        return headers
    }
}

// MARK: - HTTP before the upgrade

/// Answers the requests that are not upgraded, and closes a connection that stays idle in HTTP.
///
/// - a refused WebSocket upgrade: 400, and the connection closes;
/// - a plain request on the USP path: 426 Upgrade Required with `Upgrade: websocket` and
///   `Sec-WebSocket-Protocol: v1.usp` (RFC 9110 15.5.22), 405 for methods other than GET;
/// - anything else: 404.
final class ListenerHTTPHandler: ChannelInboundHandler, RemovableChannelHandler, NIOScheduledCallbackHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let path: String
    private var context: ChannelHandlerContext?
    private var pending: (status: HTTPResponseStatus, keepAlive: Bool)?
    private var lastRead = NIODeadline.now()
    private var timer: NIOScheduledCallback?

    init(path: String) {
        self.path = path
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        timer = try? context.eventLoop.assumeIsolated().scheduleCallback(in: WebSocketListener.httpIdleTimeout, handler: self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastRead = .now()
        switch unwrapInboundIn(data) {
        case .head(let head):
            let isUpgrade = head.headers["Upgrade"].contains { $0.lowercased().contains("websocket") }
            let (requestPath, _) = USPWebSocketHandshake.splitTarget(head.uri)
            let status: HTTPResponseStatus =
                if isUpgrade { .badRequest } else if requestPath != path { .notFound } else if head.method == .GET { .upgradeRequired } else {
                    .methodNotAllowed
                }
            pending = (status, head.isKeepAlive && !isUpgrade)
        case .body:
            break
        case .end:
            guard let (status, keepAlive) = pending else { return }
            pending = nil
            var headers = HTTPHeaders([("Content-Length", "0")])
            switch status {
            case .upgradeRequired:
                headers.add(name: "Upgrade", value: "websocket")
                headers.add(name: "Sec-WebSocket-Protocol", value: USPWebSocketHandshake.subprotocol)
            case .methodNotAllowed:
                headers.add(name: "Allow", value: "GET")
            default:
                break
            }
            if !keepAlive { headers.add(name: "Connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if !keepAlive {
                written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ListenerShutdown {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A malformed upgrade request (no key, wrong version) is followed by the request itself,
        // which gets its 400.
        if error is NIOWebSocketUpgradeError { return }
        context.close(promise: nil)
    }

    func handleScheduledCallback(eventLoop: some EventLoop) {
        timer = nil
        guard let context else { return }
        let idle = NIODeadline.now() - lastRead
        if idle >= WebSocketListener.httpIdleTimeout {
            context.close(promise: nil)
        } else {
            timer = try? eventLoop.assumeIsolated().scheduleCallback(in: WebSocketListener.httpIdleTimeout - idle, handler: self)
        }
    }

    func didCancelScheduledCallback(eventLoop: some EventLoop) {}
}

// MARK: - Connection limit

/// The server channel's handler: counts open connections, stops accepting at `maxConnections`
/// (new clients wait in the kernel's backlog) and accepts again when one closes. At shutdown it
/// closes what is still open.
///
/// Event-loop confinement: all state is used on `eventLoop`, the server channel's loop.
final class ConnectionTracker: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    let eventLoop: any EventLoop
    private let maxConnections: Int
    private let logger: Logger
    private var open: [ObjectIdentifier: any Channel] = [:]
    private var serverChannel: (any Channel)?
    private var paused = false

    init(eventLoop: any EventLoop, maxConnections: Int, logger: Logger) {
        self.eventLoop = eventLoop
        self.maxConnections = max(maxConnections, 1)
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        serverChannel = context.channel
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = unwrapInboundIn(data)
        context.fireChannelRead(data)
        guard open.count < maxConnections else {
            // Accepted in the same batch as the last one allowed.
            logger.debug("WebSocket connection refused: at the connection limit", metadata: ["limit": "\(maxConnections)"])
            child.close(promise: nil)
            return
        }
        let id = ObjectIdentifier(child)
        open[id] = child
        child.closeFuture.whenComplete { _ in
            self.eventLoop.execute { self.closed(id) }
        }
        if open.count >= maxConnections && !paused {
            paused = true
            logger.info("WebSocket listener at its connection limit; new connections wait", metadata: ["limit": "\(maxConnections)"])
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        }
    }

    private func closed(_ id: ObjectIdentifier) {
        open[id] = nil
        if paused && open.count < maxConnections, let serverChannel, serverChannel.isActive {
            paused = false
            serverChannel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
        }
    }

    /// Asks every open connection to close, closes the rest after `grace`; completes when all are
    /// closed.
    func closeAll(grace: TimeAmount) -> EventLoopFuture<Void> {
        let children = Array(open.values)
        for child in children {
            child.pipeline.fireUserInboundEventTriggered(ListenerShutdown())
            if grace == .zero { child.close(promise: nil) }
        }
        let forced = eventLoop.scheduleTask(in: grace) {
            for child in children { child.close(promise: nil) }
        }
        let all = EventLoopFuture.andAllComplete(children.map(\.closeFuture), on: eventLoop)
        all.whenComplete { _ in forced.cancel() }
        return all
    }
}
