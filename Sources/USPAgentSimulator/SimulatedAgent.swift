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
    /// Publish to the controller's topic through a broker; listen on `agentTopic`. Credentials and
    /// the ClientId come from `Device.MQTT.Client.{i}` on a real device (R-MQTT.7/8); nil ClientId
    /// picks a unique one.
    case mqtt(
        host: String, port: Int, controllerTopic: String, agentTopic: String, version: MosquittoClient.ProtocolVersion, username: String? = nil,
        password: String? = nil, clientID: String? = nil)
    /// Send to the controller's STOMP destination; listen on `agentDestination`.
    case stomp(host: String, port: Int, controllerDestination: String, agentDestination: String, login: String? = nil, passcode: String? = nil)
}

/// A simulated TR-369 agent: a TR-181 data model, the agent side of the USP messages, Boot!,
/// OnBoardRequest, ValueChange and OperationComplete notifications. It speaks only the wire protocol.
public actor SimulatedAgent {
    public struct Identity: Sendable {
        public var oui: String
        public var productClass: String
        public var serialNumber: String
        public var softwareVersion: String
        /// `os::OUI-Serial` (TR-369 R-ARC.2a) unless given (a dual-stack device reports its
        /// `Device.USPAgent.EndpointID`).
        public var endpointID: EndpointID

        public init(oui: String, productClass: String = "SimGateway", serialNumber: String, softwareVersion: String = "1.0.0", endpointID: EndpointID? = nil) {
            self.oui = oui
            self.productClass = productClass
            self.serialNumber = serialNumber
            self.softwareVersion = softwareVersion
            self.endpointID = endpointID ?? (try? EndpointID("os::\(oui)-\(serialNumber)", strictLength: false)) ?? (try! EndpointID("self::sim"))
        }
    }

    /// How faithfully the agent plays its part (faulty variants exercise a Controller's timeouts).
    public enum Behaviour: String, Sendable, Hashable, CaseIterable {
        /// Answers every request.
        case normal
        /// Connects and notifies, but never answers a Get (other requests are answered).
        case ignoresGets
    }

    public nonisolated let identity: Identity
    public nonisolated let controllerEndpointID: String
    nonisolated let mtp: AgentMTP
    public nonisolated let behaviour: Behaviour
    let logger: Logger
    private let dataModel: any AgentDataModelProvider
    private var send: (@Sendable ([UInt8]) async throws -> Void)?
    /// An OnBoardRequest is due (at start, or `requestOnBoarding()`) until a NotifyResp answers it
    /// (TR-369 R-NOT.5-7: retried, never expires).
    private var onBoardPending: Bool
    /// The message ID of the last OnBoardRequest sent.
    private var onBoardMessageID: String?
    public private(set) var onBoardRequestsSent = 0
    /// OnBoardRequests sent again because no NotifyResp came (R-NOT.5–7).
    public private(set) var onBoardRequestsRetried = 0
    /// The first wait of the Notify retry table: TR-181 `LocalAgent.Controller.{i}.
    /// USPNotifRetryMinimumWaitInterval`, 5 s by default (the simulated models have no Controller
    /// table to hold it).
    public private(set) var notifyRetryMinimumWait: Duration = .seconds(5)
    public private(set) var getsIgnored = 0
    public private(set) var bootCount = 0
    public private(set) var requestsHandled = 0
    public private(set) var notificationsAnswered = 0
    /// Message IDs of the Notify requests the controller answered with a NotifyResp.
    public private(set) var answeredNotifications: Set<String> = []
    public private(set) var connected = false
    private var messageCounter = 0
    private let followUps: AsyncStream<AgentRequestHandler.FollowUp>
    private let followUpContinuation: AsyncStream<AgentRequestHandler.FollowUp>.Continuation

    /// A stand-alone agent with its own realistic TR-181 gateway model.
    public init(
        identity: Identity, controllerEndpointID: String, mtp: AgentMTP, sendOnBoardRequest: Bool = true, behaviour: Behaviour = .normal,
        logger: Logger = Logger(label: "sim.usp")
    ) {
        let model = AgentDataModel.gateway(
            oui: identity.oui, productClass: identity.productClass, serial: identity.serialNumber,
            softwareVersion: identity.softwareVersion, endpointID: identity.endpointID.rawValue)
        self.init(
            identity: identity, controllerEndpointID: controllerEndpointID, mtp: mtp, dataModel: AgentModelStore(model: model),
            sendOnBoardRequest: sendOnBoardRequest, behaviour: behaviour, logger: logger)
    }

    /// An agent answering against `dataModel` (a dual-stack CPE's USP view of its own tree).
    public init(
        identity: Identity, controllerEndpointID: String, mtp: AgentMTP, dataModel: any AgentDataModelProvider, sendOnBoardRequest: Bool,
        behaviour: Behaviour = .normal, logger: Logger = Logger(label: "sim.usp")
    ) {
        self.identity = identity
        self.controllerEndpointID = controllerEndpointID
        self.mtp = mtp
        self.dataModel = dataModel
        self.onBoardPending = sendOnBoardRequest
        self.behaviour = behaviour
        self.logger = logger
        (followUps, followUpContinuation) = AsyncStream.makeStream()
    }

    /// Sets the first wait of the Notify retry table (`USPNotifRetryMinimumWaitInterval`); later
    /// waits double from it.
    public func setNotifyRetryMinimumWait(_ wait: Duration) {
        notifyRetryMinimumWait = wait
    }

    // MARK: Observation (tests, demos)

    public func value(_ path: String) async -> String? { await dataModel.withModel { $0.value(path) } }

    public func instances(of table: String) async -> [String] { await dataModel.withModel { $0.instances(of: table) } }

    /// Subscriptions the controller created (`ID` values).
    public func subscriptionIDs() async -> [String] {
        await dataModel.withModel { $0.resolve("Device.LocalAgent.Subscription.*.ID").map(\.1.value).sorted() }
    }

    /// Changes a value on the device's own initiative; subscribed controllers get a ValueChange.
    public func changeValue(_ path: String, to value: String) async {
        await dataModel.withModel { $0.update(path, value) }
        await notifyValueChanges([path])
    }

    /// Changes a value and sends its ValueChange with send_resp true, as an agent does for a
    /// subscription with `NotifRetry` (TR-181 `LocalAgent.Subscription.{i}.NotifRetry`): the
    /// controller must answer with a NotifyResp (R-NOT.8). Returns the Notify's message ID; nil when no
    /// ValueChange subscription covers `path`. Throws when the agent is not connected.
    public func changeValueExpectingResponse(_ path: String, to value: String) async throws -> String? {
        await dataModel.withModel { $0.update(path, value) }
        guard let subscription = await dataModel.withModel({ $0.subscription(type: "ValueChange", covering: path) }) else { return nil }
        return try await notify(subscriptionID: subscription, sendResponse: true, .valueChange(USPNotify.ValueChange(parameterPath: path, value: value)))
    }

    /// Sends an OnBoardRequest now when connected, else on connecting; repeated on each
    /// reconnection until the Controller answers it (`Controller.{i}.SendOnBoardRequest`).
    public func requestOnBoarding() async {
        onBoardPending = true
        if send != nil { await sendOnBoardRequestIfPending() }
    }

    // MARK: Running

    /// Connects and serves until cancelled or the connection ends (then it may be called again).
    public nonisolated func run() async throws {
        do {
            try await serve()
        } catch {
            await unlinked()
            throw error
        }
        await unlinked()
    }

    private nonisolated func serve() async throws {
        switch mtp {
        case .webSocket(let url):
            let transport = WebSocketTransport(
                configuration: WebSocketTransportConfiguration(controllerEndpointID: identity.endpointID.rawValue, listener: nil, pingInterval: nil),
                logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await transport.run() }
                group.addTask { await self.runFollowUps() }
                group.addTask { await self.retryOnBoardRequests() }
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
        case .mqtt(let host, let port, let controllerTopic, let agentTopic, let version, let username, let password, let clientID):
            var configuration = MosquittoClient.Configuration(
                host: host, port: port, clientID: clientID ?? "sim-\(identity.serialNumber)-\(UUID().uuidString.prefix(8))")
            configuration.protocolVersion = version
            configuration.username = username
            configuration.password = password
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
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.runFollowUps() }
                group.addTask { await self.retryOnBoardRequests() }
                try? await sendRecord(.mqttConnect(version: version == .v5 ? .v5 : .v3_1_1, subscribedTopic: agentTopic))
                await announce()
                for await message in client.messages {
                    await received(message.payload)
                }
                group.cancelAll()
            }
            client.disconnect()
        case .stomp(let host, let port, let controllerDestination, let agentDestination, let login, let passcode):
            var configuration = STOMPTransport.Configuration(
                host: host, port: port, endpointID: identity.endpointID.rawValue, destination: agentDestination)
            configuration.login = login
            configuration.passcode = passcode
            configuration.backoff = .init(initialInterval: .milliseconds(200), multiplier: 2000, maximumInterval: .seconds(2))
            let transport = try STOMPTransport(configuration: configuration, logger: logger)
            let controller = MTPAddress(transport: "stomp", destination: controllerDestination)
            // A failed transport ends its event stream, which ends this group.
            await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await transport.run() }
                group.addTask { await self.runFollowUps() }
                group.addTask { await self.retryOnBoardRequests() }
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

    private func linked(_ sender: @escaping @Sendable ([UInt8]) async throws -> Void) async {
        send = sender
        connected = true
        await dataModel.agentEvent(.connected)
    }

    private func unlinked() async {
        send = nil
        guard connected else { return }
        connected = false
        await dataModel.agentEvent(.disconnected)
    }

    /// First contact: OnBoardRequest when due, and Boot! when subscribed.
    private func announce() async {
        bootCount += 1
        await sendOnBoardRequestIfPending()
        await sendBoot(cause: "LocalReboot", commandKey: "")
    }

    /// OnBoardRequest: empty subscription ID, send_resp true (R-NOT.6).
    private func sendOnBoardRequestIfPending() async {
        guard onBoardPending else { return }
        do {
            onBoardMessageID = try await notify(subscriptionID: "", sendResponse: true, onBoardRequest)
            onBoardRequestsSent += 1
            await dataModel.agentEvent(.onBoardRequestSent)
        } catch {
            logger.notice("OnBoardRequest not sent: \(error)")
        }
    }

    private var onBoardRequest: USPNotify.Notification {
        .onBoardRequest(USPNotify.OnBoardRequest(
            oui: identity.oui, productClass: identity.productClass, serialNumber: identity.serialNumber,
            agentSupportedVersions: USPRecord.supportedProtocolVersions))
    }

    /// R-NOT.5–7: an OnBoardRequest is sent again, with the same message ID, until a NotifyResp
    /// arrives; it never expires. The waits follow the Notify retry table with TR-181's defaults
    /// (`USPNotifRetryMinimumWaitInterval` 5 s, `USPNotifRetryIntervalMultiplier` 2000): 5–10 s,
    /// 10–20 s, …, at most 2560–5120 s.
    private func retryOnBoardRequests() async {
        var attempt = 0
        while !Task.isCancelled {
            let minimum = notifyRetryMinimumWait * (1 << min(attempt, 9))
            do { try await Task.sleep(for: minimum + minimum * Double.random(in: 0...1)) } catch { return }
            guard onBoardPending, connected, let id = onBoardMessageID else {
                attempt = 0
                continue
            }
            let message = USPMessage(id: id, request: .notify(USPNotify(subscriptionID: "", sendResponse: true, notification: onBoardRequest)))
            do {
                try await sendMessage(message)
                onBoardRequestsRetried += 1
            } catch {
                logger.notice("OnBoardRequest retry not sent: \(error)")
            }
            attempt += 1
        }
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
            if behaviour == .ignoresGets, case .get = request {
                getsIgnored += 1
                return
            }
            requestsHandled += 1
            let (body, followUps) = await dataModel.withModel { model in
                var handler = AgentRequestHandler(model: model)
                defer { model = handler.model }
                return handler.handle(request)
            }
            try? await sendMessage(USPMessage(id: message.id, body: body))
            for followUp in followUps { followUpContinuation.yield(followUp) }
        case .response(.notifyResponse):
            notificationsAnswered += 1
            answeredNotifications.insert(message.id)
            if onBoardPending, message.id == onBoardMessageID {
                onBoardPending = false
                await dataModel.agentEvent(.onBoardRequestAnswered)
            }
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
                guard let subscription = await dataModel.withModel({ $0.subscription(type: "OperationComplete", covering: command) }) else { continue }
                let cut = command.lastIndex(of: ".").map { command.index(after: $0) } ?? command.startIndex
                _ = try? await notify(subscriptionID: subscription, sendResponse: false, .operationComplete(USPNotify.OperationComplete(
                    objectPath: String(command[..<cut]), commandName: String(command[cut...]), commandKey: commandKey, outcome: .outputArguments(output))))
            case .upload(let command, let commandKey, let url, let username, let password, let body):
                let outcome = await Self.put(body, to: url, username: username, password: password)
                guard let subscription = await dataModel.withModel({ $0.subscription(type: "OperationComplete", covering: command) }) else { continue }
                let cut = command.lastIndex(of: ".").map { command.index(after: $0) } ?? command.startIndex
                _ = try? await notify(subscriptionID: subscription, sendResponse: false, .operationComplete(USPNotify.OperationComplete(
                    objectPath: String(command[..<cut]), commandName: String(command[cut...]), commandKey: commandKey, outcome: outcome)))
            case .reboot(let commandKey, let cause):
                try? await Task.sleep(for: .milliseconds(100))
                bootCount += 1
                await dataModel.withModel { $0.update("Device.DeviceInfo.UpTime", "0", type: .unsignedInt) }
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
        let (subscription, version) = await dataModel.withModel {
            ($0.subscription(type: "Event", covering: "Device.Boot!"), $0.value("Device.DeviceInfo.SoftwareVersion") ?? "")
        }
        guard let subscription else { return }
        let map = ["Device.DeviceInfo.SoftwareVersion": version]
        let json = (try? JSONSerialization.data(withJSONObject: map)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        _ = try? await notify(subscriptionID: subscription, sendResponse: true, .event(USPNotify.Event(
            objectPath: "Device.", eventName: "Boot!",
            parameters: ["CommandKey": commandKey, "Cause": cause, "FirmwareUpdated": "false", "ParameterMap": json])))
    }

    private func notifyValueChanges(_ paths: [String]) async {
        for path in paths {
            let (subscription, value) = await dataModel.withModel { ($0.subscription(type: "ValueChange", covering: path), $0.value(path)) }
            guard let subscription, let value else { continue }
            _ = try? await notify(subscriptionID: subscription, sendResponse: false, .valueChange(USPNotify.ValueChange(parameterPath: path, value: value)))
        }
    }

    /// Sends a Notify; returns its message ID.
    @discardableResult
    private func notify(subscriptionID: String, sendResponse: Bool, _ notification: USPNotify.Notification) async throws -> String {
        messageCounter += 1
        let message = USPMessage(id: "sim-\(identity.serialNumber)-\(messageCounter)", request: .notify(USPNotify(
            subscriptionID: subscriptionID, sendResponse: sendResponse, notification: notification)))
        try await sendMessage(message)
        return message.id
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
