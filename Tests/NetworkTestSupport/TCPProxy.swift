import NIOCore
import NIOPosix
import Synchronization

/// A loopback TCP relay between a client (a transport) and a broker, so a test can cut connections
/// (the broker sees a closed socket, the client a reset), silence them (bytes stop flowing, sockets
/// stay open) or refuse new ones (each is closed as soon as it is accepted), without touching the
/// broker.
public final class TCPProxy: Sendable {
    public let port: Int
    private let serverChannel: any Channel
    private let connections: Connections

    /// One relayed connection: the accepted side and the broker side.
    struct Pair: Sendable {
        var client: any Channel
        var upstream: any Channel
        var silenced: Flag
    }

    /// A flag shared by the two relay handlers of one pair.
    final class Flag: Sendable {
        private let value = Atomic<Bool>(false)
        var isSet: Bool { value.load(ordering: .relaxed) }
        func set() { value.store(true, ordering: .relaxed) }
    }

    /// The relayed connections, shared with the accepting channel's initializer.
    final class Connections: Sendable {
        private struct State {
            var pairs: [Int: Pair] = [:]
            var nextID = 0
            var refusing = false
            var attempts: [ContinuousClock.Instant] = []
        }

        private let state = Mutex(State())
        let accepted = Atomic<Int>(0)

        /// Notes an incoming connection; false when it is to be refused.
        func arrived() -> Bool {
            state.withLock { state in
                state.attempts.append(.now)
                return !state.refusing
            }
        }

        func add(_ pair: Pair) {
            accepted.add(1, ordering: .relaxed)
            let id = state.withLock { state -> Int in
                state.nextID += 1
                state.pairs[state.nextID] = pair
                return state.nextID
            }
            pair.client.closeFuture.whenComplete { _ in
                _ = self.state.withLock { $0.pairs.removeValue(forKey: id) }
            }
        }

        var all: [Pair] { state.withLock { Array($0.pairs.values) } }
        var attempts: [ContinuousClock.Instant] { state.withLock { $0.attempts } }
        func setRefusing(_ refusing: Bool) { state.withLock { $0.refusing = refusing } }
    }

    /// Connections relayed so far (each client connection attempt that got through).
    public var acceptedCount: Int { connections.accepted.load(ordering: .relaxed) }

    /// When each connection attempt arrived, relayed or refused, in order.
    public var attemptTimes: [ContinuousClock.Instant] { connections.attempts }

    public static func start(upstreamHost: String, upstreamPort: Int) async throws -> TCPProxy {
        let connections = Connections()
        let group = MultiThreadedEventLoopGroup.singleton
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { client in
                guard connections.arrived() else { return client.close() }
                return ClientBootstrap(group: client.eventLoop)
                    .connect(host: upstreamHost, port: upstreamPort)
                    .flatMapThrowing { upstream in
                        let flag = Flag()
                        try client.pipeline.syncOperations.addHandler(RelayHandler(peer: upstream, silenced: nil))
                        try upstream.pipeline.syncOperations.addHandler(RelayHandler(peer: client, silenced: flag))
                        connections.add(Pair(client: client, upstream: upstream, silenced: flag))
                    }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return TCPProxy(serverChannel: server, connections: connections)
    }

    private init(serverChannel: any Channel, connections: Connections) {
        self.serverChannel = serverChannel
        self.connections = connections
        port = serverChannel.localAddress?.port ?? 0
    }

    /// Closes every relayed connection, both sides.
    public func dropConnections() {
        let pairs = connections.all
        for pair in pairs {
            pair.client.close(promise: nil)
            pair.upstream.close(promise: nil)
        }
    }

    /// From now on every new connection is closed as soon as it is accepted (the broker looks
    /// unreachable), until `acceptConnections()`. Connections already relayed stay.
    public func refuseConnections() {
        connections.setRefusing(true)
    }

    /// Relays new connections again.
    public func acceptConnections() {
        connections.setRefusing(false)
    }

    /// Stops relaying the broker's bytes on the current connections, leaving the sockets open: the
    /// client hears nothing more (no frames, no heart-beats) while the broker still hears it.
    public func silenceConnections() {
        let pairs = connections.all
        for pair in pairs { pair.silenced.set() }
    }

    public func close() async {
        dropConnections()
        try? await serverChannel.close()
    }
}

/// Writes what one side reads to the other side, unless silenced.
private final class RelayHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let peer: any Channel
    private let silenced: TCPProxy.Flag?

    init(peer: any Channel, silenced: TCPProxy.Flag?) {
        self.peer = peer
        self.silenced = silenced
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard silenced?.isSet != true else { return }
        peer.writeAndFlush(Self.unwrapInboundIn(data), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        peer.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension RelayHandler: Sendable {}
