import Logging
import MTP
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization

/// The USP STOMP MTP (TR-369 "STOMP Binding"): one STOMP 1.2 client session with a broker, subscribed to
/// the controller's destination, kept up across losses with backoff.
///
/// `run()` owns the session. A single loop takes every event in turn (frames, heart-beats, connection
/// changes, timer ticks, `send` requests, shutdown) from one mailbox and feeds it to
/// `STOMPConnection.StateMachine`, then carries out the actions it returns. Connections and the timer are
/// child tasks of that loop; nothing outlives `run()`.
///
/// Records arrive on `events` as `.record` with `replyTo` set to the MESSAGE's `reply-to-dest`
/// (R-STOMP.23); MESSAGE frames without one, or without the USP content type, are logged, counted in
/// `rejectedMessageCount` and dropped. `send` writes a SEND frame and, by default, returns once the
/// broker's RECEIPT arrives; it throws `STOMPError` (`.linkDown`) at once while the link is down.
public final class STOMPTransport: MessageTransport, Sendable {
    public let configuration: Configuration
    public let events: AsyncStream<TransportEvent>

    public var name: String { Self.transportName }
    /// The `MTPAddress.transport` of STOMP addresses.
    public static let transportName = "stomp"

    /// Where agents reach this controller: the configured destination (a `subscribe-dest` from the broker
    /// may replace it while connected; `linkUp` is logged with the one in use).
    public var address: MTPAddress {
        MTPAddress(transport: Self.transportName, destination: configuration.destination, endpointID: configuration.endpointID)
    }

    /// MESSAGE frames dropped because they lacked the USP content type or a `reply-to-dest`.
    public var rejectedMessageCount: Int { rejected.load(ordering: .relaxed) }

    private let logger: Logger
    private let eventLoopGroup: any EventLoopGroup
    private let sslContext: NIOSSLContext?
    private let eventContinuation: AsyncStream<TransportEvent>.Continuation
    private let shared = Mutex(Shared())
    private let rejected = Atomic<Int>(0)

    /// What `send` and `run` share.
    private struct Shared {
        var phase = RunPhase.notStarted
        /// The loop's mailbox while it runs.
        var mailbox: AsyncStream<LoopEvent>.Continuation?
        var lastToken: UInt64 = 0
        /// `send` calls waiting for their outcome, by token.
        var sends: [UInt64: CheckedContinuation<Void, any Error>] = [:]
    }

    private enum RunPhase {
        case notStarted, running, finished
    }

    /// Everything the loop reacts to. `connection` numbers tell a current connection from a stale one.
    enum LoopEvent: Sendable {
        case tick
        case opened(connection: Int, channel: any Channel)
        case packet(connection: Int, STOMPPacket)
        case closed(connection: Int, reason: String)
        case send(token: UInt64, record: [UInt8], destination: String)
        case shutdown
    }

    /// Checks the configuration and reads the TLS files; connects only in `run()`.
    public init(
        configuration: Configuration,
        logger: Logger = Logger(label: "tandem.mtp.stomp"),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) throws {
        self.configuration = configuration
        sslContext = try configuration.makeSSLContext()
        var logger = logger
        logger[metadataKey: "mtp"] = "stomp"
        logger[metadataKey: "stomp.broker"] = "\(configuration.host):\(configuration.port)"
        self.logger = logger
        self.eventLoopGroup = eventLoopGroup
        (events, eventContinuation) = AsyncStream.makeStream(of: TransportEvent.self, bufferingPolicy: .bufferingNewest(100_000))
    }

    // MARK: MessageTransport

    /// Connects, subscribes and keeps the session up until graceful shutdown (DISCONNECT with a receipt)
    /// or cancellation (the connection is closed). Runs once; `events` finishes when it returns.
    public func run() async throws {
        let (mailbox, input) = AsyncStream.makeStream(of: LoopEvent.self)
        let started = shared.withLock { shared -> Bool in
            guard shared.phase == .notStarted else { return false }
            shared.phase = .running
            shared.mailbox = input
            return true
        }
        guard started else { throw STOMPError(.notRunning, "a STOMPTransport runs only once") }
        defer { stopped(input) }
        await withGracefulShutdownHandler {
            await self.runLoop(mailbox: mailbox, input: input)
        } onGracefulShutdown: {
            input.yield(.shutdown)
        }
    }

    /// Sends one USP Record to `destination.destination` in a SEND frame with `reply-to-dest` set to our
    /// destination. Throws `STOMPError` when the link is down, the address is not a STOMP one, or (with
    /// receipts on) the broker does not confirm it in time.
    public func send(_ record: [UInt8], to destination: MTPAddress) async throws {
        guard destination.transport == Self.transportName, !destination.destination.isEmpty else {
            throw STOMPError(.invalidDestination, "\(destination) is not a STOMP destination")
        }
        let token = shared.withLock { shared -> UInt64 in
            shared.lastToken += 1
            return shared.lastToken
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                // Registration and the running check share the lock with `stopped`, so every
                // continuation is resumed exactly once.
                let outcome = shared.withLock { shared -> Result<AsyncStream<LoopEvent>.Continuation, any Error> in
                    guard let mailbox = shared.mailbox else {
                        return .failure(STOMPError(.notRunning, "the STOMP transport is not running"))
                    }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    shared.sends[token] = continuation
                    return .success(mailbox)
                }
                switch outcome {
                case .success(let mailbox): mailbox.yield(.send(token: token, record: record, destination: destination.destination))
                case .failure(let error): continuation.resume(throwing: error)
                }
            }
        } onCancel: {
            resolveSend(token, .failure(CancellationError()))
        }
    }

    /// Starts a graceful shutdown, as the service group's would: DISCONNECT, wait for its receipt, return.
    public func shutdownGracefully() {
        let mailbox = shared.withLock { $0.mailbox }
        mailbox?.yield(.shutdown)
    }

    // MARK: The loop

    /// The connection the loop works with.
    private struct ConnectionSlot {
        var lastID = 0
        /// The connection the state machine is talking about; events from others are stale.
        var currentID: Int?
        var channel: (any Channel)?
    }

    private func runLoop(mailbox: AsyncStream<LoopEvent>, input: AsyncStream<LoopEvent>.Continuation) async {
        await withDiscardingTaskGroup { group in
            let tickInterval = configuration.tickInterval
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: tickInterval)
                    input.yield(.tick)
                }
            }
            var machine = STOMPConnection.StateMachine(settings: configuration.connectionSettings)
            var slot = ConnectionSlot()
            var iterator = mailbox.makeAsyncIterator()
            var actions = machine.start(now: .now)
            logger.info("STOMP transport starting", metadata: ["stomp.destination": "\(configuration.destination)"])
            while true {
                var finished = false
                for action in actions {
                    switch action {
                    case .openConnection:
                        slot.lastID += 1
                        slot.currentID = slot.lastID
                        slot.channel = nil
                        let id = slot.lastID
                        group.addTask { await self.connect(id: id, input: input) }
                    case .write(let frame):
                        slot.channel?.writeAndFlush(STOMPPacket.frame(frame), promise: nil)
                    case .writeHeartBeat:
                        slot.channel?.writeAndFlush(STOMPPacket.heartBeat, promise: nil)
                    case .closeConnection:
                        slot.channel?.close(promise: nil)
                        slot.channel = nil
                        slot.currentID = nil
                    default:
                        finished = perform(action) || finished
                    }
                }
                if finished { break }
                // nil when the task is cancelled: close and leave.
                guard let event = await iterator.next() else { break }
                let now = ContinuousClock.now
                switch event {
                case .tick:
                    actions = machine.tick(now: now)
                case .opened(let id, let channel):
                    guard id == slot.currentID else {
                        channel.close(promise: nil)
                        actions = []
                        continue
                    }
                    slot.channel = channel
                    actions = machine.connectionOpened(now: now)
                case .packet(let id, let packet):
                    actions = id == slot.currentID ? machine.packetReceived(packet, now: now) : []
                case .closed(let id, let reason):
                    guard id == slot.currentID else {
                        actions = []
                        continue
                    }
                    slot.channel = nil
                    slot.currentID = nil
                    actions = machine.connectionClosed(reason: reason, now: now)
                case .send(let token, let record, let destination):
                    actions = machine.sendRequested(record, to: destination, token: token, now: now)
                case .shutdown:
                    logger.info("STOMP transport shutting down")
                    actions = machine.shutdownRequested(now: now)
                }
            }
            slot.channel?.close(promise: nil)
            group.cancelAll()
        }
    }

    /// Carries out the actions that do not touch the connection; true on `.finish`.
    private func perform(_ action: STOMPConnection.StateMachine.Action) -> Bool {
        switch action {
        case .linkUp(let session):
            logger.info(
                "STOMP link up",
                metadata: [
                    "stomp.destination": "\(session.destination)", "stomp.server": "\(session.server ?? "?")",
                    "stomp.heartBeat.send": "\(session.heartBeat.send.map { "\($0)" } ?? "off")",
                    "stomp.heartBeat.receive": "\(session.heartBeat.receive.map { "\($0)" } ?? "off")",
                ])
            eventContinuation.yield(.linkUp)
        case .linkDown(let reason):
            logger.warning("STOMP link down", metadata: ["reason": "\(reason)"])
            eventContinuation.yield(.linkDown(reason: reason))
        case .deliver(let delivery):
            logger.trace(
                "STOMP record received",
                metadata: [
                    "stomp.replyTo": "\(delivery.replyTo)", "stomp.messageID": "\(delivery.messageID ?? "?")",
                    "bytes": "\(delivery.record.count)",
                ])
            let replyTo = MTPAddress(transport: Self.transportName, destination: delivery.replyTo)
            eventContinuation.yield(.record(InboundRecord(bytes: delivery.record, replyTo: replyTo)))
        case .reject(let reason):
            rejected.add(1, ordering: .relaxed)
            logger.warning("STOMP MESSAGE dropped", metadata: ["reason": "\(reason)"])
        case .completeSend(let token):
            resolveSend(token, .success(()))
        case .failSend(let token, let error):
            resolveSend(token, .failure(error))
        case .scheduleRetry(let delay, let reason):
            logger.notice("STOMP connection failed; retrying", metadata: ["reason": "\(reason)", "retryIn": "\(delay)"])
        case .finish:
            return true
        case .openConnection, .write, .writeHeartBeat, .closeConnection:
            break
        }
        return false
    }

    /// One connection, from TCP connect to close; reports to the loop through `input`.
    private func connect(id: Int, input: AsyncStream<LoopEvent>.Continuation) async {
        let host = configuration.host
        let port = configuration.port
        let limits = configuration.limits
        let sslContext = sslContext
        let serverName = configuration.tls?.serverName ?? host
        let channel: NIOAsyncChannel<STOMPPacket, STOMPPacket>
        do {
            channel = try await ClientBootstrap(group: eventLoopGroup)
                .connectTimeout(TimeAmount(configuration.handshakeTimeout))
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .channelOption(.socketOption(.so_keepalive), value: 1)
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let sslContext {
                            // SNI and name checks need a name, not an address literal.
                            let name = Self.isIPAddress(serverName) ? nil : serverName
                            try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: name))
                        }
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(STOMPFrameDecoder(limits: limits)))
                        try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(STOMPFrameEncoder()))
                        return try NIOAsyncChannel<STOMPPacket, STOMPPacket>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            input.yield(.closed(connection: id, reason: "cannot connect to \(host):\(port): \(error)"))
            return
        }
        var reason = "the broker closed the connection"
        do {
            try await withTaskCancellationHandler {
                try await channel.executeThenClose { inbound, _ in
                    input.yield(.opened(connection: id, channel: channel.channel))
                    for try await packet in inbound {
                        input.yield(.packet(connection: id, packet))
                    }
                }
            } onCancel: {
                channel.channel.close(promise: nil)
            }
        } catch let error as STOMPFrameError {
            reason = "malformed data from the broker: \(error)"
        } catch {
            reason = "connection error: \(error)"
        }
        input.yield(.closed(connection: id, reason: reason))
    }

    /// After the loop: no more sends are accepted, waiting ones fail, `events` ends.
    private func stopped(_ input: AsyncStream<LoopEvent>.Continuation) {
        let waiting = shared.withLock { shared -> [CheckedContinuation<Void, any Error>] in
            shared.phase = .finished
            shared.mailbox = nil
            defer { shared.sends.removeAll() }
            return Array(shared.sends.values)
        }
        input.finish()
        for continuation in waiting {
            continuation.resume(throwing: STOMPError(.notRunning, "the STOMP transport stopped"))
        }
        logger.info("STOMP transport stopped")
        eventContinuation.finish()
    }

    private func resolveSend(_ token: UInt64, _ result: Result<Void, any Error>) {
        let continuation = shared.withLock { $0.sends.removeValue(forKey: token) }
        continuation?.resume(with: result)
    }

    private static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}
