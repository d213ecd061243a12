import Foundation
import TandemCore
import USP

/// Where a `SimulatedAgent` keeps its data model. The stand-alone agent owns one
/// (`AgentModelStore`); a dual-stack CPE lends the agent a USP view of the tree its CWMP side
/// serves, so that a USP Set is seen by the ACS and an ACS write by the USP Controller.
public protocol AgentDataModelProvider: Sendable {
    /// Runs `body` on the model, exclusively, and applies what it changed.
    func withModel<T: Sendable>(_ body: @Sendable (inout any USPAgentModel) -> T) async -> T

    /// What happened to the agent (link up or down, OnBoardRequest sent or answered).
    func agentEvent(_ event: AgentEvent) async
}

extension AgentDataModelProvider {
    public func agentEvent(_ event: AgentEvent) async {}
}

/// What a `SimulatedAgent` reports to its `AgentDataModelProvider`.
public enum AgentEvent: Sendable, Hashable {
    /// The MTP is up and the agent can reach its Controller.
    case connected
    case disconnected
    /// A Notify OnBoardRequest (send_resp true) went out.
    case onBoardRequestSent
    /// The Controller answered the OnBoardRequest with a NotifyResp.
    case onBoardRequestAnswered
}

/// A stand-alone agent's own data model.
public actor AgentModelStore: AgentDataModelProvider {
    private var model: any USPAgentModel

    public init(model: any USPAgentModel) { self.model = model }

    public func withModel<T: Sendable>(_ body: @Sendable (inout any USPAgentModel) -> T) async -> T {
        body(&model)
    }
}

extension USPAgentModel {
    /// The ID of an enabled subscription of `type` whose ReferenceList covers `path`.
    func subscription(type: String, covering path: String) -> String? {
        for row in instances(of: "Device.LocalAgent.Subscription.") {
            guard value(row + "NotifType") == type, value(row + "Enable") == "true" else { continue }
            let references = (value(row + "ReferenceList") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            if references.contains(where: { path == $0 || ($0.hasSuffix(".") && path.hasPrefix($0)) }) {
                return value(row + "ID") ?? ""
            }
        }
        return nil
    }
}
