import CWMP
import Foundation
import Registry
import TandemCore

extension CWMPSessionManager {
    /// A task's first RPCs, and the operation they carry out once wildcards and searches are expanded.
    struct PlannedTask {
        var operation: TandemCore.Operation
        var requests: [ACSRequest]
        /// Subtrees the first request reads to expand the operation's expressions.
        var refreshing: [String]?
    }

    /// Plans a task. Wildcards and searches expand against the registry's tree under each
    /// expression's concrete prefix when the registry knows it (names, and the values searches
    /// test); otherwise the first request reads those subtrees (GetParameterValues gives names and
    /// values in one round trip) and the real RPCs follow within the same session. No requests
    /// means the expressions match nothing.
    func plan(_ operation: TandemCore.Operation, taskID: Int64, deviceID: Int64) async throws(Fault) -> PlannedTask {
        guard CWMPPlanner.needsExpansion(operation) else {
            return PlannedTask(operation: operation, requests: try configuration.planner.plan(operation, taskID: taskID))
        }
        try operation.validate()
        var names: Set<String> = []
        var values: [String: TypedValue] = [:]
        for prefix in CWMPPlanner.refreshPrefixes(operation) {
            let known: [StoredParameter]
            do { known = try await registry.parameters(deviceID: deviceID, under: prefix) } catch {
                throw Fault(category: .internalError, message: "registry unavailable: \(error)")
            }
            for parameter in known {
                names.insert(parameter.path)
                if let value = parameter.value { values[parameter.path] = value }
            }
        }
        switch try CWMPPlanner.expand(operation, names: names, values: values, fresh: false) {
        case .concrete(let concrete):
            return PlannedTask(operation: concrete, requests: try configuration.planner.plan(concrete, taskID: taskID))
        case .nothing:
            return PlannedTask(operation: operation, requests: [])
        case .refresh(let prefixes):
            return PlannedTask(operation: operation, requests: [.getParameterValues(names: prefixes)], refreshing: prefixes)
        }
    }

    /// DUStateChangeComplete with a Tandem CommandKey completes the ChangeDUState task: one entry per
    /// deployment unit (its state, or its fault), the units' details in `outputArguments`
    /// (`DU.{n}.UUID`, `.DeploymentUnitRef`, `.Version`, `.CurrentState`, `.Resolved`).
    func completeDUStateChange(_ complete: CPERequest.DUStateChangeComplete, deviceID: Int64?) async {
        let now = Date()
        guard let key = complete.commandKey, let taskID = TaskCommandKey.taskID(in: key), let task = try? await registry.task(id: taskID),
            task.deviceID == deviceID, !task.state.isFinal
        else {
            try? await registry.appendEvent(DeviceEvent(
                deviceID: deviceID, at: now, kind: "softwareModules",
                summary: "DUStateChangeComplete for unknown CommandKey \(complete.commandKey ?? "")", actor: "device"))
            return
        }
        var result = OperationResult()
        for (index, unit) in complete.results.enumerated() {
            let path = unit.deploymentUnitRef.isEmpty ? unit.uuid : unit.deploymentUnitRef
            let outcome: PathResult.Outcome =
                unit.fault.code.rawValue == 0
                ? .value(.string(unit.currentState)) : .fault(Fault(cwmp: unit.fault.code, message: unit.fault.message))
            result.entries.append(PathResult(path: path, outcome: outcome))
            let prefix = "DU.\(index + 1)."
            result.outputArguments[prefix + "UUID"] = unit.uuid
            result.outputArguments[prefix + "DeploymentUnitRef"] = unit.deploymentUnitRef
            result.outputArguments[prefix + "Version"] = unit.version
            result.outputArguments[prefix + "CurrentState"] = unit.currentState
            result.outputArguments[prefix + "Resolved"] = unit.resolved ? "true" : "false"
        }
        let summary = complete.results.map { "\($0.uuid) \($0.currentState)" }.joined(separator: ", ")
        try? await registry.appendEvent(DeviceEvent(
            deviceID: deviceID, at: now, kind: "softwareModules", summary: "task \(taskID): \(summary)", actor: "device",
            detail: ["task": String(taskID)]))
        // Faults are per unit, as the CPE reports them; the task itself is done.
        try? await registry.completeTask(id: taskID, result: result, parameters: [], at: now)
    }
}
