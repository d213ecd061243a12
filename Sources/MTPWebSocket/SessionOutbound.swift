import HummingbirdWebSocket
import NIOCore
import NIOWebSocket

/// The sending half of one session, whichever way it was opened: an agent that connected to the
/// controller's listener (a NIO channel served by ``ListenerConnection``), or an agent the
/// controller dialled (hummingbird-websocket's writer, see ``AgentDialChannel``).
///
/// One word plus a tag, so that the registry's entry per idle agent stays small.
enum SessionOutbound: Sendable {
    case listener(ListenerConnection)
    case dialled(WebSocketOutboundWriter)

    /// Writes `record` as one binary frame (R-WS.14, not fragmented: R-WS.14a); returns once it is
    /// handed to the socket.
    func write(record: ByteBuffer) async throws {
        switch self {
        case .listener(let connection):
            try await connection.send(record: record)
        case .dialled(let writer):
            try await writer.write(.binary(record))
        }
    }

    /// Starts the close handshake with `code` (RFC 6455 7.1.2); returns once the Close frame is
    /// sent, without waiting for the peer's.
    func close(_ code: WebSocketErrorCode, reason: String?) async throws {
        switch self {
        case .listener(let connection):
            try await connection.close(code, reason: reason)
        case .dialled(let writer):
            try await writer.close(code, reason: reason)
        }
    }

    /// Starts the close handshake without waiting, from any thread (an event loop cannot wait).
    /// Only a dialled session, which is rare, needs a task for it.
    func closeSoon(_ code: WebSocketErrorCode, reason: String?) {
        switch self {
        case .listener(let connection):
            connection.closeSoon(code, reason: reason)
        case .dialled(let writer):
            Task { try? await writer.close(code, reason: reason) }
        }
    }
}
