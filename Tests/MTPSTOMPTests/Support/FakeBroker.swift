import MTPSTOMP
import NIOCore
import NIOPosix
import Synchronization

/// A scripted STOMP server on loopback, built on the package's own codec, for what a real broker will
/// not do on demand (assign a `subscribe-dest`), and to see the client's frames as the server does.
///
/// Each accepted connection runs `script` with a `FakeBroker.Connection`; `withFakeBroker` stops
/// accepting and closes everything when its body returns.
enum FakeBroker {
    /// One client connection, as the script sees it.
    struct Connection: Sendable {
        /// 1 for the first connection, 2 for the next...
        let number: Int
        let inbound: NIOAsyncChannelInboundStream<STOMPPacket>
        let outbound: NIOAsyncChannelOutboundWriter<STOMPPacket>
        let channel: any Channel

        /// The next frame from the client, skipping heart-beats; nil at end of stream.
        func nextFrame(_ iterator: inout NIOAsyncChannelInboundStream<STOMPPacket>.AsyncIterator) async throws -> STOMPFrame? {
            while let packet = try await iterator.next() {
                if case .frame(let frame) = packet { return frame }
            }
            return nil
        }

        func write(_ frame: STOMPFrame) async throws {
            try await outbound.write(.frame(frame))
        }
    }

    static func withFakeBroker(
        script: @escaping @Sendable (Connection) async throws -> Void,
        _ body: (_ port: Int) async throws -> Void
    ) async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(STOMPFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(STOMPFrameEncoder()))
                    return try NIOAsyncChannel<STOMPPacket, STOMPPacket>(wrappingChannelSynchronously: channel)
                }
            }
        let port = server.channel.localAddress?.port ?? 0
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await server.executeThenClose { connections in
                    try await withThrowingDiscardingTaskGroup { connectionGroup in
                        var number = 0
                        for try await connection in connections {
                            number += 1
                            let current = number
                            connectionGroup.addTask {
                                try? await withTaskCancellationHandler {
                                    try await connection.executeThenClose { inbound, outbound in
                                        try await script(Connection(number: current, inbound: inbound, outbound: outbound, channel: connection.channel))
                                    }
                                } onCancel: {
                                    connection.channel.close(promise: nil)
                                }
                            }
                        }
                    }
                }
            }
            var failure: (any Error)?
            do {
                try await body(port)
            } catch {
                failure = error
            }
            group.cancelAll()
            server.channel.close(promise: nil)
            try? await group.waitForAll()
            if let failure { throw failure }
        }
    }
}

/// Frames a fake broker saw, for the test to check afterwards.
final class FrameLog: Sendable {
    private let frames = Mutex<[STOMPFrame]>([])

    func append(_ frame: STOMPFrame) {
        frames.withLock { $0.append(frame) }
    }

    var all: [STOMPFrame] { frames.withLock { $0 } }
}

/// A server that answers the first bytes of every connection with fixed bytes (say, garbage) and
/// counts connections.
final class CannedReplyServer: Sendable {
    let port: Int
    private let channel: any Channel
    private let counter: Counter

    var connectionCount: Int { counter.value.load(ordering: .relaxed) }

    init(reply: [UInt8]) async throws {
        let counter = Counter()
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                counter.value.add(1, ordering: .relaxed)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(CannedReplyHandler(reply: reply))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        port = channel.localAddress?.port ?? 0
        self.counter = counter
    }

    func close() async {
        try? await channel.close()
    }

    private final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }
}

private final class CannedReplyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let reply: [UInt8]
    private var replied = false

    init(reply: [UInt8]) {
        self.reply = reply
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !replied else { return }
        replied = true
        context.writeAndFlush(Self.wrapOutboundOut(ByteBuffer(bytes: reply)), promise: nil)
    }
}

@available(*, unavailable)
extension CannedReplyHandler: Sendable {}
