import HummingbirdWebSocket
import Logging
import MTP
import NIOCore
import NIOWebSocket

/// Runs one WebSocket session, accepted or dialled, from registration to close: registers it,
/// turns binary messages into `.record` events, enforces the framing rules of the WebSocket
/// binding, and unregisters it when the connection ends.
///
/// Ping, pong and the close handshake are handled by the WebSocket library underneath
/// (R-WS.13); what arrives here are data frames only.
struct SessionDriver: Sendable {
    let registry: SessionRegistry
    let maxRecordSize: Int
    let policy: WebSocketTransportConfiguration.DuplicateSessionPolicy

    /// Serves the session until the peer or the transport closes it.
    ///
    /// - Parameter onEstablished: called once the session is registered (the dialer resets its
    ///   backoff then).
    func run(
        endpointID: String?,
        inbound: WebSocketInboundStream,
        outbound: WebSocketOutboundWriter,
        logger: Logger,
        onEstablished: @Sendable (WebSocketSession) -> Void = { _ in }
    ) async {
        let session: WebSocketSession
        switch registry.register(endpointID: endpointID, outbound: outbound, policy: policy) {
        case .registered(let registered, let replaced):
            session = registered
            if let replaced {
                logger.info(
                    "WebSocket session replaced by a newer one from the same endpoint",
                    metadata: ["usp.endpoint": "\(endpointID ?? "")", "ws.session.replaced": "\(replaced.id)"])
                // R-WS.4: at most one open session between two endpoints.
                try? await replaced.outbound.close(
                    .policyViolation, reason: "R-WS.4: superseded by a newer session from the same endpoint")
            }
        case .duplicate:
            logger.info("WebSocket session refused: the endpoint already has one (R-WS.4)")
            try? await outbound.close(.policyViolation, reason: "R-WS.4: this endpoint already has an open session")
            return
        case .shuttingDown:
            try? await outbound.close(.goingAway, reason: "controller shutting down")
            return
        }
        onEstablished(session)
        var logger = logger
        logger[metadataKey: "ws.session"] = "\(session.id)"
        logger.debug("WebSocket session open")
        defer {
            registry.remove(session)
            logger.debug("WebSocket session closed")
        }
        do {
            try await readRecords(session: session, inbound: inbound, outbound: outbound, logger: logger)
        } catch {
            logger.debug("WebSocket session ended with an error", metadata: ["error": "\(error)"])
        }
    }

    private func readRecords(
        session: WebSocketSession,
        inbound: WebSocketInboundStream,
        outbound: WebSocketOutboundWriter,
        logger: Logger
    ) async throws {
        // The only per-session buffer: a fragmented message being reassembled (R-WS.14b).
        var fragments: ByteBuffer?
        var frames = inbound.makeAsyncIterator()
        while let frame = try await frames.next() {
            let complete: ByteBuffer
            switch frame.opcode {
            case .text:
                // R-WS.14: Records travel in binary frames. R-WS.16: a frame whose Record cannot be
                // extracted closes the connection with 1003.
                logger.info("WebSocket text frame received; closing with 1003 (R-WS.14, R-WS.16)")
                try await outbound.close(.unacceptableData, reason: "USP Records must be sent in binary frames")
                return
            case .binary:
                guard fragments == nil else {
                    try await outbound.close(.protocolError, reason: "new message inside a fragmented message")
                    return
                }
                guard frame.fin else {
                    fragments = frame.data
                    continue
                }
                complete = frame.data
            case .continuation:
                guard var buffer = fragments else {
                    try await outbound.close(.protocolError, reason: "continuation frame without a message")
                    return
                }
                guard buffer.readableBytes + frame.data.readableBytes <= maxRecordSize else {
                    logger.info("Fragmented WebSocket message exceeds the record limit; closing with 1009")
                    try await outbound.close(.messageTooLarge, reason: "record exceeds \(maxRecordSize) bytes")
                    return
                }
                var data = frame.data
                buffer.writeBuffer(&data)
                guard frame.fin else {
                    fragments = buffer
                    continue
                }
                fragments = nil
                complete = buffer
            }
            // An empty message cannot hold a Record: version, to_id, from_id and record_type are
            // required (B.1). Anything else is the engine's to parse; it asks for 1003 through
            // `WebSocketTransport.close(_:code:reason:)` when parsing fails (R-WS.16).
            guard complete.readableBytes > 0 else {
                logger.info("Empty WebSocket message received; closing with 1003 (R-WS.16)")
                try await outbound.close(.unacceptableData, reason: "empty message holds no USP Record")
                return
            }
            registry.yield(.record(InboundRecord(bytes: Array(complete.readableBytesView), replyTo: session.address)))
        }
    }
}
