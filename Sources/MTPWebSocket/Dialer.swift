import HummingbirdWSClient
import Logging
import MTP
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOWebSocket
import ServiceLifecycle

/// An agent the controller keeps a session open to, because the agent runs the WebSocket server
/// (R-WS.6: agents must be able to accept sessions from a controller).
final class DialTarget: Sendable {
    let url: AgentURL
    let agentEndpointID: String

    private struct State {
        var isActive = true
        var session: WebSocketSession?
        var wasEstablished = false
        var sleeper: CheckedContinuation<Void, Never>?
        var sleepCancelled = false
    }

    private let state = NIOLockedValueBox(State())

    init(url: AgentURL, agentEndpointID: String) {
        self.url = url
        self.agentEndpointID = agentEndpointID
    }

    /// False once ``stop()`` was called: no more attempts.
    var isActive: Bool { state.withLockedValue { $0.isActive } }

    /// Forgets whether the previous attempt got as far as a session.
    func beginAttempt() {
        state.withLockedValue { $0.wasEstablished = false }
    }

    /// Whether the last attempt got as far as a registered session.
    var wasEstablished: Bool { state.withLockedValue { $0.wasEstablished } }

    func established(_ session: WebSocketSession) {
        state.withLockedValue {
            $0.wasEstablished = true
            $0.session = session
        }
    }

    func sessionEnded() {
        state.withLockedValue { $0.session = nil }
    }

    /// Stops redialling, wakes a pending backoff wait, and returns the open session (to close).
    func stop() -> WebSocketSession? {
        let (sleeper, session) = state.withLockedValue { state in
            state.isActive = false
            defer { state.sleeper = nil }
            return (state.sleeper, state.session)
        }
        sleeper?.resume()
        return session
    }

    /// Waits `delay`, or less if the target is stopped or the task cancelled.
    func sleep(for delay: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: delay) }
            group.addTask { await self.waitUntilStopped() }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitUntilStopped() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLockedValue { state in
                    if !state.isActive || state.sleepCancelled {
                        state.sleepCancelled = false
                        return true
                    }
                    state.sleeper = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let sleeper = state.withLockedValue { state in
                defer { state.sleeper = nil }
                if state.sleeper == nil { state.sleepCancelled = true }
                return state.sleeper
            }
            sleeper?.resume()
        }
    }
}

/// Runs one redial loop per ``DialTarget``, as child tasks of the transport's `run()`.
final class Dialer: Service, Sendable {
    private let configuration: WebSocketTransportConfiguration
    private let registry: SessionRegistry
    private let driver: SessionDriver
    private let logger: Logger
    private let requests: AsyncStream<DialTarget>
    private let requestContinuation: AsyncStream<DialTarget>.Continuation
    private let targets = NIOLockedValueBox<[String: DialTarget]>([:])

    init(configuration: WebSocketTransportConfiguration, registry: SessionRegistry, driver: SessionDriver, logger: Logger) {
        self.configuration = configuration
        self.registry = registry
        self.driver = driver
        self.logger = logger
        (requests, requestContinuation) = AsyncStream.makeStream()
    }

    /// Starts (or, for a new URL, restarts) keeping a session open to the agent.
    func connect(url: AgentURL, agentEndpointID: String) async {
        let target = DialTarget(url: url, agentEndpointID: agentEndpointID)
        let previous: DialTarget?? = targets.withLockedValue { targets in
            let previous = targets[agentEndpointID]
            if let previous, previous.url == url { return .none }
            targets[agentEndpointID] = target
            return .some(previous)
        }
        guard case .some(let previous) = previous else { return }
        if let session = previous?.stop() {
            try? await session.outbound.close(.normalClosure, reason: "controller redials the agent at another URL")
        }
        requestContinuation.yield(target)
    }

    /// Stops keeping a session open to the agent and closes the one open now with 1000.
    func disconnect(agentEndpointID: String) async {
        let target = targets.withLockedValue { $0.removeValue(forKey: agentEndpointID) }
        if let session = target?.stop() {
            try? await session.outbound.close(.normalClosure, reason: "controller no longer needs the session")
        }
    }

    func run() async throws {
        await withDiscardingTaskGroup { group in
            for await target in requests.cancelOnGracefulShutdown() {
                group.addTask { await self.keepConnected(target) }
            }
        }
    }

    private func keepConnected(_ target: DialTarget) async {
        var logger = logger
        logger[metadataKey: "usp.endpoint"] = "\(target.agentEndpointID)"
        logger[metadataKey: "ws.url"] = "\(target.url)"
        var failures = 0
        while target.isActive && !registry.isShuttingDown && !Task.isCancelled {
            target.beginAttempt()
            do {
                try await dial(target, logger: logger)
            } catch {
                logger.info("WebSocket dial to agent failed", metadata: ["error": "\(error)"])
            }
            if target.wasEstablished { failures = 0 }
            guard target.isActive && !registry.isShuttingDown else { break }
            let delay = configuration.dialing.retryDelay(attempt: failures)
            failures += 1
            logger.debug("Redialling agent", metadata: ["delay": "\(delay)"])
            await cancelWhenGracefulShutdown { await target.sleep(for: delay) }
        }
        targets.withLockedValue { targets in
            if targets[target.agentEndpointID] === target { targets[target.agentEndpointID] = nil }
        }
    }

    private func dial(_ target: DialTarget, logger: Logger) async throws {
        let sslContext: NIOSSLContext?
        if target.url.isSecure {
            sslContext = try NIOSSLContext(configuration: configuration.dialing.tlsConfiguration ?? .makeClientConfiguration())
        } else {
            sslContext = nil
        }
        let driver = self.driver
        let channel = AgentDialChannel(
            url: target.url,
            requestTarget: USPWebSocketHandshake.appendingEndpointID(configuration.controllerEndpointID, to: target.url.target),
            sslContext: sslContext,
            maxRecordSize: configuration.maxRecordSize,
            pingInterval: configuration.pingInterval,
            closeTimeout: configuration.closeTimeout,
            handshakeTimeout: configuration.dialing.connectTimeout,
            handler: { inbound, outbound, context in
                await driver.run(
                    endpointID: target.agentEndpointID, peer: "\(target.url.host):\(target.url.port)", inbound: inbound, outbound: outbound,
                    logger: context.logger,
                    onEstablished: { target.established($0) })
                target.sessionEnded()
            })
        let connection = ClientConnection(
            channel,
            address: .hostname(target.url.host, port: target.url.port),
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            logger: logger)
        try await connection.run()
    }
}
