import ServiceLifecycle

/// A USP Message Transfer Protocol (TR-369 section 4): carries USP Records between the controller
/// and agents. Each MTP (WebSocket, MQTT, STOMP) is one adapter behind this protocol; the engine
/// never sees which one a record came over, only the `MTPAddress` to answer on.
///
/// A transport is a `Service`: `run()` connects (or listens), keeps the connection up with
/// reconnection and backoff, and returns when the service group shuts down gracefully or the task is
/// cancelled.
public protocol MessageTransport: Service {
    /// The MTP's name in logs and metrics (`websocket`, `mqtt`, `stomp`).
    var name: String { get }

    /// What happens on the transport, in order: records as they arrive, peers coming and going,
    /// the transport's own link to its broker going up and down.
    var events: AsyncStream<TransportEvent> { get }

    /// Sends one serialized USP Record to `destination`. Throws when it cannot be handed to the MTP
    /// (no connection to that peer, broker down, record too large).
    func send(_ record: [UInt8], to destination: MTPAddress) async throws

    /// Tells the MTP that a record from `peer` could not be parsed. MTPs with a connection per peer
    /// close it (WebSocket: code 1003, TR-369 R-WS.14); brokered MTPs have nothing to close.
    func rejectUnparseableRecord(from peer: MTPAddress) async
}

extension MessageTransport {
    public func rejectUnparseableRecord(from peer: MTPAddress) async {}
}

/// Something a transport reports.
public enum TransportEvent: Sendable {
    /// A record arrived.
    case record(InboundRecord)
    /// A peer connected (WebSocket) or made itself known; `endpointID` is set when the MTP said it.
    case peerConnected(MTPAddress)
    /// A peer's connection closed.
    case peerDisconnected(MTPAddress)
    /// The transport's own link (to its broker, or its listener) came up.
    case linkUp
    /// The transport's own link went down; it is reconnecting.
    case linkDown(reason: String)
}

/// Where a record came from, or where one goes: enough for the MTP to deliver it.
public struct MTPAddress: Hashable, Sendable, CustomStringConvertible {
    /// The MTP: `websocket`, `mqtt`, `stomp`.
    public var transport: String
    /// The MTP-level destination: a connection id, an MQTT topic, a STOMP destination.
    public var destination: String
    /// The peer's endpoint ID when the MTP told it (WebSocket `?eid=`, MQTT user property, STOMP header).
    public var endpointID: String?

    public init(transport: String, destination: String, endpointID: String? = nil) {
        self.transport = transport
        self.destination = destination
        self.endpointID = endpointID
    }

    public var description: String { "\(transport):\(destination)" }
}

/// One record received over an MTP.
public struct InboundRecord: Sendable {
    public var bytes: [UInt8]
    /// Where to send the answer (R-MTP.2: to the address the record came from, or the reply-to the MTP carried).
    public var replyTo: MTPAddress

    public init(bytes: [UInt8], replyTo: MTPAddress) {
        self.bytes = bytes
        self.replyTo = replyTo
    }
}
