import Foundation
import Logging
import MTP
import Policy
import Registry
import ServiceLifecycle
import TandemCore
import USP

/// The USP controller (TR-369): consumes records from every MTP, answers notifications, keeps track
/// of connected agents, onboards them (subscriptions, baseline read), and runs their queued tasks.
/// The controller may send at any time over the agents' persistent MTP connections.
public actor USPController: Service {
    public struct Configuration: Sendable {
        public var endpointID: EndpointID
        /// How long a request waits for its response (msg_id correlation).
        public var requestTimeout: Duration = .seconds(30)
        /// Read on onboarding and on every Boot!.
        public var baselinePaths: [String] = ["Device.DeviceInfo."]
        /// Parameters to watch with ValueChange subscriptions.
        public var valueChangePaths: [String] = []
        public var limits = USPDecodingLimits.default
        /// Prefix of the IDs of the subscriptions Tandem creates (`Device.LocalAgent.Subscription.{i}.ID`).
        public var subscriptionPrefix = "tandem-"

        public init(endpointID: EndpointID) {
            self.endpointID = endpointID
        }
    }

    struct Agent {
        var endpoint: EndpointID
        var address: MTPAddress
        var deviceID: Int64
        var online: Bool
    }

    enum Work: Sendable {
        case onboard(String)
        case runTasks(String)
    }

    public let configuration: Configuration
    let registry: any RegistryStore
    let logger: Logger
    let transports: [String: any MessageTransport]
    let pending = PendingRequests<String, USPMessage>()
    private var agents: [String: Agent] = [:]
    private var agentByDevice: [Int64: String] = [:]
    private var running: Set<String> = []
    private var wokenWhileRunning: Set<String> = []
    private var onboarding: Set<String> = []
    /// Agents taken offline because a transport's own link (to its broker) went down, by transport.
    private var offlineWithLink: [String: Set<String>] = [:]
    private var messageCounter: UInt64 = 0
    private let messagePrefix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
    private nonisolated let work: AsyncStream<Work>
    private nonisolated let workContinuation: AsyncStream<Work>.Continuation

    /// Told of contacts and idle devices (provisioning policies, migrations).
    let observers: DeviceContactObservers

    public init(
        configuration: Configuration, registry: any RegistryStore, transports: [any MessageTransport],
        observers: DeviceContactObservers = DeviceContactObservers(), logger: Logger
    ) {
        self.configuration = configuration
        self.registry = registry
        self.observers = observers
        self.logger = logger
        self.transports = Dictionary(transports.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        (work, workContinuation) = AsyncStream.makeStream(of: Work.self)
    }

    // MARK: Service

    /// Consumes every transport's events and runs onboarding and task work, until graceful shutdown.
    public nonisolated func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for transport in self.transports.values {
                    group.addTask { await self.consume(transport) }
                }
                group.addTask {
                    // Work that awaits agents' answers runs beside the event loops, never inside them:
                    // the answers arrive through those loops.
                    await withDiscardingTaskGroup { workers in
                        for await job in self.work {
                            workers.addTask { await self.perform(job) }
                        }
                    }
                }
            }
        }
        workContinuation.finish()
    }

    /// Most lanes one transport keeps; past it, records of new peers are handled in the loop itself.
    static let maximumLanes = 4096

    /// One transport's events. Records of different peers are handled side by side, each peer's in
    /// order (one lane per MTP address): one slow registry write or broker round trip no longer
    /// holds back every other agent behind the same broker connection. A lane lives only while its
    /// peer has records queued (``PeerLanes``), so idle agents hold no task here.
    private nonisolated func consume(_ transport: any MessageTransport) async {
        let lanes = PeerLanes()
        await withDiscardingTaskGroup { group in
            for await event in transport.events {
                switch event {
                case .record(let inbound):
                    let key = inbound.replyTo.destination
                    switch lanes.enqueue(event, for: key, limit: Self.maximumLanes) {
                    case .queued:
                        break
                    case .startLane:
                        group.addTask {
                            await lanes.drain(key) { queued in await self.handle(queued, transport: transport.name) }
                        }
                    case .full:
                        await handle(event, transport: transport.name)
                    }
                case .peerDisconnected(let address):
                    // After the peer's last records, in its lane when it still has one.
                    if !lanes.enqueueIfRunning(event, for: address.destination) {
                        await handle(event, transport: transport.name)
                    }
                default:
                    await handle(event, transport: transport.name)
                }
            }
        }
    }

    // MARK: Queries

    public func isOnline(deviceID: Int64) -> Bool {
        agentByDevice[deviceID].flatMap { agents[$0]?.online } ?? false
    }

    /// Endpoint IDs of the agents connected now.
    public var onlineAgents: [String] { agents.values.filter(\.online).map(\.endpoint.rawValue).sorted() }

    /// Runs the device's queued tasks now if its agent is online; returns whether it is.
    @discardableResult
    public func wake(deviceID: Int64) -> Bool {
        guard let key = agentByDevice[deviceID], agents[key]?.online == true else { return false }
        workContinuation.yield(.runTasks(key))
        return true
    }

    // MARK: Events

    func handle(_ event: TransportEvent, transport: String) async {
        switch event {
        case .record(let inbound):
            await handleRecord(inbound)
        case .peerDisconnected(let address):
            for (key, agent) in agents where agent.address.transport == address.transport && agent.address.destination == address.destination {
                await markOffline(key, reason: "MTP connection closed")
            }
        case .linkDown(let reason):
            for (key, agent) in agents where agent.address.transport == transport && agent.online {
                offlineWithLink[transport, default: []].insert(key)
                await markOffline(key, reason: "\(transport) link down: \(reason)")
            }
        case .linkUp:
            // A broker link that comes back brings back the agents it took offline: their own
            // connections to the broker did not change, and their queued tasks run now. One that
            // went away meanwhile does not answer, and its task is retried (Fault unreachable).
            for key in offlineWithLink.removeValue(forKey: transport) ?? [] {
                guard var agent = agents[key], !agent.online, agent.address.transport == transport else { continue }
                agent.online = true
                agents[key] = agent
                try? await registry.appendEvent(DeviceEvent(
                    deviceID: agent.deviceID, at: Date(), kind: "online", summary: "USP agent reachable again: \(transport) link up", actor: "system"))
                workContinuation.yield(.runTasks(key))
            }
        case .peerConnected:
            break
        }
    }

    private func handleRecord(_ inbound: InboundRecord) async {
        let record: USPRecord
        do {
            record = try USPRecord(serializedBytes: inbound.bytes, limits: configuration.limits)
        } catch {
            // R-MTP.5: a record that cannot be parsed is discarded.
            logger.notice("unparseable USP record", metadata: ["from": "\(inbound.replyTo)", "error": "\(error)"])
            try? await registry.appendEvent(DeviceEvent(
                deviceID: nil, at: Date(), kind: "protocolError", summary: "unparseable USP record from \(inbound.replyTo): \(error)", actor: "device"))
            await transports[inbound.replyTo.transport]?.rejectUnparseableRecord(from: inbound.replyTo)
            return
        }
        guard record.isAddressed(to: configuration.endpointID) else {
            // R-E2E.1: a record for another endpoint is not ours to process.
            logger.notice("USP record for another endpoint dropped", metadata: ["to": "\(record.toID)", "from": "\(record.fromID)"])
            try? await registry.appendEvent(DeviceEvent(
                deviceID: nil, at: Date(), kind: "protocolError", summary: "record from \(record.fromID) addressed to \(record.toID) dropped",
                actor: "device"))
            return
        }
        guard let from = record.fromEndpoint else {
            logger.notice("USP record with an invalid from_id dropped", metadata: ["from": "\(record.fromID)"])
            return
        }
        var address = inbound.replyTo
        switch record.kind {
        case .webSocketConnect, .udsConnect:
            await agentContact(from, address: address, identity: nil)
        case .mqttConnect(_, let topic):
            if !topic.isEmpty && address.destination.isEmpty { address.destination = topic }
            await agentContact(from, address: address, identity: nil)
        case .stompConnect(_, let destination):
            if !destination.isEmpty && address.destination.isEmpty { address.destination = destination }
            await agentContact(from, address: address, identity: nil)
        case .disconnect(let reason, let code):
            // R-MTP.7: the sender drops its E2E state; so do we.
            logger.info("agent sent DisconnectRecord", metadata: ["agent": "\(from)", "reason": "\(reason)", "code": "\(code)"])
            await markOffline(from.lookupKey, reason: "DisconnectRecord: \(reason)")
        case .noSessionContext(let payload):
            do {
                let message = try USPMessage(serializedBytes: payload, limits: configuration.limits)
                await handleMessage(message, from: from, address: address)
            } catch {
                logger.notice("undecodable USP message", metadata: ["agent": "\(from)", "error": "\(error)"])
                if let id = error.messageID {
                    // R-MTP.5: answer a request whose message could not be processed with an Error.
                    try? await send(.error(id: id, code: error.code, message: "\(error)"), to: from, address: address)
                }
            }
        case .sessionContext(let context):
            // Unsegmented payloads of a Session Context are delivered; segmentation needs the E2E
            // session state machine, not wired yet.
            guard context.payloadSARState == .none, context.payload.count == 1 else {
                logger.notice("segmented Session Context record not supported yet", metadata: ["agent": "\(from)"])
                return
            }
            if let message = try? USPMessage(serializedBytes: context.payload[0], limits: configuration.limits) {
                await handleMessage(message, from: from, address: address)
            }
        }
    }

    private func handleMessage(_ message: USPMessage, from endpoint: EndpointID, address: MTPAddress) async {
        switch message.body {
        case .response, .error:
            if !pending.fulfil(message.id, with: message) {
                logger.info("USP response with unknown msg_id", metadata: ["agent": "\(endpoint)", "msg_id": "\(message.id)"])
            }
        case .request(.notify(let notify)):
            await handleNotify(notify, from: endpoint, address: address)
            // R-NOT.8: answer only when send_resp is true, echoing the subscription_id.
            if let response = USPMessage.notifyResponse(answering: message) {
                try? await send(response, to: endpoint, address: address)
            }
        case .request(.register(let register)):
            try? await registry.appendEvent(DeviceEvent(
                deviceID: agents[endpoint.lookupKey]?.deviceID, at: Date(), kind: "register",
                summary: "Register: " + register.paths.joined(separator: ", "), actor: "device"))
            let results = register.paths.map { USPRegisterResponse.RegisteredPathResult(requestedPath: $0, status: .success(registeredPath: $0)) }
            try? await send(.registerResponse(id: message.id, results: results), to: endpoint, address: address)
        case .request(.deregister(let deregister)):
            let results = deregister.paths.map {
                USPDeregisterResponse.DeregisteredPathResult(requestedPath: $0, status: .success(deregisteredPaths: [$0]))
            }
            try? await send(.deregisterResponse(id: message.id, results: results), to: endpoint, address: address)
        case .request:
            // A controller exposes no data model: every other request is not supported here.
            try? await send(.error(id: message.id, code: .messageNotSupported, message: "Tandem is a USP Controller"), to: endpoint, address: address)
        }
    }

    private func handleNotify(_ notify: USPNotify, from endpoint: EndpointID, address: MTPAddress) async {
        let now = Date()
        switch notify.notification {
        case .onBoardRequest(let request):
            let identity = try? CWMPDeviceID(oui: request.oui, productClass: request.productClass, serialNumber: request.serialNumber)
            await agentContact(endpoint, address: address, identity: identity, triggers: [.bootstrap, .connect])
        case .event(let event) where event.eventName == "Boot!":
            var details = DeviceDetails(dataModelRoot: "Device")
            if let map = event.parameters["ParameterMap"], let data = map.data(using: .utf8),
                let values = try? JSONSerialization.jsonObject(with: data) as? [String: String]
            {
                details.softwareVersion = values["Device.DeviceInfo.SoftwareVersion"]
                details.hardwareVersion = values["Device.DeviceInfo.HardwareVersion"]
            }
            let device = await agentContact(endpoint, address: address, identity: nil, details: details, onboard: true, triggers: [.boot, .connect])
            if let device {
                try? await registry.appendEvent(DeviceEvent(
                    deviceID: device, at: now, kind: "boot",
                    summary: "Boot! cause \(event.parameters["Cause"] ?? "?")" + (event.parameters["CommandKey"].map { ", CommandKey \($0)" } ?? ""),
                    actor: "device", detail: event.parameters.filter { $0.key != "ParameterMap" }))
                if let key = event.parameters["CommandKey"], let taskID = TaskCommandKey.taskID(in: key),
                    let task = try? await registry.task(id: taskID), task.deviceID == device, task.state == .running
                {
                    try? await registry.completeTask(id: taskID, result: OperationResult(outputArguments: event.parameters), parameters: [], at: now)
                }
            }
        case .event(let event):
            try? await registry.appendEvent(DeviceEvent(
                deviceID: agents[endpoint.lookupKey]?.deviceID, at: now, kind: "uspEvent", summary: event.objectPath + event.eventName,
                actor: "device", detail: event.parameters))
            if event.eventName == "Periodic!", let device = agents[endpoint.lookupKey]?.deviceID {
                await observers.active?.contactStarted(deviceID: device, over: .usp, triggers: [.periodic])
                workContinuation.yield(.runTasks(endpoint.lookupKey))
            }
        case .valueChange(let change):
            guard let device = agents[endpoint.lookupKey]?.deviceID else { return }
            try? await registry.storeParameters(
                deviceID: device, [StoredParameter(path: change.parameterPath, value: .string(change.value), updatedAt: now)], replacingSubtree: nil)
        case .objectCreation(let creation):
            guard let device = agents[endpoint.lookupKey]?.deviceID else { return }
            let base = creation.objectPath.hasSuffix(".") ? creation.objectPath : creation.objectPath + "."
            try? await registry.storeParameters(
                deviceID: device, creation.uniqueKeys.map { StoredParameter(path: base + $0.key, value: .string($0.value), updatedAt: now) },
                replacingSubtree: nil)
        case .objectDeletion(let path):
            guard let device = agents[endpoint.lookupKey]?.deviceID else { return }
            try? await registry.removeParameters(deviceID: device, under: path.hasSuffix(".") ? path : path + ".")
        case .operationComplete(let complete):
            guard let taskID = TaskCommandKey.taskID(in: complete.commandKey), let task = try? await registry.task(id: taskID),
                task.deviceID == agents[endpoint.lookupKey]?.deviceID, !task.state.isFinal
            else { return }
            switch complete.outcome {
            case .outputArguments(let output):
                try? await registry.completeTask(id: taskID, result: OperationResult(outputArguments: output), parameters: [], at: now)
            case .failure(let failure):
                try? await registry.failTask(id: taskID, fault: failure.fault, retry: false, at: now)
            }
        }
    }

    // MARK: Agents

    /// Records first contact (connect record, OnBoardRequest or Boot!), links the agent with its
    /// registry row and schedules onboarding. Returns the device id.
    @discardableResult
    private func agentContact(
        _ endpoint: EndpointID, address: MTPAddress, identity: CWMPDeviceID?, details: DeviceDetails = DeviceDetails(), onboard: Bool = true,
        triggers: Set<PolicyTrigger> = [.connect]
    ) async -> Int64? {
        var details = details
        details.connection = ["mtp": address.transport, "address": address.destination]
        let device: Device
        do {
            device = try await registry.recordUSPContact(endpoint, identity: identity, details: details, at: Date())
        } catch {
            logger.error("cannot record USP contact", metadata: ["agent": "\(endpoint)", "error": "\(error)"])
            return nil
        }
        let key = endpoint.lookupKey
        let wasOnline = agents[key]?.online ?? false
        agents[key] = Agent(endpoint: endpoint, address: address, deviceID: device.id, online: true)
        agentByDevice[device.id] = key
        if !wasOnline {
            try? await registry.appendEvent(DeviceEvent(
                deviceID: device.id, at: Date(), kind: "online", summary: "USP agent online over \(address.transport)", actor: "device"))
        }
        await observers.active?.contactStarted(deviceID: device.id, over: .usp, triggers: triggers)
        if onboard { workContinuation.yield(.onboard(key)) }
        return device.id
    }

    private func markOffline(_ key: String, reason: String) async {
        guard var agent = agents[key], agent.online else { return }
        agent.online = false
        agents[key] = agent
        try? await registry.appendEvent(DeviceEvent(deviceID: agent.deviceID, at: Date(), kind: "offline", summary: "USP agent offline: \(reason)", actor: "system"))
    }

    // MARK: Sending

    func nextMessageID() -> String {
        messageCounter += 1
        return "tandem-\(messagePrefix)-\(messageCounter)"
    }

    private func send(_ message: USPMessage, to endpoint: EndpointID, address: MTPAddress) async throws {
        guard let transport = transports[address.transport] else {
            throw Fault(category: .unreachable, message: "no \(address.transport) transport for \(endpoint)")
        }
        let record = try USPRecord(message: message, to: endpoint, from: configuration.endpointID)
        try await transport.send(try record.serializedBytes(), to: address)
    }

    /// Sends a request to an online agent and waits for its response (or Error), correlated by msg_id.
    public func request(_ message: USPMessage, toAgent key: String) async throws -> USPMessage {
        guard let agent = agents[key], agent.online else { throw Fault(category: .unreachable, message: "agent \(key) is offline") }
        pending.register(message.id)
        do {
            try await send(message, to: agent.endpoint, address: agent.address)
        } catch {
            pending.cancel(message.id)
            throw Fault(category: .unreachable, message: "cannot send to \(key): \(error)")
        }
        let timeout = configuration.requestTimeout
        return try await pending.wait(
            for: message.id, timeout: timeout,
            onTimeout: Fault(category: .unreachable, message: "no response to \(message.id) within \(timeout)"))
    }

    // MARK: Work

    private func perform(_ job: Work) async {
        switch job {
        case .onboard(let key):
            await onboard(key)
            await runTasks(key)
        case .runTasks(let key):
            await runTasks(key)
        }
    }

    /// Creates the subscriptions Tandem needs when they are missing (Enable and Persistent true,
    /// protocol digest B.9), then reads the baseline parameters.
    private func onboard(_ key: String) async {
        // A connect record and an OnBoardRequest arrive back to back: onboard once at a time, or both
        // runs would find the subscriptions missing and create them twice.
        guard let deviceID = agents[key]?.deviceID, !onboarding.contains(key) else { return }
        onboarding.insert(key)
        defer { onboarding.remove(key) }
        var wanted: [(id: String, type: String, reference: String)] = [
            ("\(configuration.subscriptionPrefix)boot", "Event", "Device.Boot!"),
            ("\(configuration.subscriptionPrefix)operation-complete", "OperationComplete", "Device."),
        ]
        for (index, path) in configuration.valueChangePaths.enumerated() {
            wanted.append(("\(configuration.subscriptionPrefix)value-change-\(index + 1)", "ValueChange", path))
        }
        do {
            let existing = try await request(.get(id: nextMessageID(), paths: ["Device.LocalAgent.Subscription."]), toAgent: key)
            let present = Set(Self.subscriptionIDs(in: existing))
            let missing = wanted.filter { !present.contains($0.id) }
            if !missing.isEmpty {
                let objects = missing.map { subscription in
                    USPAdd.CreateObject(objectPath: "Device.LocalAgent.Subscription.", settings: [
                        USPParameterSetting(name: "ID", value: subscription.id),
                        USPParameterSetting(name: "NotifType", value: subscription.type),
                        USPParameterSetting(name: "ReferenceList", value: subscription.reference),
                        USPParameterSetting(name: "Enable", value: "true"),
                        USPParameterSetting(name: "Persistent", value: "true"),
                    ])
                }
                let answer = try await request(.add(id: nextMessageID(), allowPartial: true, objects: objects), toAgent: key)
                if case .error(let error) = answer.body {
                    throw Fault(usp: error.code, message: error.message)
                }
            }
            let baseline = try await request(.get(id: nextMessageID(), paths: configuration.baselinePaths), toAgent: key)
            let result = try baseline.operationResult()
            let now = Date()
            try await storeValues(of: result, deviceID: deviceID, at: now)
            if let software = result.value(at: "Device.DeviceInfo.SoftwareVersion")?.lexical, let endpoint = agents[key]?.endpoint {
                _ = try? await registry.recordUSPContact(endpoint, identity: nil, details: DeviceDetails(softwareVersion: software), at: now)
            }
        } catch {
            logger.notice("onboarding incomplete", metadata: ["agent": "\(key)", "error": "\(error)"])
            try? await registry.appendEvent(DeviceEvent(
                deviceID: deviceID, at: Date(), kind: "fault", summary: "onboarding incomplete: \(error)", actor: "system"))
        }
    }

    /// The inactive firmware image (`USPPlanner.firmwareImage(in:)`) from what the registry knows
    /// of `Device.DeviceInfo.`; when it knows no image, read them from the agent first (and store
    /// them). Falls back to image 1 when the agent reports none.
    private func firmwareImage(deviceID: Int64, agent key: String) async throws -> String {
        func known() async throws -> [String: String] {
            var values: [String: String] = [:]
            for parameter in try await registry.parameters(deviceID: deviceID, under: "Device.DeviceInfo.") {
                if let value = parameter.value { values[parameter.path] = value.lexical }
            }
            return values
        }
        if let image = USPPlanner.firmwareImage(in: try await known()) { return image }
        let answer = try await request(
            .get(id: nextMessageID(), paths: ["Device.DeviceInfo.ActiveFirmwareImage", "Device.DeviceInfo.FirmwareImage."]), toAgent: key)
        if let result = try? answer.operationResult() { try await storeValues(of: result, deviceID: deviceID, at: Date()) }
        return USPPlanner.firmwareImage(in: try await known()) ?? "Device.DeviceInfo.FirmwareImage.1."
    }

    /// Stores the values a Get returned.
    private func storeValues(of result: OperationResult, deviceID: Int64, at now: Date) async throws {
        try await registry.storeParameters(
            deviceID: deviceID,
            result.entries.compactMap { entry in
                guard case .value(let value) = entry.outcome else { return nil }
                return StoredParameter(path: entry.path, value: value, updatedAt: now)
            }, replacingSubtree: nil)
    }

    static func subscriptionIDs(in response: USPMessage) -> [String] {
        guard case .response(.getResponse(let get)) = response.body else { return [] }
        return get.results.flatMap(\.resolvedPaths).compactMap { $0.parameters["ID"] }
    }

    /// Runs the device's queued tasks one after the other (one runner per agent), when the device is
    /// managed over USP: a dual-stack device still managed over CWMP runs its tasks in CWMP sessions.
    /// Work pinned to USP (a migration's verification) runs whatever the device is managed over.
    private func runTasks(_ key: String) async {
        guard let deviceID = agents[key]?.deviceID else { return }
        // A wake while the runner works is remembered: the runner looks again before it stops.
        guard !running.contains(key) else {
            wokenWhileRunning.insert(key)
            return
        }
        running.insert(key)
        defer { running.remove(key) }
        var observerRounds = 0
        while agents[key]?.online == true {
            wokenWhileRunning.remove(key)
            let claimed = try? await registry.claimNextTask(deviceID: deviceID, at: Date(), over: .usp, unpinned: .whenManagedOverClaimingProtocol)
            guard let task = claimed ?? nil else {
                // Nothing queued: policies and migrations may have work for the connected agent.
                observerRounds += 1
                if observerRounds <= 16, let observer = observers.active, await observer.deviceIdle(deviceID: deviceID, over: .usp) { continue }
                // No await between this check and the end of the runner.
                if wokenWhileRunning.remove(key) != nil { continue }
                return
            }
            await execute(task, agent: key)
        }
    }

    private func execute(_ task: DeviceTask, agent key: String) async {
        let now = Date()
        do {
            var image: String?
            if case .download(let transfer) = task.operation, transfer.kind == .firmware {
                image = try await firmwareImage(deviceID: task.deviceID, agent: key)
            }
            var message = try USPPlanner.plan(task.operation, taskID: task.id, messageID: nextMessageID(), firmwareImage: image)
            var results: [OperationResult] = []
            for step in 0... {
                let response = try await request(message, toAgent: key)
                // Asynchronous commands finish with OperationComplete (handleNotify); the task stays running.
                if USPPlanner.isAsynchronous(response) { return }
                results.append(try response.operationResult())
                guard let next = USPPlanner.followUp(task.operation, step: step, messageID: nextMessageID()) else { break }
                message = next
            }
            let result = USPPlanner.combinedResult(for: task.operation, results: results)
            let (stored, removed) = USPPlanner.registryUpdates(for: task.operation, result: result, at: now)
            for path in removed { try await registry.removeParameters(deviceID: task.deviceID, under: path) }
            try await registry.completeTask(id: task.id, result: result, parameters: stored, at: now)
        } catch let fault as Fault {
            try? await registry.failTask(id: task.id, fault: fault, retry: fault.category == .unreachable, at: now)
        } catch {
            try? await registry.failTask(id: task.id, fault: Fault(category: .internalError, message: "\(error)"), retry: false, at: now)
        }
    }
}
