import MTP

/// Why the WebSocket transport could not do what it was asked.
public struct WebSocketTransportError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Reason: Hashable, Sendable {
        /// No open session matches the address (it closed, or never existed).
        case noSuchPeer(MTPAddress)
        /// The session closed while the record was being written.
        case connectionClosed(MTPAddress)
        /// The record is larger than ``WebSocketTransportConfiguration/maxRecordSize``.
        case recordTooLarge(size: Int, limit: Int)
        /// The transport is shutting down or has stopped.
        case shuttingDown
        /// A URL to dial is not `ws://` or `wss://` with a host.
        case invalidURL(String)
        /// The agent's server did not answer with HTTP 101.
        case upgradeRefused
        /// The agent's server upgraded without echoing `Sec-WebSocket-Protocol: v1.usp`, so no
        /// session may be established (R-WS.12).
        case subprotocolNotEchoed
        /// TCP connect plus the opening handshake took longer than
        /// ``WebSocketTransportConfiguration/Dialing/connectTimeout``.
        case connectTimeout
    }

    public let reason: Reason

    public init(_ reason: Reason) {
        self.reason = reason
    }

    public var description: String {
        switch reason {
        case .noSuchPeer(let address):
            "no open WebSocket session for \(address)\(address.endpointID.map { " (endpoint \($0))" } ?? "")"
        case .connectionClosed(let address):
            "the WebSocket session \(address) closed while sending"
        case .recordTooLarge(let size, let limit):
            "record of \(size) bytes exceeds the WebSocket record limit of \(limit) bytes"
        case .shuttingDown:
            "the WebSocket transport is shutting down"
        case .invalidURL(let url):
            "not a ws:// or wss:// URL with a host: \(url)"
        case .upgradeRefused:
            "the agent refused the WebSocket upgrade"
        case .subprotocolNotEchoed:
            "the agent did not accept the v1.usp subprotocol (R-WS.12)"
        case .connectTimeout:
            "connecting to the agent timed out"
        }
    }
}
