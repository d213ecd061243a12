import TandemCore

extension OperationResult {
    /// The neutral result of a CPE's response to an ACS request.
    ///
    /// - GetParameterValues: one value per parameter, with its type.
    /// - GetParameterNames: one entry per name with its writability.
    /// - SetParameterValues: one `done` entry per written parameter; Status 1 sets `pendingReboot`.
    /// - AddObject: `createdObject` is the object name with the new instance number; Status 1 sets
    ///   `pendingReboot`.
    /// - DeleteObject: one `done` entry; Status 1 sets `pendingReboot`.
    /// - Download/Upload: `outputArguments` `Status`, `StartTime`, `CompleteTime`.
    /// - GetParameterAttributes: one `done` entry per parameter with its notification and access list.
    /// - SetParameterAttributes: one `done` entry per parameter written.
    /// - GetRPCMethods: `outputArguments` `MethodList`, the methods comma-separated.
    /// - Anything else: an empty result.
    public init(request: ACSRequest, response: CPEResponse) {
        self.init()
        switch (request, response) {
        case (_, .getParameterValues(let parameters)):
            entries = parameters.map { PathResult(path: $0.name, outcome: .value($0.value)) }
        case (_, .getParameterNames(let parameters)):
            entries = parameters.map { PathResult(path: $0.name, outcome: .done, writable: $0.writable) }
        case (.setParameterValues(let parameters, _), .setParameterValues(let status)):
            entries = parameters.map { PathResult(path: $0.name, outcome: .done) }
            pendingReboot = status == 1
        case (.addObject(let objectName, _), .addObject(let instance, let status)):
            let base = objectName.hasSuffix(".") ? objectName : objectName + "."
            createdObject = "\(base)\(instance)."
            pendingReboot = status == 1
        case (.deleteObject(let objectName, _), .deleteObject(let status)):
            entries = [PathResult(path: objectName, outcome: .done)]
            pendingReboot = status == 1
        case (_, .getParameterAttributes(let parameters)):
            entries = parameters.map { PathResult(path: $0.name, outcome: .done, notification: $0.notification, accessList: $0.accessList) }
        case (.setParameterAttributes(let parameters), .setParameterAttributes):
            entries = parameters.map { PathResult(path: $0.name, outcome: .done) }
        case (_, .getRPCMethods(let methods)):
            outputArguments = ["MethodList": methods.joined(separator: ",")]
        case (_, .download(let transfer)), (_, .upload(let transfer)):
            outputArguments = ["Status": String(transfer.status), "StartTime": transfer.startTime.text, "CompleteTime": transfer.completeTime.text]
        default:
            break
        }
    }

    /// The per-parameter faults of a SetParameterValues fault (TR-069 A.3.2.1); empty for any other
    /// fault, whose code applies to the whole operation (`CWMPFault.fault`).
    public init(fault: CWMPFault) {
        self.init(entries: fault.parameterFaults.map {
            PathResult(path: $0.parameterName, outcome: .fault(Fault(cwmp: $0.code, message: $0.message)))
        })
    }
}
