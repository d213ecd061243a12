import HummingbirdWebSocket
import Logging
import MTP
import NIOCore
import NIOWebSocket

/// Runs one dialled WebSocket session (the controller connected to an agent's server) from
/// registration to close: registers it, turns binary messages into `.record` events, enforces the
/// framing rules of the WebSocket binding, and unregisters it when the connection ends.
///
/// Ping, pong and the close handshake are handled by the WebSocket library underneath
/// (R-WS.13); what arrives here are data frames only. Sessions accepted by the listener are served
/// by ``ListenerConnection`` on the event loop instead; both apply ``assemble(_:fin:data:into:maxRecordSize:)``.
struct SessionDriver: Sendable {
    let registry: SessionRegistry
    let maxRecordSize: Int
    let policy: WebSocketTransportConfiguration.DuplicateSessionPolicy

    /// Serves the session until the peer or the transport closes it.
    ///
    /// The session's task stays suspended here for as long as the agent is connected, and a task
    /// keeps the memory of its deepest stack until it ends: tens of thousands of idle agents each
    /// hold one. So the log metadata is built only when a line is written (no per-session `Logger`
    /// copy with its own metadata dictionary), and the rare paths (replacing, refusing, closing)
    /// are separate functions whose frames exist only while they run.
    ///
    /// - Parameters:
    ///   - peer: the remote address, for log lines.
    ///   - onEstablished: called once the session is registered (the dialer resets its backoff then).
    func run(
        endpointID: String?,
        peer: String,
        inbound: WebSocketInboundStream,
        outbound: WebSocketOutboundWriter,
        logger: Logger,
        onEstablished: @Sendable (WebSocketSession) -> Void = { _ in }
    ) async {
        guard let session = await register(endpointID: endpointID, peer: peer, outbound: .dialled(outbound), logger: logger) else { return }
        onEstablished(session)
        Self.log(logger, .debug, "WebSocket session open", session, peer: peer)
        let ending = await readRecords(session: session, inbound: inbound)
        await end(session, ending, peer: peer, outbound: outbound, logger: logger)
    }

    /// How a session's reading ended.
    enum Ending {
        /// The peer or the transport closed the connection.
        case closed
        /// A frame broke the binding's rules; this side closes with the refusal's code.
        case refused(Refusal)
        /// Reading failed.
        case failed(any Error)
    }

    /// Why a session is closed by this side, and the Close frame that says so.
    struct Refusal {
        let code: WebSocketErrorCode
        let reason: String
        let logMessage: String
    }

    /// Reads data frames until the session ends. Kept small: this frame, and the iterator's below
    /// it, are what an idle session's task holds.
    @inline(never)
    private func readRecords(session: WebSocketSession, inbound: WebSocketInboundStream) async -> Ending {
        // The only per-session buffer: a fragmented message being reassembled (R-WS.14b).
        var fragments: ByteBuffer?
        var frames = inbound.makeAsyncIterator()
        do {
            while let frame = try await frames.next() {
                if let refusal = accept(frame, fragments: &fragments, session: session) { return .refused(refusal) }
            }
            return .closed
        } catch {
            return .failed(error)
        }
    }

    /// Assembles one data frame; a complete record goes to the engine.
    @inline(never)
    private func accept(_ frame: WebSocketDataFrame, fragments: inout ByteBuffer?, session: WebSocketSession) -> Refusal? {
        let kind: DataFrameKind =
            switch frame.opcode {
            case .text: .text
            case .binary: .binary
            case .continuation: .continuation
            }
        switch Self.assemble(kind, fin: frame.fin, data: frame.data, into: &fragments, maxRecordSize: maxRecordSize) {
        case .incomplete:
            return nil
        case .refused(let refusal):
            return refusal
        case .complete(let complete):
            registry.yield(.record(InboundRecord(bytes: Array(complete.readableBytesView), replyTo: session.address)))
            return nil
        }
    }

    /// Closes the session when this side refused a frame, then unregisters it.
    @inline(never)
    private func end(_ session: WebSocketSession, _ ending: Ending, peer: String, outbound: WebSocketOutboundWriter, logger: Logger) async {
        switch ending {
        case .closed:
            break
        case .refused(let refusal):
            Self.log(logger, .info, "\(refusal.logMessage)", session, peer: peer)
            do {
                try await outbound.close(refusal.code, reason: refusal.reason)
            } catch {
                Self.log(logger, .debug, "WebSocket session ended with an error", session, peer: peer, error: error)
            }
        case .failed(let error):
            Self.log(logger, .debug, "WebSocket session ended with an error", session, peer: peer, error: error)
        }
        registry.remove(session)
        Self.log(logger, .debug, "WebSocket session closed", session, peer: peer)
    }

    @inline(never)
    static func log(
        _ logger: Logger, _ level: Logger.Level, _ message: Logger.Message, _ session: WebSocketSession?, peer: String, error: (any Error)? = nil
    ) {
        logger.log(level: level, message, metadata: metadata(session, peer: peer, error: error))
    }

    static func metadata(_ session: WebSocketSession?, peer: String, error: (any Error)? = nil) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["ws.peer": "\(peer)"]
        if let session {
            metadata["ws.session"] = "\(session.id)"
            if let endpointID = session.endpointID { metadata["usp.endpoint"] = "\(endpointID)" }
        }
        if let error { metadata["error"] = "\(error)" }
        return metadata
    }

    /// Registers the session, closing the one it replaces or itself when refused (R-WS.4).
    @inline(never)
    private func register(endpointID: String?, peer: String, outbound: SessionOutbound, logger: Logger) async -> WebSocketSession? {
        switch registry.register(endpointID: endpointID, outbound: outbound, policy: policy) {
        case .registered(let registered, let replaced):
            if let replaced {
                logger.info(
                    "WebSocket session replaced by a newer one from the same endpoint",
                    metadata: Self.metadata(registered, peer: peer).merging(["ws.session.replaced": "\(replaced.id)"]) { $1 })
                // R-WS.4: at most one open session between two endpoints.
                try? await replaced.outbound.close(
                    .policyViolation, reason: "R-WS.4: superseded by a newer session from the same endpoint")
            }
            return registered
        case .duplicate:
            Self.log(logger, .info, "WebSocket session refused: the endpoint already has one (R-WS.4)", nil, peer: peer)
            try? await outbound.close(.policyViolation, reason: "R-WS.4: this endpoint already has an open session")
            return nil
        case .shuttingDown:
            try? await outbound.close(.goingAway, reason: "controller shutting down")
            return nil
        }
    }

    enum Assembly {
        case incomplete
        case complete(ByteBuffer)
        case refused(Refusal)
    }

    /// The data frame opcodes (RFC 6455 5.6).
    enum DataFrameKind {
        case text
        case binary
        case continuation
    }

    /// Applies the framing rules of the WebSocket binding to one data frame.
    static func assemble(
        _ kind: DataFrameKind, fin: Bool, data: ByteBuffer, into fragments: inout ByteBuffer?, maxRecordSize: Int
    ) -> Assembly {
        let complete: ByteBuffer
        switch kind {
        case .text:
            // R-WS.14: Records travel in binary frames. R-WS.16: a frame whose Record cannot be
            // extracted closes the connection with 1003.
            return .refused(Refusal(
                code: .unacceptableData, reason: "USP Records must be sent in binary frames",
                logMessage: "WebSocket text frame received; closing with 1003 (R-WS.14, R-WS.16)"))
        case .binary:
            guard fragments == nil else {
                return .refused(Refusal(
                    code: .protocolError, reason: "new message inside a fragmented message",
                    logMessage: "WebSocket data frame inside a fragmented message; closing with 1002"))
            }
            guard fin else {
                fragments = data
                return .incomplete
            }
            complete = data
        case .continuation:
            guard var buffer = fragments else {
                return .refused(Refusal(
                    code: .protocolError, reason: "continuation frame without a message",
                    logMessage: "WebSocket continuation frame without a message; closing with 1002"))
            }
            guard buffer.readableBytes + data.readableBytes <= maxRecordSize else {
                return .refused(Refusal(
                    code: .messageTooLarge, reason: "record exceeds \(maxRecordSize) bytes",
                    logMessage: "Fragmented WebSocket message exceeds the record limit; closing with 1009"))
            }
            fragments = nil  // one owner of the storage while it grows
            var data = data
            buffer.writeBuffer(&data)
            guard fin else {
                fragments = buffer
                return .incomplete
            }
            complete = buffer
        }
        // An empty message cannot hold a Record: version, to_id, from_id and record_type are
        // required (B.1). Anything else is the engine's to parse; it asks for 1003 through
        // `WebSocketTransport.close(_:code:reason:)` when parsing fails (R-WS.16).
        guard complete.readableBytes > 0 else {
            return .refused(Refusal(
                code: .unacceptableData, reason: "empty message holds no USP Record",
                logMessage: "Empty WebSocket message received; closing with 1003 (R-WS.16)"))
        }
        return .complete(complete)
    }
}
