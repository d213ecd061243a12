/// A USP Message Transfer Protocol (TR-369 section 4): carries USP Records between the controller
/// and agents. Each MTP (WebSocket, MQTT, STOMP) is one adapter behind this protocol; the engine
/// never sees which one a record came over, only the `MTPAddress` to answer on.
public protocol MessageTransport: Sendable {
    /// The MTP's name in logs and metrics (`websocket`, `mqtt`, `stomp`).
    var name: String { get }

    /// Records as they arrive, with where to send answers.
    var inbound: AsyncStream<InboundRecord> { get }

    /// Sends one serialized USP Record to `destination`.
    func send(_ record: [UInt8], to destination: MTPAddress) async throws
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
    public var replyTo: MTPAddress

    public init(bytes: [UInt8], replyTo: MTPAddress) {
        self.bytes = bytes
        self.replyTo = replyTo
    }
}
