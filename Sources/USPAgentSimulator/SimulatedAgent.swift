import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import Foundation
import Logging
import MTP
import MTPMQTT
import MTPSTOMP
import MTPWebSocket
import TandemCore
import USP

/// How a simulated agent reaches its controller.
public enum AgentMTP: Sendable {
    /// Dial the controller's WebSocket server (`ws://host:port/usp`).
    case webSocket(url: String)
    /// Publish to the controller's topic through a broker; listen on `agentTopic`.
    case mqtt(host: String, port: Int, controllerTopic: String, agentTopic: String, version: MosquittoClient.ProtocolVersion)
    /// Send to the controller's STOMP destination; listen on `agentDestination`.
    case stomp(host: String, port: Int, controllerDestination: String, agentDestination: String)
}

/// A simulated TR-369 agent: a TR-181 data model, the agent side of the USP messages, Boot!,
/// OnBoardRequest, ValueChange and OperationComplete notifications. It speaks only the wire protocol.
public actor SimulatedAgent {
    public struct Identity: Sendable {
        public var oui: String
        public var productClass: String
        public var serialNumber: String
        public var softwareVersion: String

        public init(oui: String, productClass: String = "SimGateway", serialNumber: String, softwareVersion: String = "1.0.0") {
            self.oui = oui
            self.productClass = productClass
            self.serialNumber = serialNumber
            self.softwareVersion = softwareVersion
        }

        /// `os::OUI-Serial` (TR-369 R-ARC.2a).
        public var endpointID: EndpointID {
            (try? EndpointID("os::\(oui)-\(serialNumber)", strictLength: false)) ?? (try! EndpointID("self::sim"))
        }
    }

    public nonisolated let identity: Identity
    public nonisolated let controllerEndpointID: String
    nonisolated let mtp: AgentMTP
    let sendOnBoardRequest: Bool
    let logger: Logger
    private var handler: AgentRequestHandler
    private var send: (@Sendable ([UInt8]) async throws -> Void)?
    private var onboarded = false
    public private(set) var bootCount = 0
    public private(set) var requestsHandled = 0
    public private(set) var notificationsAnswered = 0
    public private(set) var connected = false
    private var messageCounter = 0
    private let followUps: AsyncStream<AgentRequestHandler.FollowUp>
    private let followUpContinuation: AsyncStream<AgentRequestHandler.FollowUp>.Continuation

    public init(identity: Identity, controllerEndpointID: String, mtp: AgentMTP, sendOnBoardRequest: Bool = true, logger: Logger = Logger(label: "sim.usp")) {
        self.identity = identity
        self.controllerEndpointID = controllerEndpointID
        self.mtp = mtp
        self.sendOnBoardRequest = sendOnBoardRequest
        self.logger = logger
        self.handler = AgentRequestHandler(model: .gateway(
            oui: identity.oui, productClass: identity.productClass, serial: identity.serialNumber,
            softwareVersion: identity.softwareVersion, endpointID: identity.endpointID.rawValue))
        (followUps, followUpContinuation) = AsyncStream.makeStream()
    }

    // MARK: Observation (tests, demos)

    public func value(_ path: String) -> String? { handler.model.value(path) }

    public func instances(of table: String) -> [String] { handler.model.instances(of: table) }

    /// Subscriptions the controller created (`ID` values).
    public func subscriptionIDs() -> [String] {
        handler.model.resolve("Device.LocalAgent.Subscription.*.ID").map(\.1.value).sorted()
    }

    /// Changes a value on the device's own initiative; subscribed controllers get a ValueChange.
    public func changeValue(_ path: String, to value: String) async {
        handler.model.update(path, value)
        await notifyValueChanges([path])
    }

    // MARK: Running

    /// Connects and serves until cancelled.
    public nonisolated func run() async throws {
        switch mtp {
        case .webSocket(let url):
            let transport = WebSocketTransport(
                configuration: WebSocketTransportConfiguration(controllerEndpointID: identity.endpointID.rawValue, listener: nil, pingInterval: nil),
                logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await transport.run() }
                group.addTask { await self.runFollowUps() }
                try await transport.connect(url: url, agentEndpointID: controllerEndpointID)
                for await event in transport.events {
                    switch event {
                    case .peerConnected(let address):
                        await self.linked { bytes in try await transport.send(bytes, to: address) }
                        try? await self.sendRecord(.webSocketConnect)  // R-MTP.6
                        await self.announce()
                    case .record(let inbound):
                        await self.received(inbound.bytes)
                    case .peerDisconnected:
                        await self.unlinked()
                    case .linkUp, .linkDown:
                        break
                    }
                }
                group.cancelAll()
            }
        case .mqtt(let host, let port, let controllerTopic, let agentTopic, let version):
            var configuration = MosquittoClient.Configuration(host: host, port: port, clientID: "sim-\(identity.serialNumber)-\(UUID().uuidString.prefix(8))")
            configuration.protocolVersion = version
            configuration.connectUserProperties = [("usp-endpoint-id", identity.endpointID.rawValue)]
            let client = try MosquittoClient(configuration: configuration)
            try await client.connect()
            try await client.subscribe(agentTopic)
            // Over 3.1.1 the controller appends its own reply-to to our topic (R-MQTT.24).
            try await client.subscribe(agentTopic + "/+")
            // MQTT 3.1.1 has no Response Topic: the reply-to travels in the topic name (R-MQTT.24).
            let publishTopic = version == .v5 ? controllerTopic : controllerTopic + "/reply-to=" + agentTopic.replacingOccurrences(of: "/", with: "%2F")
            await linked { bytes in
                try await client.publish(bytes, to: publishTopic, qos: 1, properties: MQTTPublishProperties(contentType: "usp.msg", responseTopic: agentTopic))
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await self.runFollowUps() }
                try? await sendRecord(.mqttConnect(version: version == .v5 ? .v5 : .v3_1_1, subscribedTopic: agentTopic))
                await announce()
                for await message in client.messages {
                    await received(message.payload)
                }
                group.cancelAll()
            }
            client.disconnect()
        case .stomp(let host, let port, let controllerDestination, let agentDestination):
            var configuration = STOMPTransport.Configuration(
                host: host, port: port, endpointID: identity.endpointID.rawValue, destination: agentDestination)
            configuration.backoff = .init(initialInterval: .milliseconds(200), multiplier: 2000, maximumInterval: .seconds(2))
            let transport = try STOMPTransport(configuration: configuration, logger: logger)
            let controller = MTPAddress(transport: "stomp", destination: controllerDestination)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await transport.run() }
                group.addTask { await self.runFollowUps() }
                for await event in transport.events {
                    switch event {
                    case .linkUp:
                        await self.linked { bytes in try await transport.send(bytes, to: controller) }
                        try? await self.sendRecord(.stompConnect(version: .v1_2, subscribedDestination: agentDestination))
                        await self.announce()
                    case .linkDown:
                        await self.unlinked()
                    case .record(let inbound):
                        await self.received(inbound.bytes)
                    case .peerConnected, .peerDisconnected:
                        break
                    }
                }
                group.cancelAll()
            }
        }
    }

    private func linked(_ sender: @escaping @Sendable ([UInt8]) async throws -> Void) {
        send = sender
        connected = true
    }

    private func unlinked() {
        send = nil
        connected = false
    }

    /// First contact: OnBoardRequest (R-NOT.6: send_resp true), and Boot! when subscribed.
    private func announce() async {
        bootCount += 1
        if sendOnBoardRequest && !onboarded {
            onboarded = true
            try? await notify(subscriptionID: "", sendResponse: true, .onBoardRequest(USPNotify.OnBoardRequest(
                oui: identity.oui, productClass: identity.productClass, serialNumber: identity.serialNumber,
                agentSupportedVersions: USPRecord.supportedProtocolVersions)))
        }
        await sendBoot(cause: "LocalReboot", commandKey: "")
    }

    // MARK: Messages

    private func received(_ bytes: [UInt8]) async {
        guard let record = try? USPRecord(serializedBytes: bytes), case .noSessionContext = record.kind,
            let message = try? record.message()
        else {
            logger.notice("simulated agent got an unusable record")
            return
        }
        switch message.body {
        case .request(let request):
            requestsHandled += 1
            let (body, followUps) = handler.handle(request)
            try? await sendMessage(USPMessage(id: message.id, body: body))
            for followUp in followUps { followUpContinuation.yield(followUp) }
        case .response(.notifyResponse):
            notificationsAnswered += 1
        case .response, .error:
            break
        }
    }

    private func runFollowUps() async {
        for await followUp in followUps {
            switch followUp {
            case .changed(let paths):
                await notifyValueChanges(paths)
            case .complete(let command, let commandKey, let output):
                try? await Task.sleep(for: .milliseconds(50))
                guard let subscription = subscription(type: "OperationComplete", covering: command) else { continue }
                let cut = command.lastIndex(of: ".").map { command.index(after: $0) } ?? command.startIndex
                try? await notify(subscriptionID: subscription, sendResponse: false, .operationComplete(USPNotify.OperationComplete(
                    objectPath: String(command[..<cut]), commandName: String(command[cut...]), commandKey: commandKey, outcome: .outputArguments(output))))
            case .upload(let command, let commandKey, let url, let username, let password, let body):
                let outcome = await Self.put(body, to: url, username: username, password: password)
                guard let subscription = subscription(type: "OperationComplete", covering: command) else { continue }
                let cut = command.lastIndex(of: ".").map { command.index(after: $0) } ?? command.startIndex
                try? await notify(subscriptionID: subscription, sendResponse: false, .operationComplete(USPNotify.OperationComplete(
                    objectPath: String(command[..<cut]), commandName: String(command[cut...]), commandKey: commandKey, outcome: outcome)))
            case .reboot(let commandKey, let cause):
                try? await Task.sleep(for: .milliseconds(100))
                bootCount += 1
                handler.model.update("Device.DeviceInfo.UpTime", "0")
                await sendBoot(cause: cause, commandKey: commandKey)
            }
        }
    }

    /// HTTP PUT of an uploaded file (Basic credentials when given), as the OperationComplete outcome.
    private static func put(_ body: [UInt8], to url: String, username: String?, password: String?) async -> USPNotify.OperationComplete.Outcome {
        var request = HTTPClientRequest(url: url)
        request.method = .PUT
        request.headers.add(name: "Content-Type", value: "application/octet-stream")
        if let username, let password {
            request.headers.add(name: "Authorization", value: "Basic " + Data("\(username):\(password)".utf8).base64EncodedString())
        }
        request.body = .bytes(body)
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            guard (200..<300).contains(response.status.code) else {
                return .failure(USPFailure(code: .commandFailure, message: "file server answered HTTP \(response.status.code)"))
            }
            return .outputArguments([:])
        } catch {
            return .failure(USPFailure(code: .commandFailure, message: "upload failed: \(error)"))
        }
    }

    private func sendBoot(cause: String, commandKey: String) async {
        guard let subscription = subscription(type: "Event", covering: "Device.Boot!") else { return }
        let map = ["Device.DeviceInfo.SoftwareVersion": handler.model.value("Device.DeviceInfo.SoftwareVersion") ?? ""]
        let json = (try? JSONSerialization.data(withJSONObject: map)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        try? await notify(subscriptionID: subscription, sendResponse: true, .event(USPNotify.Event(
            objectPath: "Device.", eventName: "Boot!",
            parameters: ["CommandKey": commandKey, "Cause": cause, "FirmwareUpdated": "false", "ParameterMap": json])))
    }

    private func notifyValueChanges(_ paths: [String]) async {
        for path in paths {
            guard let subscription = subscription(type: "ValueChange", covering: path), let value = handler.model.value(path) else { continue }
            try? await notify(subscriptionID: subscription, sendResponse: false, .valueChange(USPNotify.ValueChange(parameterPath: path, value: value)))
        }
    }

    /// The ID of an enabled subscription of `type` whose ReferenceList covers `path`.
    private func subscription(type: String, covering path: String) -> String? {
        for row in handler.model.instances(of: "Device.LocalAgent.Subscription.") {
            guard handler.model.value(row + "NotifType") == type, handler.model.value(row + "Enable") == "true" else { continue }
            let references = (handler.model.value(row + "ReferenceList") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            if references.contains(where: { path == $0 || ($0.hasSuffix(".") && path.hasPrefix($0)) }) {
                return handler.model.value(row + "ID") ?? ""
            }
        }
        return nil
    }

    private func notify(subscriptionID: String, sendResponse: Bool, _ notification: USPNotify.Notification) async throws {
        messageCounter += 1
        let message = USPMessage(id: "sim-\(identity.serialNumber)-\(messageCounter)", request: .notify(USPNotify(
            subscriptionID: subscriptionID, sendResponse: sendResponse, notification: notification)))
        try await sendMessage(message)
    }

    private func sendMessage(_ message: USPMessage) async throws {
        try await sendRecord(.noSessionContext(payload: try message.serializedBytes()))
    }

    private func sendRecord(_ kind: USPRecord.Kind) async throws {
        guard let send else { throw USPFailure(code: .messageFailed, message: "not connected") }
        let record = USPRecord(toID: controllerEndpointID, fromID: identity.endpointID.rawValue, kind: kind)
        try await send(try record.serializedBytes())
    }
}
