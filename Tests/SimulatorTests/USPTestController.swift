import Foundation
import Logging
import MTP
import MTPMQTT
import MTPWebSocket
import ServiceLifecycle
import TandemCore
import Testing
import USP

/// A minimal USP Controller for the dual-stack tests, over the project's real MTP transports (a
/// WebSocket listener, or an MQTT client of a real broker): it records every Record, answers
/// Notify requests that want a response, and sends requests to agents and waits for the answers.
final class USPTestController: Sendable {
    /// One Record received, with its Message when it carried one.
    struct Received: Sendable {
        var record: USPRecord
        var message: USPMessage?
        var replyTo: MTPAddress
    }

    actor State {
        var received: [Received] = []
        var addresses: [String: MTPAddress] = [:]
        var peersConnected = 0
        var peersDisconnected = 0
        var linkUp = false
        var nextID = 1
        /// Notify requests left to leave unanswered (a NotifyResp lost on the way).
        var notifyResponsesToDrop = 0

        func dropNotifyResponses(_ count: Int) { notifyResponsesToDrop = count }
        /// Whether the NotifyResp now due is one to drop.
        func takeDrop() -> Bool {
            guard notifyResponsesToDrop > 0 else { return false }
            notifyResponsesToDrop -= 1
            return true
        }

        func add(_ received: Received) {
            self.received.append(received)
            addresses[received.record.fromID] = received.replyTo
        }
        func peer(connected: Bool) { if connected { peersConnected += 1 } else { peersDisconnected += 1 } }
        func setLinkUp() { linkUp = true }
        func makeID() -> String {
            defer { nextID += 1 }
            return "test-\(nextID)"
        }
    }

    let endpointID: String
    let transport: any MessageTransport
    let webSocket: WebSocketTransport?
    let state = State()

    private init(endpointID: String, transport: any MessageTransport, webSocket: WebSocketTransport?) {
        self.endpointID = endpointID
        self.transport = transport
        self.webSocket = webSocket
    }

    static var quietLogger: Logger {
        var logger = Logger(label: "test-controller")
        logger.logLevel = .critical
        return logger
    }

    /// A WebSocket listener on 127.0.0.1 (a free port), path `/usp`.
    static func webSocket(endpointID: String = DualStackTests.controllerID) throws -> USPTestController {
        let transport = WebSocketTransport(
            configuration: WebSocketTransportConfiguration(
                controllerEndpointID: endpointID, listener: .init(host: "127.0.0.1", port: 0, path: "/usp"), pingInterval: nil),
            logger: quietLogger)
        return USPTestController(endpointID: endpointID, transport: transport, webSocket: transport)
    }

    /// An MQTT client of the broker listening on `topic`.
    static func mqtt(host: String, port: Int, topic: String, endpointID: String = DualStackTests.controllerID) throws -> USPTestController {
        let transport = try MQTTTransport(configuration: .init(host: host, port: port, endpointID: endpointID, topic: topic), logger: quietLogger)
        return USPTestController(endpointID: endpointID, transport: transport, webSocket: nil)
    }

    /// Runs the transport while `body` runs, once it listens (WebSocket) or is subscribed (MQTT).
    func running(_ body: (USPTestController) async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.transport.run() }
            group.addTask { await self.consume() }
            do {
                if let webSocket {
                    _ = try await webSocket.listeningPort()
                } else {
                    _ = try await waitFor("the MQTT link") { await self.state.linkUp ? true : nil }
                }
                try await body(self)
            } catch {
                group.cancelAll()
                throw error
            }
            group.cancelAll()
        }
    }

    func webSocketPort() async throws -> Int { try await webSocket!.listeningPort() }

    private func consume() async {
        for await event in transport.events {
            switch event {
            case .record(let inbound): await received(inbound)
            case .peerConnected: await state.peer(connected: true)
            case .peerDisconnected: await state.peer(connected: false)
            case .linkUp: await state.setLinkUp()
            case .linkDown: break
            }
        }
    }

    private func received(_ inbound: InboundRecord) async {
        guard let record = try? USPRecord(serializedBytes: inbound.bytes) else {
            Issue.record("the agent sent an unparseable record")
            return
        }
        var message: USPMessage?
        if case .noSessionContext(let payload) = record.kind { message = try? USPMessage(serializedBytes: payload) }
        await state.add(Received(record: record, message: message, replyTo: inbound.replyTo))
        // R-NOT.10: a Notify with send_resp gets a NotifyResp echoing the subscription ID.
        if let message, case .request(.notify(let notify)) = message.body, notify.sendResponse, !(await state.takeDrop()) {
            let answer = USPMessage(id: message.id, response: .notifyResponse(USPNotifyResponse(subscriptionID: notify.subscriptionID)))
            do { try await send(answer, to: record.fromID, at: inbound.replyTo) } catch {
                // The agent retries an unanswered Notify (R-NOT.5–7); say why this answer was lost,
                // for the test that then waits on the retry.
                FileHandle.standardError.write(Data("USPTestController: NotifyResp \(message.id) to \(record.fromID) not sent: \(error)\n".utf8))
            }
        }
    }

    private func send(_ message: USPMessage, to agent: String, at address: MTPAddress) async throws {
        let record = USPRecord(toID: agent, fromID: endpointID, kind: .noSessionContext(payload: try message.serializedBytes()))
        try await transport.send(try record.serializedBytes(), to: address)
    }

    // MARK: Test-facing

    func recordCount() async -> Int { await state.received.count }

    /// The message IDs of the OnBoardRequests received, in order.
    func onBoardRequestIDs() async -> [String] {
        await state.received.compactMap { received in
            guard let message = received.message, case .request(.notify(let notify)) = message.body,
                case .onBoardRequest = notify.notification
            else { return nil }
            return message.id
        }
    }
    func peersConnected() async -> Int { await state.peersConnected }

    /// Polls until `pick` returns a value.
    func waitFor<T: Sendable>(_ what: String, timeout: Duration = .seconds(20), _ pick: @Sendable () async -> T?) async throws -> T {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let value = await pick() { return value }
            guard ContinuousClock.now < deadline else { throw TestFailure("\(what): nothing within \(timeout)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The first received Record for which `pick` returns a value.
    func waitForRecord<T: Sendable>(timeout: Duration = .seconds(20), _ pick: @escaping @Sendable (Received) -> T?) async throws -> T {
        try await waitFor("a matching record", timeout: timeout) { await self.state.received.lazy.compactMap(pick).first }
    }

    /// The first OnBoardRequest: its sender, content and send_resp.
    func waitForOnBoardRequest() async throws -> (from: String, request: USPNotify.OnBoardRequest, sendResponse: Bool) {
        try await waitForRecord { received in
            guard case .request(.notify(let notify)) = received.message?.body, case .onBoardRequest(let request) = notify.notification else { return nil }
            return (received.record.fromID, request, notify.sendResponse)
        }
    }

    func waitForPeerDisconnected() async throws {
        _ = try await waitFor("a disconnection") { await self.state.peersDisconnected > 0 ? true : nil }
    }

    /// Sends `request` to the agent and returns its answer (a Response or an Error).
    func request(_ request: USPMessage.Request, to agent: String, timeout: Duration = .seconds(10)) async throws -> USPMessage {
        let address = try await waitFor("an address of \(agent)") { await self.state.addresses[agent] }
        let id = await state.makeID()
        try await send(USPMessage(id: id, request: request), to: agent, at: address)
        return try await waitForRecord(timeout: timeout) { received in
            guard let message = received.message, message.id == id else { return nil }
            switch message.body {
            case .response, .error: return message
            case .request: return nil
            }
        }
    }

    /// A Get of `paths`: every resolved parameter by full path.
    func get(_ paths: [String], from agent: String) async throws -> [String: String] {
        let answer = try await request(.get(USPGet(paramPaths: paths)), to: agent)
        guard case .response(.getResponse(let response)) = answer.body else { throw TestFailure("Get answered \(answer.body)") }
        var out: [String: String] = [:]
        for result in response.results {
            for resolved in result.resolvedPaths {
                for (name, value) in resolved.parameters { out[resolved.resolvedPath + name] = value }
            }
        }
        return out
    }
}
