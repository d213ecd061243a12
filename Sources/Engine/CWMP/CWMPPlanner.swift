import CWMP
import TandemCore

/// Turns neutral operations into CWMP RPCs (protocol digest D.3), one task at a time. A task may take
/// several RPCs: GetParameterValues in batches, one DeleteObject per object, AddObject followed by a
/// SetParameterValues of the new instance's parameters.
public struct CWMPPlanner: Sendable {
    /// Names per GetParameterValues request; large devices answer big requests slowly or not at all.
    public var getBatchSize: Int

    public init(getBatchSize: Int = 64) {
        self.getBatchSize = max(1, getBatchSize)
    }

    /// The RPCs that start `operation`; later steps may be planned from responses (`followUp`).
    public func plan(_ operation: TandemCore.Operation, taskID: Int64) throws(Fault) -> [ACSRequest] {
        try operation.validate()
        switch operation {
        case .get(let paths):
            for path in paths where !path.isConcrete {
                throw Fault(
                    category: .notSupported,
                    message: "\(path): wildcards, searches and references on CWMP devices need the registry's tree (operations issue)")
            }
            let names = paths.map(\.description)
            return stride(from: 0, to: names.count, by: getBatchSize).map {
                .getParameterValues(names: Array(names[$0..<min($0 + getBatchSize, names.count)]))
            }
        case .set(let values, _, let key):
            for setting in values where !setting.path.isConcrete {
                throw Fault(category: .notSupported, message: "\(setting.path): CWMP sets need concrete parameter paths")
            }
            // TR-069 A.3.2.1: SetParameterValues is atomic; allow_partial has no CWMP equivalent.
            return [.setParameterValues(
                parameters: values.map { CWMPParameterValue(name: $0.path.description, value: $0.value) },
                parameterKey: key ?? "")]
        case .add(let object, _):
            guard object.isConcrete else { throw Fault(category: .notSupported, message: "\(object): AddObject needs a concrete table path") }
            return [.addObject(objectName: object.description, parameterKey: "")]
        case .delete(let objects):
            for object in objects where !object.isConcrete {
                throw Fault(category: .notSupported, message: "\(object): DeleteObject needs a concrete instance path")
            }
            return objects.map { .deleteObject(objectName: $0.description, parameterKey: "") }
        case .operate(let command, _, let key):
            switch command.description {
            case "Device.Reboot()": return [.reboot(commandKey: key ?? TaskCommandKey.make(forTask: taskID))]
            case "Device.FactoryReset()": return [.factoryReset]
            default:
                throw Fault(category: .notSupported, message: "\(command) has no CWMP equivalent yet (operations issue)")
            }
        case .reboot(let key):
            return [.reboot(commandKey: key ?? TaskCommandKey.make(forTask: taskID))]
        case .factoryReset:
            return [.factoryReset]
        case .download(var transfer):
            transfer.commandKey = TaskCommandKey.make(forTask: taskID)
            return [.download(ACSRequest.Download(transfer))]
        case .upload(var transfer):
            transfer.commandKey = TaskCommandKey.make(forTask: taskID)
            return [.upload(ACSRequest.Upload(transfer))]
        case .scheduleInform(let delay, let key):
            return [.scheduleInform(delaySeconds: delay, commandKey: key ?? TaskCommandKey.make(forTask: taskID))]
        case .discover(let object, let nextLevel):
            guard object.isConcrete else { throw Fault(category: .notSupported, message: "\(object): GetParameterNames needs a concrete path") }
            return [.getParameterNames(path: object.description, nextLevel: nextLevel)]
        }
    }

    /// Requests that follow a response within the same task: after AddObject, the new instance's
    /// parameters.
    public func followUp(_ operation: TandemCore.Operation, after request: ACSRequest, response: CPEResponse) -> [ACSRequest] {
        guard case .add(let object, let parameters) = operation, !parameters.isEmpty,
            case .addObject = request, case .addObject(let instance, _) = response
        else { return [] }
        let base = object.description
        return [.setParameterValues(
            parameters: parameters.map { CWMPParameterValue(name: "\(base)\(instance).\($0.path.description)", value: $0.value) },
            parameterKey: "")]
    }

    /// Whether the task waits for a TransferComplete after this response (Download or Upload answered
    /// with Status 1, TR-069 A.3.2.8).
    public static func awaitsTransferComplete(_ response: CPEResponse) -> Bool {
        switch response {
        case .download(let status), .upload(let status): status.status == 1
        default: false
        }
    }
}
