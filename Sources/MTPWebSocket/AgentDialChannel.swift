import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import NIOWebSocket
// The session loop (ping, pong, close handshake, masking) is the one hummingbird-websocket's own
// client and server use. `WebSocketClient` cannot be used directly because it does not expose the
// upgrade response, and R-WS.12 needs its `Sec-WebSocket-Protocol`. Pinned by Package.resolved;
// revisit if swift-websocket changes this SPI.
@_spi(WSInternal) import WSCore

/// The context handed to the session loop of a dialled session.
struct AgentSessionContext: WebSocketContext {
    let logger: Logger
}

/// Opens one WebSocket session to an agent's server: TCP (and TLS for `wss://`), the opening
/// handshake with `Sec-WebSocket-Protocol: v1.usp` (R-WS.10) and the controller's endpoint ID in
/// `?eid=` (R-WS.10b), then runs the session with the library's WebSocket handler.
struct AgentDialChannel: ClientConnectionChannel {
    enum UpgradeResult: Sendable {
        /// Upgraded with `v1.usp`. `agentExtensionEID` is the `eid` of a `bbf-usp-protocol`
        /// extension the agent sent back, solicited or not (R-WS.11b: its absence is no error, and
        /// its unsolicited presence is tolerated too).
        case websocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, agentExtensionEID: String?)
        /// Upgraded, but without `v1.usp`: R-WS.12 forbids establishing the session.
        case subprotocolNotEchoed
        /// The server answered with something other than 101.
        case notUpgraded
    }

    struct Value: Sendable {
        let channel: any Channel
        let upgrade: EventLoopFuture<UpgradeResult>
    }

    let url: AgentURL
    /// Request target with `eid=` appended.
    let requestTarget: String
    let sslContext: NIOSSLContext?
    let maxRecordSize: Int
    let pingInterval: Duration?
    let closeTimeout: Duration
    let handshakeTimeout: Duration
    let handler: WebSocketDataHandler<AgentSessionContext>

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            if let sslContext {
                let handler = try NIOSSLClientHandler(
                    context: sslContext, serverHostname: url.hostIsIPAddress ? nil : url.host)
                try channel.pipeline.syncOperations.addHandler(handler, position: .first)
            }
            let upgrader = NIOTypedWebSocketClientUpgrader<UpgradeResult>(
                maxFrameSize: maxRecordSize,
                upgradePipelineHandler: { channel, response in
                    channel.eventLoop.makeCompletedFuture {
                        // R-WS.12: no `v1.usp` in the answer, no session.
                        let echoed = response.headers[canonicalForm: "Sec-WebSocket-Protocol"].contains {
                            $0.trimmingSpaces() == USPWebSocketHandshake.subprotocol
                        }
                        guard echoed else {
                            channel.close(promise: nil)
                            return .subprotocolNotEchoed
                        }
                        let fields = HTTPFields(
                            response.headers.compactMap { header in
                                HTTPField.Name(header.name).map { HTTPField(name: $0, value: header.value) }
                            })
                        let agentEID = USPWebSocketHandshake.extensionEndpointID(fields) ?? nil
                        let asyncChannel = try NIOAsyncChannel<WebSocketFrame, WebSocketFrame>(
                            wrappingChannelSynchronously: channel)
                        return .websocket(asyncChannel, agentExtensionEID: agentEID)
                    }
                })
            var headers = HTTPHeaders()
            headers.add(name: "Host", value: url.hostHeader)
            headers.add(name: "Sec-WebSocket-Protocol", value: USPWebSocketHandshake.subprotocol)
            let request = HTTPRequestHead(version: .http1_1, method: .GET, uri: requestTarget, headers: headers)
            let upgradeConfiguration = NIOTypedHTTPClientUpgradeConfiguration<UpgradeResult>(
                upgradeRequestHead: request,
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.close(promise: nil)
                    return channel.eventLoop.makeSucceededFuture(.notUpgraded)
                })
            var pipelineConfiguration = NIOUpgradableHTTPClientPipelineConfiguration(upgradeConfiguration: upgradeConfiguration)
            pipelineConfiguration.leftOverBytesStrategy = .forwardBytes
            let upgrade = try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
                configuration: pipelineConfiguration)
            return Value(channel: channel, upgrade: upgrade)
        }
    }

    func handle(value: Value, logger: Logger) async throws {
        let result = try await withThrowingTaskGroup(of: UpgradeResult.self) { group in
            group.addTask { try await value.upgrade.get() }
            group.addTask {
                try await Task.sleep(for: handshakeTimeout)
                // Closing fails the upgrade future, which ends the other child.
                try? await value.channel.close()
                throw WebSocketTransportError(.connectTimeout)
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
        switch result {
        case .websocket(let asyncChannel, let agentExtensionEID):
            var logger = logger
            if let agentExtensionEID { logger[metadataKey: "usp.agent.extension.eid"] = "\(agentExtensionEID)" }
            _ = try await WebSocketHandler.handle(
                type: .client,
                configuration: .init(
                    extensions: [],
                    autoPing: pingInterval.map { .enabled(timePeriod: $0) } ?? .disabled,
                    closeTimeout: closeTimeout,
                    validateUTF8: false,
                    maxFrameSize: maxRecordSize),
                asyncChannel: asyncChannel,
                context: AgentSessionContext(logger: logger),
                handler: handler)
        case .subprotocolNotEchoed:
            throw WebSocketTransportError(.subprotocolNotEchoed)
        case .notUpgraded:
            throw WebSocketTransportError(.upgradeRefused)
        }
    }
}
