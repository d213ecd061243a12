import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import MTP
import MTPWebSocket
import NIOCore
import ServiceLifecycle
import Testing

/// What a test agent's WebSocket server saw.
struct AgentHandshake: Sendable {
    var query: String?
    var subprotocols: [String]
}

/// A small agent-side WebSocket server (an agent that accepts sessions from its controller,
/// R-WS.6): upgrades on `/agent`, echoes binary messages back.
///
/// - Parameters:
///   - port: 0 for any free port.
///   - echoSubprotocol: answer with `Sec-WebSocket-Protocol: v1.usp` (R-WS.11).
///   - unsolicitedExtension: answer with a `bbf-usp-protocol` extension nobody asked for, as some
///     agents do.
@discardableResult
func withAgentServer<T: Sendable>(
    port: Int = 0,
    echoSubprotocol: Bool = true,
    unsolicitedExtension: Bool = true,
    handshakes: Box<[AgentHandshake]>,
    _ body: @Sendable (_ port: Int) async throws -> T
) async throws -> T {
    let router = Router(context: BasicWebSocketRequestContext.self)
    router.ws("/agent") { request, _ in
        handshakes.mutate {
            $0.append(AgentHandshake(query: request.uri.query, subprotocols: request.headers[values: .secWebSocketProtocol]))
        }
        var headers: HTTPFields = [:]
        if echoSubprotocol { headers[.secWebSocketProtocol] = "v1.usp" }
        if unsolicitedExtension { headers[.secWebSocketExtensions] = "bbf-usp-protocol; eid=\"os::agent\"" }
        return .upgrade(headers)
    } onUpgrade: { inbound, outbound, _ in
        for try await message in inbound.messages(maxSize: 1 << 16) {
            if case .binary(let buffer) = message { try await outbound.write(.binary(buffer)) }
        }
    }
    let boundPort = Box<Int?>(nil)
    let app = Application(
        router: Router(),
        server: .http1WebSocketUpgrade(webSocketRouter: router),
        configuration: .init(address: .hostname("127.0.0.1", port: port)),
        onServerRunning: { channel in boundPort.value = channel.localAddress?.port },
        logger: testLogger)
    let group = ServiceGroup(configuration: .init(services: [app], logger: testLogger))
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        do {
            let deadline = ContinuousClock.now + .seconds(10)
            while boundPort.value == nil {
                guard ContinuousClock.now < deadline else { throw TestTimeout() }
                try await Task.sleep(for: .milliseconds(10))
            }
            let result = try await body(boundPort.value!)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return result
        } catch {
            tasks.cancelAll()
            throw error
        }
    }
}

/// The controller as WebSocket client of agents that run their own server.
@Suite("WebSocket MTP dialer", .serialized, .timeLimit(.minutes(2)))
struct WebSocketDialerTests {
    @Test("dials with v1.usp and ?eid=, tolerates an unsolicited bbf-usp-protocol answer, carries records")
    func dialsAgent() async throws {
        let handshakes = Box<[AgentHandshake]>([])
        try await withAgentServer(handshakes: handshakes) { agentPort in
            try await withTransport(.test(listener: nil)) { running in
                try await running.log.waitUntil { $0.linkUps == 1 }
                try await running.transport.connect(url: "ws://127.0.0.1:\(agentPort)/agent?x=1", agentEndpointID: "os::agent")
                let address = try await running.log.connectedAddress()
                #expect(address.endpointID == "os::agent")
                #expect(address.transport == "websocket")
                // R-WS.10: v1.usp offered. R-WS.10b/10c: eid appended with `&`, `%` as %25.
                let handshake = try #require(handshakes.value.first)
                #expect(handshake.subprotocols == ["v1.usp"])
                #expect(handshake.query == "x=1&eid=self::controller%25x")
                // The agent echoes what it gets.
                try await running.transport.send([0x0A, 0x01, 0x02], to: address)
                try await running.log.waitUntil { $0.records.count == 1 }
                let record = try #require(await running.log.records.first)
                #expect(record.bytes == [0x0A, 0x01, 0x02])
                #expect(record.replyTo == address)
                // Connecting again to the same URL keeps the session.
                try await running.transport.connect(url: "ws://127.0.0.1:\(agentPort)/agent?x=1", agentEndpointID: "os::agent")
                // Disconnecting closes it and stops redialling.
                await running.transport.disconnect(agentEndpointID: "os::agent")
                try await running.log.waitUntil { $0.disconnected == [address] }
                try await Task.sleep(for: .milliseconds(400))
                #expect(await running.log.connected.count == 1)
                #expect(handshakes.value.count == 1)
            }
        }
    }

    @Test("does not establish a session when the agent does not echo v1.usp (R-WS.12), and keeps retrying")
    func subprotocolNotEchoed() async throws {
        let handshakes = Box<[AgentHandshake]>([])
        try await withAgentServer(echoSubprotocol: false, unsolicitedExtension: false, handshakes: handshakes) { agentPort in
            try await withTransport(.test(listener: nil)) { running in
                try await running.transport.connect(url: "ws://127.0.0.1:\(agentPort)/agent", agentEndpointID: "os::agent")
                let deadline = ContinuousClock.now + .seconds(10)
                while handshakes.value.count < 3 {
                    guard ContinuousClock.now < deadline else { throw TestTimeout() }
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(await running.log.connected.isEmpty)
                #expect(await running.log.records.isEmpty)
                await running.transport.disconnect(agentEndpointID: "os::agent")
            }
        }
    }

    @Test("redials after the agent's server restarts")
    func redialsAfterRestart() async throws {
        let handshakes = Box<[AgentHandshake]>([])
        try await withTransport(.test(listener: nil)) { running in
            let port = try await withAgentServer(handshakes: handshakes) { agentPort in
                try await running.transport.connect(url: "ws://127.0.0.1:\(agentPort)/agent", agentEndpointID: "os::agent")
                _ = try await running.log.connectedAddress(0)
                return agentPort
            }
            // The agent's server went away gracefully: the session ends, redialling starts.
            try await running.log.waitUntil { $0.disconnected.count == 1 }
            try await Task.sleep(for: .milliseconds(300))
            try await withAgentServer(port: port, handshakes: handshakes) { _ in
                let second = try await running.log.connectedAddress(1)
                #expect(second.endpointID == "os::agent")
                #expect(second != (await running.log.connected[0]))
                try await running.transport.send([7], to: second)
                try await running.log.waitUntil { $0.records.count == 1 }
            }
            try await running.log.waitUntil { $0.disconnected.count == 2 }
            await running.transport.disconnect(agentEndpointID: "os::agent")
        }
    }

    @Test("the dialer and the listener understand each other, eid with %25 included")
    func dialerToListener() async throws {
        try await withTransport { agentSide in
            try await withTransport(.test(listener: nil)) { controller in
                try await controller.transport.connect(url: agentSide.url(eid: nil), agentEndpointID: "os::agent")
                let dialled = try await controller.log.connectedAddress()
                let accepted = try await agentSide.log.connectedAddress()
                // The listener decodes what the dialer encoded (R-WS.10c).
                #expect(accepted.endpointID == "self::controller%x")
                try await controller.transport.send([1, 2], to: dialled)
                try await agentSide.log.waitUntil { $0.records.count == 1 }
                try await agentSide.transport.send([3], to: accepted)
                try await controller.log.waitUntil { $0.records.count == 1 }
                #expect(await controller.log.records.first?.bytes == [3])
                await controller.transport.disconnect(agentEndpointID: "os::agent")
                try await agentSide.log.waitUntil { $0.disconnected == [accepted] }
            }
        }
    }

    @Test("refuses URLs that are not ws:// or wss://")
    func invalidURL() async throws {
        try await withTransport(.test(listener: nil)) { running in
            await #expect(throws: WebSocketTransportError(.invalidURL("http://agent/usp"))) {
                try await running.transport.connect(url: "http://agent/usp", agentEndpointID: "os::agent")
            }
        }
    }
}
