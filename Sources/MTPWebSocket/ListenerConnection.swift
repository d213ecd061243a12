import Logging
import MTP
import NIOCore
import NIOWebSocket

/// What every connection of one listener shares: one object, referenced by each connection, so that
/// an idle agent costs one pointer for its configuration and its logger.
final class ListenerSettings: Sendable {
    let registry: SessionRegistry
    let logger: Logger
    let listener: WebSocketTransportConfiguration.Listener
    let controllerEndpointID: String
    let maxRecordSize: Int
    let pingInterval: TimeAmount?
    let closeTimeout: TimeAmount
    let policy: WebSocketTransportConfiguration.DuplicateSessionPolicy

    init(configuration: WebSocketTransportConfiguration, listener: WebSocketTransportConfiguration.Listener, registry: SessionRegistry, logger: Logger) {
        self.registry = registry
        self.logger = logger
        self.listener = listener
        self.controllerEndpointID = configuration.controllerEndpointID
        self.maxRecordSize = configuration.maxRecordSize
        self.pingInterval = configuration.pingInterval.map { TimeAmount($0) }
        self.closeTimeout = TimeAmount(configuration.closeTimeout)
        self.policy = configuration.duplicateSessionPolicy
    }
}

/// One agent's session on the controller's listener, after the opening handshake: the last handler
/// of the channel, behind NIOWebSocket's frame decoder and encoder.
///
/// There is no task per connection: frames are handled as they are decoded, on the channel's event
/// loop, and records go to the transport's event stream from there. The handler does what the
/// WebSocket library did for the listener before:
///
/// - the framing rules of the binding (``SessionDriver/assemble(_:fin:data:into:maxRecordSize:)``,
///   R-WS.14, R-WS.16);
/// - pongs for pings (RFC 6455 5.5.2, 5.5.3; R-WS.13), and, with a ping interval, pings of its own
///   from one timer on the event loop, closing a peer that stays silent for a whole interval;
/// - the close handshake (RFC 6455 7.1.2): a peer's Close is echoed and the connection closed; this
///   side's Close is followed by a lingering close: everything the peer still sends is read and
///   dropped until its Close, its end of stream, or `closeTimeout` (RFC 6455 7.1.1). Closing the
///   socket with unread data would make the kernel answer with a reset, which can overtake the
///   Close frame and lose its status code.
///
/// Event-loop confinement: every mutable property is read and written on `eventLoop` only. The
/// methods other threads call (``send(record:)``, ``close(_:reason:)``, ``closeSoon(_:reason:)``)
/// hop there first, which is why the class can be `Sendable`.
final class ListenerConnection: ChannelInboundHandler, RemovableChannelHandler, NIOScheduledCallbackHandler, @unchecked Sendable {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private enum Phase: UInt8 {
        /// Frames flow both ways.
        case open
        /// This side sent its Close frame; the peer's is awaited (lingering close).
        case closing
        /// The Close handshake is over or the channel is gone.
        case closed
    }

    let eventLoop: any EventLoop
    private let settings: ListenerSettings
    private let endpointID: String?

    private var context: ChannelHandlerContext?
    private var session: WebSocketSession?
    /// A fragmented message being reassembled (R-WS.14b); the only per-session buffer.
    private var fragments: ByteBuffer?
    private var phase = Phase.open
    /// Whether the peer sent anything since the last ping.
    private var heardSincePing = true
    /// The ping timer while open, the close timeout while closing.
    private var timer: NIOScheduledCallback?

    init(eventLoop: any EventLoop, settings: ListenerSettings, endpointID: String?) {
        self.eventLoop = eventLoop
        self.settings = settings
        self.endpointID = endpointID
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        register(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        phase = .closed
        timer?.cancel()
        timer = nil
        fragments = nil
        if let session {
            settings.registry.remove(session)
            self.session = nil
            log(.debug, "WebSocket session closed", session: session)
        }
        context.fireChannelInactive()
    }

    /// Registers the session, closing the one it replaces or itself when refused (R-WS.4).
    private func register(context: ChannelHandlerContext) {
        let outbound = SessionOutbound.listener(self)
        switch settings.registry.register(endpointID: endpointID, outbound: outbound, policy: settings.policy) {
        case .registered(let registered, let replaced):
            session = registered
            if let replaced {
                settings.logger.info(
                    "WebSocket session replaced by a newer one from the same endpoint",
                    metadata: metadata(session: registered).merging(["ws.session.replaced": "\(replaced.id)"]) { $1 })
                // R-WS.4: at most one open session between two endpoints.
                replaced.outbound.closeSoon(.policyViolation, reason: "R-WS.4: superseded by a newer session from the same endpoint")
            }
            log(.debug, "WebSocket session open", session: registered)
            schedulePing()
        case .duplicate:
            log(.info, "WebSocket session refused: the endpoint already has one (R-WS.4)", session: nil)
            startClose(.policyViolation, reason: "R-WS.4: this endpoint already has an open session")
        case .shuttingDown:
            startClose(.goingAway, reason: "controller shutting down")
        }
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard phase == .open else {
            // Lingering close (RFC 6455 7.1.1): drop everything until the peer's Close.
            if frame.opcode == .connectionClose { finishClose(context: context) }
            return
        }
        heardSincePing = true
        // RFC 6455 5.1: a server closes the connection on an unmasked client frame.
        guard frame.maskKey != nil else {
            return refuse(.protocolError, reason: "client frames must be masked", log: "WebSocket frame without a mask; closing with 1002 (RFC 6455 5.1)")
        }
        // RFC 6455 5.2: no extension was negotiated, so no reserved bit may be set.
        guard !frame.rsv1 && !frame.rsv2 && !frame.rsv3 else {
            return refuse(.protocolError, reason: "reserved bits set", log: "WebSocket frame with reserved bits; closing with 1002 (RFC 6455 5.2)")
        }
        switch frame.opcode {
        case .binary:
            accept(.binary, frame)
        case .text:
            accept(.text, frame)
        case .continuation:
            accept(.continuation, frame)
        case .ping:
            // RFC 6455 5.5.3: the Pong carries the Ping's application data. R-WS.13.
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .pong:
            break
        case .connectionClose:
            echoClose(frame, context: context)
        default:
            // RFC 6455 5.2: reserved opcodes fail the connection.
            refuse(.protocolError, reason: "unknown opcode", log: "WebSocket frame with a reserved opcode; closing with 1002 (RFC 6455 5.2)")
        }
    }

    /// Assembles one data frame; a complete record goes to the engine.
    private func accept(_ kind: SessionDriver.DataFrameKind, _ frame: WebSocketFrame) {
        switch SessionDriver.assemble(kind, fin: frame.fin, data: frame.unmaskedData, into: &fragments, maxRecordSize: settings.maxRecordSize) {
        case .incomplete:
            break
        case .refused(let refusal):
            refuse(refusal.code, reason: refusal.reason, log: refusal.logMessage)
        case .complete(let complete):
            guard let session else { return }  // refused at registration; its Close is on its way
            settings.registry.yield(.record(InboundRecord(bytes: Array(complete.readableBytesView), replyTo: session.address)))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error {
        case let error as NIOWebSocketError:
            // The frame decoder refuses a frame longer than the record limit, and malformed control
            // frames (RFC 6455 5.5: at most 125 bytes, never fragmented).
            if case .invalidFrameLength = error {
                refuse(
                    .messageTooLarge, reason: "record exceeds \(settings.maxRecordSize) bytes",
                    log: "WebSocket frame exceeds the record limit; closing with 1009")
            } else {
                refuse(.protocolError, reason: "malformed control frame", log: "Malformed WebSocket control frame; closing with 1002 (RFC 6455 5.5)")
            }
        case is ByteToMessageDecoderError:
            // Bytes that arrive after the decoder refused a frame: dropped while the Close
            // handshake lingers (RFC 6455 7.1.1).
            if phase == .open {
                refuse(.protocolError, reason: "undecodable data", log: "Undecodable WebSocket data; closing with 1002")
            }
        default:
            log(.debug, "WebSocket session ended with an error", session: session, error: error)
            phase = .closed
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ListenerShutdown {
            startClose(.goingAway, reason: "controller shutting down")
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    // MARK: Close handshake

    /// A Close from the peer: answered with the same status (RFC 6455 5.5.1), then the server closes
    /// the TCP connection first (RFC 6455 7.1.1).
    private func echoClose(_ frame: WebSocketFrame, context: ChannelHandlerContext) {
        var data = frame.unmaskedData
        var answer = context.channel.allocator.buffer(capacity: 2)
        if data.readableBytes == 1 {
            answer.write(webSocketErrorCode: .protocolError)  // RFC 6455 5.5.1: a body starts with a 2-byte code
        } else if let code = data.readWebSocketErrorCode() {
            answer.write(webSocketErrorCode: Self.mayBeSent(code) ? code : .protocolError)  // RFC 6455 7.4
        }
        phase = .closed
        timer?.cancel()
        timer = nil
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: answer)))
            .assumeIsolated()
            .whenComplete { _ in context.close(promise: nil) }
    }

    /// Whether a peer may put `code` in a Close frame (RFC 6455 7.4.1, 7.4.2): 1000-1003 and
    /// 1007-1014 are defined for the wire, 3000-4999 registered or private; the rest is reserved.
    private static func mayBeSent(_ code: WebSocketErrorCode) -> Bool {
        let number = UInt16(webSocketErrorCode: code)
        return (1000...1003).contains(number) || (1007...1014).contains(number) || (3000...4999).contains(number)
    }

    /// Closes because of what the peer sent: logs why, then the Close frame with `code`.
    private func refuse(_ code: WebSocketErrorCode, reason: String, log message: String) {
        log(.info, "\(message)", session: session)
        startClose(code, reason: reason)
    }

    /// Sends this side's Close frame and lingers until the peer's Close or `closeTimeout`
    /// (RFC 6455 7.1.1, 7.1.2). Does nothing once closing.
    private func startClose(_ code: WebSocketErrorCode, reason: String?) {
        guard phase == .open, let context else { return }
        phase = .closing
        fragments = nil
        var payload = context.channel.allocator.buffer(capacity: 2 + (reason?.utf8.count ?? 0))
        payload.write(webSocketErrorCode: code)
        if let reason {
            // RFC 6455 5.5: a control frame carries at most 125 bytes, 2 of them the code.
            payload.writeBytes(reason.utf8.prefix(123))
        }
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: payload)), promise: nil)
        timer?.cancel()
        timer = try? context.eventLoop.assumeIsolated().scheduleCallback(in: settings.closeTimeout, handler: self)
    }

    /// The handshake is over: the server closes the TCP connection (RFC 6455 7.1.1).
    private func finishClose(context: ChannelHandlerContext) {
        phase = .closed
        timer?.cancel()
        timer = nil
        context.close(promise: nil)
    }

    // MARK: Keep-alive

    private func schedulePing() {
        guard let interval = settings.pingInterval, let context else { return }
        timer = try? context.eventLoop.assumeIsolated().scheduleCallback(in: interval, handler: self)
    }

    func handleScheduledCallback(eventLoop: some EventLoop) {
        timer = nil
        guard let context else { return }
        switch phase {
        case .open:
            guard heardSincePing else {
                log(.info, "WebSocket peer did not answer the last ping; closing with 1001", session: session)
                startClose(.goingAway, reason: "Ping timeout")
                return
            }
            heardSincePing = false
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .ping, data: ByteBuffer())), promise: nil)
            schedulePing()
        case .closing:
            // The peer never answered our Close: drop the connection (RFC 6455 7.1.1).
            finishClose(context: context)
        case .closed:
            break
        }
    }

    func didCancelScheduledCallback(eventLoop: some EventLoop) {}

    // MARK: Called from any thread

    /// Writes one record as a binary frame (R-WS.14, R-WS.14a).
    func send(record: ByteBuffer) async throws {
        try await eventLoop.flatSubmit { () -> EventLoopFuture<Void> in
            guard self.phase == .open, let context = self.context else {
                return self.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel)
            }
            return context.writeAndFlush(self.wrapOutboundOut(WebSocketFrame(fin: true, opcode: .binary, data: record)))
        }.get()
    }

    /// Starts the close handshake; returns once the Close frame is queued.
    func close(_ code: WebSocketErrorCode, reason: String?) async throws {
        try await eventLoop.submit { self.startClose(code, reason: reason) }.get()
    }

    /// Starts the close handshake without waiting.
    func closeSoon(_ code: WebSocketErrorCode, reason: String?) {
        eventLoop.execute { self.startClose(code, reason: reason) }
    }

    // MARK: Logging

    /// Log metadata is built only when a line is written: no per-session `Logger` copy.
    private func log(_ level: Logger.Level, _ message: Logger.Message, session: WebSocketSession?, error: (any Error)? = nil) {
        let logger = settings.logger
        guard logger.logLevel <= level else { return }
        logger.log(level: level, message, metadata: metadata(session: session, error: error))
    }

    private func metadata(session: WebSocketSession?, error: (any Error)? = nil) -> Logger.Metadata {
        SessionDriver.metadata(session, peer: WebSocketTransport.describe(context?.channel.remoteAddress), error: error)
    }
}
