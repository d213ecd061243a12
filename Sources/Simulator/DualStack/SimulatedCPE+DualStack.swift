import Foundation
import Logging
import TandemCore
import USP
import USPAgentSimulator

/// How a dual-stack device's USP agent behaves (`SimulatedCPE.Configuration.dualStack`).
public struct DualStackOptions: Sendable, Hashable {
    public enum AgentBehaviour: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// Connects once configured, on-boards, answers every request.
        case normal
        /// Accepts the configuration over CWMP but never connects (a device whose migration must
        /// be rolled back).
        case neverConnects = "never-connects"
        /// Connects and sends its OnBoardRequest, but never answers a Get.
        case ignoresGets = "ignores-gets"

        public var description: String { rawValue }
    }

    public var agentBehaviour: AgentBehaviour
    /// The wait between connection attempts of the USP agent (broker or Controller unreachable,
    /// connection lost).
    public var reconnectDelay: Duration

    public init(agentBehaviour: AgentBehaviour = .normal, reconnectDelay: Duration = .seconds(2)) {
        self.agentBehaviour = agentBehaviour
        self.reconnectDelay = reconnectDelay
    }
}

/// Where a dual-stack device's USP agent stands.
public enum USPAgentState: String, Sendable, Hashable, CustomStringConvertible {
    /// Not a dual-stack device, or no complete and enabled USP configuration.
    case off
    /// Configured; not (or no longer) connected to its Controller.
    case connecting
    /// The MTP is up.
    case connected

    public var description: String { rawValue }
}

/// A dual-stack device's USP agent, for tests and demos.
public struct USPAgentStatus: Sendable, Hashable {
    public var state: USPAgentState
    /// What the ACS configured, once complete.
    public var target: USPAgentTarget?
    /// `Device.USPAgent.EndpointID` (`os::<OUI>-<Serial>`, TR-369 R-ARC.2a).
    public var endpointID: String
    /// Agents started (one per configuration, and again after a reboot).
    public var starts: Int
    /// `Controller.{k}.SendOnBoardRequest` set true over CWMP.
    public var onBoardRequestsAsked: Int
    /// Notify OnBoardRequest messages sent, and answered by the Controller.
    public var onBoardRequestsSent: Int
    public var onBoardRequestsAnswered: Int
}

extension SimulatedCPE {
    // MARK: Observation

    /// The USP agent's state and counters.
    public func uspAgentStatus() -> USPAgentStatus {
        USPAgentStatus(
            state: uspState, target: uspTarget, endpointID: model.value(root + "USPAgent.EndpointID")?.lexical ?? "", starts: usp.starts,
            onBoardRequestsAsked: usp.onBoardAsked, onBoardRequestsSent: usp.onBoardSent, onBoardRequestsAnswered: usp.onBoardAnswered)
    }

    /// Waits until `condition` holds for the USP agent's status and returns it.
    public func waitForUSPAgent(timeout: Duration = .seconds(30), _ condition: @Sendable (USPAgentStatus) -> Bool) async throws -> USPAgentStatus {
        try await poll(uspAgentStatus, timeout: timeout, condition)
    }

    /// A USP request answered against this device's data model, as its agent answers it (for
    /// tests that need no MTP).
    public func handleUSPRequest(_ request: USPMessage.Request) -> USPMessage.Body {
        withUSPModel { model in
            var handler = AgentRequestHandler(model: model)
            defer { model = handler.model }
            return handler.handle(request).0
        }
    }

    // MARK: Configuration written

    /// After ACS (or Controller) writes: `SendOnBoardRequest` taken as a command (it reads back
    /// false), and the agent's target re-evaluated.
    func uspConfigurationWritten(_ writes: [DataModelWrite]) {
        guard configuration.dualStack != nil else { return }
        for write in writes {
            guard case .parameter(let path, _, .boolean(true)) = write, path.hasPrefix(root + "USPAgent.Controller."),
                path.hasSuffix(".SendOnBoardRequest")
            else { continue }
            // TR-181: a CWMP command parameter; reading it returns false.
            model.set(path, .boolean(false))
            usp.onBoardAsked += 1
            usp.onBoardPending = true
        }
        reevaluateUSPTarget()
        uspSignal.signal()
    }

    /// Recomputes where the agent connects; a change restarts (or stops) it.
    func reevaluateUSPTarget() {
        guard configuration.dualStack != nil else { return }
        let target = phase == .rebooting || phase == .stopped ? nil : USPAgentTarget.find(in: model)
        guard target != uspTarget else { return }
        uspTarget = target
        usp.generation += 1
        uspState = target == nil ? .off : .connecting
        if let target {
            logger.info("USP agent configured: \(target)")
        } else {
            logger.info("USP agent off")
        }
        uspSignal.signal()
    }

    // MARK: Running the agent

    /// Runs the USP agent whenever the configuration is complete, restarting it when the
    /// configuration changes, until cancelled.
    nonisolated func superviseUSPAgent(_ options: DualStackOptions) async {
        while !Task.isCancelled {
            guard let started = await makeUSPAgent(options) else {
                _ = await uspSignal.wait(until: nil)
                continue
            }
            let (generation, agent) = started
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.keepConnected(agent, options) }
                group.addTask { await self.forwardOnBoardRequests(to: agent, generation: generation) }
                await group.next()
                group.cancelAll()
            }
            await uspAgentStopped(generation: generation)
        }
    }

    private func makeUSPAgent(_ options: DualStackOptions) -> (Int, SimulatedAgent)? {
        guard let target = uspTarget else { return nil }
        let endpointID = model.value(root + "USPAgent.EndpointID")?.lexical ?? ""
        let identity = SimulatedAgent.Identity(
            oui: configuration.profile.oui, productClass: configuration.profile.productClass, serialNumber: serialNumber,
            softwareVersion: model.value(root + "DeviceInfo.SoftwareVersion")?.lexical ?? "", endpointID: try? EndpointID(endpointID, strictLength: false))
        usp.starts += 1
        usp.onBoardForwarded = usp.onBoardAsked
        var agentLogger = logger
        agentLogger[metadataKey: "usp.agent"] = "\(endpointID)"
        let agent = SimulatedAgent(
            identity: identity, controllerEndpointID: target.controllerEndpointID, mtp: target.agentMTP,
            dataModel: DeviceAgentBridge(device: self, generation: usp.generation), sendOnBoardRequest: usp.onBoardPending,
            behaviour: options.agentBehaviour == .ignoresGets ? .ignoresGets : .normal, logger: agentLogger)
        return (usp.generation, agent)
    }

    /// Connects, and reconnects after `reconnectDelay` whenever the connection ends or fails.
    private nonisolated func keepConnected(_ agent: SimulatedAgent, _ options: DualStackOptions) async {
        guard options.agentBehaviour != .neverConnects else {
            // Accepts the configuration, never dials out.
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            return
        }
        while !Task.isCancelled {
            do {
                try await agent.run()
            } catch {
                logger.debug("USP agent connection failed: \(error)")
            }
            try? await Task.sleep(for: options.reconnectDelay)
        }
    }

    /// Returns when the configuration changed; meanwhile hands new on-boarding requests to the agent.
    private nonisolated func forwardOnBoardRequests(to agent: SimulatedAgent, generation: Int) async {
        while !Task.isCancelled {
            _ = await uspSignal.wait(until: nil)
            switch await uspChange(since: generation) {
            case .restart: return
            case .onBoard: await agent.requestOnBoarding()
            case .none: continue
            }
        }
    }

    private enum USPChange { case none, onBoard, restart }

    private func uspChange(since generation: Int) -> USPChange {
        if usp.generation != generation { return .restart }
        if usp.onBoardAsked > usp.onBoardForwarded {
            usp.onBoardForwarded = usp.onBoardAsked
            return .onBoard
        }
        return .none
    }

    private func uspAgentStopped(generation: Int) {
        guard usp.generation == generation else { return }
        uspState = uspTarget == nil ? .off : .connecting
    }

    /// Events of the agent started for `generation`; those of a replaced agent are ignored.
    func uspAgentEvent(_ event: AgentEvent, generation: Int) {
        guard usp.generation == generation else { return }
        switch event {
        case .connected:
            uspState = .connected
            setUSPStatus(up: true)
        case .disconnected:
            uspState = uspTarget == nil ? .off : .connecting
            setUSPStatus(up: false)
        case .onBoardRequestSent:
            usp.onBoardSent += 1
        case .onBoardRequestAnswered:
            usp.onBoardAnswered += 1
            usp.onBoardPending = false
        }
    }

    /// The Status parameters of the agent MTP and its MQTT client or STOMP connection.
    private func setUSPStatus(up: Bool) {
        guard let target = uspTarget else { return }
        if let mtp = target.agentMTPPath {
            model.set(mtp + "Status", .string(up ? "Up" : "Down"))
            if case .mqtt(_, _, _, _, _, _, _, let agentTopic) = target.transport {
                model.set(mtp + "MQTT.ResponseTopicDiscovered", .string(up ? agentTopic : ""))
            }
        }
        if let connection = target.connectionPath {
            let status = switch target.transport {
            case .mqtt: up ? "Connected" : "Connecting"
            default: up ? "Enabled" : "Connecting"
            }
            model.set(connection + "Status", .string(status))
        }
    }

    /// Runs `body` on the USP view of the data model and reacts to what it wrote as to ACS writes.
    func withUSPModel<T: Sendable>(_ body: @Sendable (inout any USPAgentModel) -> T) -> T {
        refreshDynamicValues()
        var view: any USPAgentModel = DeviceUSPView(model: model, extras: usp.extras)
        let result = body(&view)
        guard let changed = view as? DeviceUSPView else { return result }
        model = changed.model
        usp.extras = changed.extras
        if !changed.writes.isEmpty { applied(changed.writes) }
        return result
    }
}

/// The dual-stack device's state of its USP side (stored in the device).
struct USPSideState {
    /// Bumped whenever the target changes: the running agent is replaced.
    var generation = 0
    var starts = 0
    var onBoardAsked = 0
    var onBoardForwarded = 0
    /// An OnBoardRequest is due until the Controller answers one (R-NOT.5-7).
    var onBoardPending = false
    var onBoardSent = 0
    var onBoardAnswered = 0
    /// USP-only tables (`Device.LocalAgent.Subscription.`, `Request.`).
    var extras = DeviceUSPView.factoryExtras
}

/// Lends a dual-stack device's data model to its `SimulatedAgent`.
struct DeviceAgentBridge: AgentDataModelProvider {
    let device: SimulatedCPE
    let generation: Int

    func withModel<T: Sendable>(_ body: @Sendable (inout any USPAgentModel) -> T) async -> T {
        await device.withUSPModel(body)
    }

    func agentEvent(_ event: AgentEvent) async {
        await device.uspAgentEvent(event, generation: generation)
    }
}
