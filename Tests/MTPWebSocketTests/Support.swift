import HTTPTypes
import Hummingbird
import HummingbirdWSClient
import HummingbirdWebSocket
import Logging
import MTP
import MTPWebSocket
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle
import Testing

/// Quiet logs; raise to `.debug` when a test needs explaining.
let testLogger: Logger = {
    var logger = Logger(label: "mtp-websocket-tests")
    logger.logLevel = .warning
    return logger
}()

/// Everything a transport reported, for tests to wait on.
actor EventLog {
    private(set) var events: [TransportEvent] = []
    private(set) var finished = false

    func append(_ event: TransportEvent) { events.append(event) }
    func finish() { finished = true }

    var connected: [MTPAddress] {
        events.compactMap { if case .peerConnected(let address) = $0 { address } else { nil } }
    }
    var disconnected: [MTPAddress] {
        events.compactMap { if case .peerDisconnected(let address) = $0 { address } else { nil } }
    }
    var records: [InboundRecord] {
        events.compactMap { if case .record(let record) = $0 { record } else { nil } }
    }
    var linkUps: Int {
        events.count { if case .linkUp = $0 { true } else { false } }
    }

    /// Polls until `condition` holds; fails the test (and throws) after `timeout`.
    func waitUntil(
        timeout: Duration = .seconds(10),
        sourceLocation: SourceLocation = #_sourceLocation,
        _ condition: @Sendable (isolated EventLog) -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition(self) {
            guard ContinuousClock.now < deadline else {
                Issue.record("timed out waiting; events so far: \(events)", sourceLocation: sourceLocation)
                throw TestTimeout()
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// The address of the `index`-th connected peer, waiting for it.
    func connectedAddress(_ index: Int = 0) async throws -> MTPAddress {
        try await waitUntil { $0.connected.count > index }
        return connected[index]
    }
}

struct TestTimeout: Error {}

/// A transport running in a `ServiceGroup` (so graceful shutdown behaves as in the server), with
/// its events collected.
struct RunningTransport: Sendable {
    let transport: WebSocketTransport
    let port: Int
    let log: EventLog
    let group: ServiceGroup

    func url(path: String = "/usp", eid: String? = "proto::agent-1") -> String {
        "ws://127.0.0.1:\(port)\(path)" + (eid.map { "?eid=\($0)" } ?? "")
    }

    /// Connects a library WebSocket client offering `v1.usp`, runs `handler`, returns the server's
    /// Close frame.
    @discardableResult
    func client(
        eid: String? = "proto::agent-1",
        path: String = "/usp",
        handler: @escaping WebSocketDataHandler<WebSocketClient.Context>
    ) async throws -> WebSocketCloseFrame? {
        try await WebSocketClient.connect(
            url: url(path: path, eid: eid), configuration: clientConfiguration(), logger: testLogger, handler: handler)
    }
}

extension WebSocketTransportConfiguration {
    static func test(
        listener: Listener? = Listener(host: "127.0.0.1", port: 0),
        maxRecordSize: Int = 1 << 16,
        pingInterval: Duration? = nil,
        duplicateSessionPolicy: DuplicateSessionPolicy = .replaceExisting,
        dialing: Dialing = Dialing(
            initialRetryInterval: .milliseconds(50), maxRetryInterval: .milliseconds(200), connectTimeout: .seconds(2))
    ) -> Self {
        .init(
            controllerEndpointID: "self::controller%x",
            listener: listener,
            maxRecordSize: maxRecordSize,
            pingInterval: pingInterval,
            closeTimeout: .seconds(2),
            duplicateSessionPolicy: duplicateSessionPolicy,
            dialing: dialing)
    }
}

/// Runs a transport for the duration of `body`, then shuts it down gracefully and checks that
/// `run()` returned and the event stream finished.
@discardableResult
func withTransport<T: Sendable>(
    _ configuration: WebSocketTransportConfiguration = .test(),
    _ body: @Sendable (RunningTransport) async throws -> T
) async throws -> T {
    let transport = WebSocketTransport(configuration: configuration, logger: testLogger)
    let log = EventLog()
    let group = ServiceGroup(configuration: .init(services: [transport], logger: testLogger))
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        tasks.addTask {
            for await event in transport.events { await log.append(event) }
            await log.finish()
        }
        do {
            let port = configuration.listener == nil ? 0 : try await transport.listeningPort()
            let result = try await body(RunningTransport(transport: transport, port: port, log: log, group: group))
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            #expect(await log.finished)
            return result
        } catch {
            tasks.cancelAll()
            throw error
        }
    }
}

/// WebSocket client configuration offering `v1.usp` (R-WS.10) unless told otherwise.
func clientConfiguration(subprotocol: Bool = true, maxFrameSize: Int = 1 << 20) -> WebSocketClientConfiguration {
    WebSocketClientConfiguration(
        maxFrameSize: maxFrameSize,
        additionalHeaders: subprotocol ? [.secWebSocketProtocol: "v1.usp"] : [:])
}

/// Sends a raw HTTP request and returns the response head (status line and headers). The
/// connection stays open while `whileOpen` runs (the client never answers pings), then closes.
func rawHTTP(
    port: Int,
    _ request: String,
    whileOpen: @Sendable (String) async throws -> Void = { _ in }
) async throws -> String {
    try await RawWebSocket.connect(port: port, request) { socket in
        try await whileOpen(socket.head)
        return socket.head
    }
}

/// An HTTP/1.1 WebSocket upgrade request.
func upgradeRequest(target: String, extraHeaders: [String] = ["Sec-WebSocket-Protocol: v1.usp"]) -> String {
    ([
        "GET \(target) HTTP/1.1",
        "Host: 127.0.0.1",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ] + extraHeaders).joined(separator: "\r\n") + "\r\n\r\n"
}

/// The status code of a raw response head.
func statusCode(_ head: String) -> Int? {
    let parts = head.split(separator: " ", maxSplits: 2)
    return parts.count >= 2 ? Int(parts[1]) : nil
}

/// Header values (case-insensitive name) of a raw response head.
func headerValues(_ name: String, in head: String) -> [String] {
    head.split(separator: "\r\n").dropFirst().compactMap { line in
        let pair = line.split(separator: ":", maxSplits: 1)
        guard pair.count == 2, pair[0].lowercased() == name.lowercased() else { return nil }
        return String(pair[1].drop(while: { $0 == " " }))
    }
}

/// A box tests share between tasks.
final class Box<Value: Sendable>: Sendable {
    private let storage: NIOLockedValueBox<Value>
    init(_ value: Value) { storage = NIOLockedValueBox(value) }
    var value: Value {
        get { storage.withLockedValue { $0 } }
        set { storage.withLockedValue { $0 = newValue } }
    }
    func mutate(_ body: (inout Value) -> Void) { storage.withLockedValue { body(&$0) } }
}

/// A hand-driven WebSocket client over a raw socket, for what the library client will not send
/// (pings on demand, unmasked frames) or cannot observe.
final class RawWebSocket {
    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var buffer = ByteBuffer()
    /// The server's response head.
    private(set) var head = ""

    private init(inbound: NIOAsyncChannelInboundStream<ByteBuffer>, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.inbound = inbound.makeAsyncIterator()
        self.outbound = outbound
    }

    /// Connects, sends `request` and runs `body` once the response head has arrived.
    static func connect<T: Sendable>(
        port: Int, _ request: String, _ body: (RawWebSocket) async throws -> T
    ) async throws -> T {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            let socket = RawWebSocket(inbound: inbound, outbound: outbound)
            try await outbound.write(ByteBuffer(string: request))
            while true {
                let text = String(buffer: socket.buffer)
                if let end = text.firstRange(of: "\r\n\r\n") {
                    socket.head = String(text[..<end.lowerBound])
                    socket.buffer.moveReaderIndex(forwardBy: text.utf8.distance(from: text.startIndex, to: end.upperBound))
                    break
                }
                guard try await socket.fill() else { break }
            }
            return try await body(socket)
        }
    }

    /// Reads more bytes; false at the end of the stream.
    private func fill() async throws -> Bool {
        guard var chunk = try await inbound.next() else { return false }
        buffer.writeBuffer(&chunk)
        return true
    }

    /// Sends one frame, masked (RFC 6455 5.3) unless told otherwise.
    func send(opcode: UInt8, payload: [UInt8], fin: Bool = true, masked: Bool = true) async throws {
        var frame = ByteBuffer()
        frame.writeInteger((fin ? 0x80 : 0) | opcode)
        let maskBit: UInt8 = masked ? 0x80 : 0
        if payload.count < 126 {
            frame.writeInteger(maskBit | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            frame.writeInteger(maskBit | 126)
            frame.writeInteger(UInt16(payload.count))
        } else {
            frame.writeInteger(maskBit | 127)
            frame.writeInteger(UInt64(payload.count))
        }
        if masked {
            let key: [UInt8] = [0x11, 0x22, 0x33, 0x44]
            frame.writeBytes(key)
            frame.writeBytes(payload.enumerated().map { $0.element ^ key[$0.offset % 4] })
        } else {
            frame.writeBytes(payload)
        }
        try await outbound.write(frame)
    }

    /// The next frame from the server (unmasked, not fragmented); nil at the end of the stream.
    func readFrame() async throws -> (opcode: UInt8, payload: [UInt8])? {
        while true {
            var peek = buffer
            if let first = peek.readInteger(as: UInt8.self), let second = peek.readInteger(as: UInt8.self) {
                var length: Int? = Int(second & 0x7F)
                if length == 126 { length = peek.readInteger(as: UInt16.self).map(Int.init) }
                else if length == 127 { length = peek.readInteger(as: UInt64.self).map { Int($0) } }
                if let length, let payload = peek.readBytes(length: length) {
                    buffer = peek
                    return (first & 0x0F, payload)
                }
            }
            guard try await fill() else { return nil }
        }
    }

    /// The status code of a Close frame's payload.
    static func closeCode(_ payload: [UInt8]) -> UInt16? {
        payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : nil
    }
}
