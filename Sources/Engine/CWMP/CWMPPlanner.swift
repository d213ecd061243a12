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
            try requireConcrete(paths)
            return batches(paths.map(\.description)).map { .getParameterValues(names: $0) }
        case .set(let values, _, let key):
            try requireConcrete(values.map(\.path))
            // TR-069 A.3.2.1: SetParameterValues is atomic; allow_partial has no CWMP equivalent.
            return [.setParameterValues(
                parameters: values.map { CWMPParameterValue(name: $0.path.description, value: $0.value) },
                parameterKey: key ?? "")]
        case .add(let object, _):
            try requireConcrete([object])
            return [.addObject(objectName: object.description, parameterKey: "")]
        case .delete(let objects):
            try requireConcrete(objects)
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
        case .getAttributes(let paths):
            try requireConcrete(paths)
            return batches(paths.map(\.description)).map { .getParameterAttributes(names: $0) }
        case .setAttributes(let settings):
            try requireConcrete(settings.map(\.path))
            // TR-069 A.3.2.4: NotificationChange/AccessListChange false leave that attribute alone.
            return [.setParameterAttributes(parameters: settings.map {
                CWMPSetParameterAttribute(
                    name: $0.path.description, notificationChange: $0.notification != nil, notification: $0.notification?.cwmpValue ?? 0,
                    accessListChange: $0.accessList != nil, accessList: $0.accessList ?? [])
            })]
        case .scheduleDownload(let transfer, let windows):
            // The task's CommandKey comes back in TransferComplete (TR-069 A.4.1.8), as for Download.
            return [.scheduleDownload(ACSRequest.ScheduleDownload(
                commandKey: TaskCommandKey.make(forTask: taskID), fileType: transfer.kind.cwmpFileType(upload: false), url: transfer.url,
                username: transfer.username ?? "", password: transfer.password ?? "", fileSize: transfer.fileSize ?? 0,
                targetFileName: transfer.targetFileName ?? "",
                timeWindows: windows.map {
                    ACSRequest.TimeWindow(
                        windowStart: $0.start, windowEnd: $0.end, windowMode: $0.mode.cwmpValue, userMessage: $0.userMessage ?? "",
                        maxRetries: $0.maxRetries ?? -1)
                }))]
        case .cancelTransfer(let key):
            return [.cancelTransfer(commandKey: key)]
        case .changeDUState(let operations):
            // Completion comes in DUStateChangeComplete with this CommandKey.
            return [.changeDUState(ACSRequest.ChangeDUState(
                operations: operations.map { operation -> ACSRequest.DUOperation in
                    switch operation {
                    case .install(let url, let uuid, let username, let password, let ref):
                        .install(url: url, uuid: uuid ?? "", username: username ?? "", password: password ?? "", executionEnvRef: ref ?? "")
                    case .update(let uuid, let version, let url, let username, let password):
                        .update(uuid: uuid ?? "", version: version ?? "", url: url ?? "", username: username ?? "", password: password ?? "")
                    case .uninstall(let uuid, let version, let ref):
                        .uninstall(uuid: uuid, version: version ?? "", executionEnvRef: ref ?? "")
                    }
                },
                commandKey: TaskCommandKey.make(forTask: taskID)))]
        case .supportedMethods:
            return [.getRPCMethods]
        }
    }

    private func batches(_ names: [String]) -> [[String]] {
        stride(from: 0, to: names.count, by: getBatchSize).map { Array(names[$0..<min($0 + getBatchSize, names.count)]) }
    }

    private func requireConcrete(_ paths: [PathExpression]) throws(Fault) {
        for path in paths where !path.isConcrete {
            throw Fault(category: .notSupported, message: "\(path): CWMP RPCs take concrete paths; expand wildcards and searches first (expand(_:names:values:))")
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

    /// Whether the task waits for a later CPE request after this response: TransferComplete after a
    /// Download or Upload answered with Status 1 (TR-069 A.3.2.8) and after every ScheduleDownload
    /// (A.4.1.8), DUStateChangeComplete after ChangeDUState.
    public static func awaitsTransferComplete(_ response: CPEResponse) -> Bool {
        switch response {
        case .download(let status), .upload(let status): status.status == 1
        case .scheduleDownload, .changeDUState: true
        default: false
        }
    }
}
