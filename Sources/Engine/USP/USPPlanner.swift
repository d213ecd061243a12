import Foundation
import Registry
import TandemCore
import USP

/// Turns neutral operations into USP requests (protocol digest D.3) and responses into registry
/// updates.
public enum USPPlanner {
    /// The request for `operation` (the first, for operations that take several: see `followUp`).
    /// `firmwareImage` is the `Device.DeviceInfo.FirmwareImage.{i}.` a firmware download goes to
    /// (see `firmwareImage(in:)`); without it, image 1.
    public static func plan(
        _ operation: TandemCore.Operation, taskID: Int64, messageID: String, firmwareImage: String? = nil
    ) throws(Fault) -> USPMessage {
        let key = TaskCommandKey.make(forTask: taskID)
        switch operation {
        case .operate(let command, let input, let commandKey):
            return .operate(id: messageID, command: command.description, commandKey: commandKey ?? key, inputArguments: input)
        case .reboot(let commandKey):
            return .operate(id: messageID, command: "Device.Reboot()", commandKey: commandKey ?? key)
        case .download(let transfer):
            // Firmware goes to an inactive image bank and is activated automatically
            // (TR-181 Device.DeviceInfo.FirmwareImage.{i}.Download()); configuration files restore
            // through VendorConfigFile.{i}.Restore().
            var input = ["URL": transfer.url]
            if let username = transfer.username { input["Username"] = username }
            if let password = transfer.password { input["Password"] = password }
            if let size = transfer.fileSize { input["FileSize"] = String(size) }
            switch transfer.kind {
            case .firmware:
                input["AutoActivate"] = "true"
                let image = firmwareImage ?? "Device.DeviceInfo.FirmwareImage.1."
                return .operate(id: messageID, command: image + "Download()", commandKey: transfer.commandKey ?? key, inputArguments: input)
            case .configuration:
                return .operate(id: messageID, command: "Device.DeviceInfo.VendorConfigFile.1.Restore()", commandKey: transfer.commandKey ?? key, inputArguments: input)
            default:
                throw Fault(category: .notSupported, message: "downloads of \(transfer.kind.rawValue) files have no USP command")
            }
        case .upload(let transfer):
            var input = ["URL": transfer.url]
            if let username = transfer.username { input["Username"] = username }
            if let password = transfer.password { input["Password"] = password }
            switch transfer.kind {
            case .configuration:
                return .operate(id: messageID, command: "Device.DeviceInfo.VendorConfigFile.1.Backup()", commandKey: transfer.commandKey ?? key, inputArguments: input)
            case .log:
                return .operate(id: messageID, command: "Device.DeviceInfo.VendorLogFile.1.Upload()", commandKey: transfer.commandKey ?? key, inputArguments: input)
            default:
                throw Fault(category: .notSupported, message: "uploads of \(transfer.kind.rawValue) files have no USP command")
            }
        case .scheduleInform(let delay, let commandKey):
            return .operate(id: messageID, command: "Device.ScheduleTimer()", commandKey: commandKey ?? key, inputArguments: ["DelaySeconds": String(delay)])
        case .getAttributes:
            throw Fault(
                category: .notSupported,
                message: "USP has no parameter attributes; notifications are subscriptions (get Device.LocalAgent.Subscription.)")
        case .setAttributes(let settings):
            // Protocol digest D.3: notification attributes become ValueChange subscriptions. First
            // remove Tandem's subscriptions for these paths (a search matching nothing succeeds),
            // then `followUp` adds the ones turned on.
            for setting in settings where setting.accessList != nil {
                throw Fault(category: .notSupported, message: "\(setting.path): USP has no AccessList; write permissions are ControllerTrust roles")
            }
            for setting in settings where setting.notification == nil {
                throw Fault(category: .invalidArguments, message: "\(setting.path): setAttributes over USP needs a notification (off, passive or active)")
            }
            return .delete(id: messageID, allowPartial: true, objectPaths: settings.map { subscriptionSearch(for: $0.path) })
        case .scheduleDownload:
            throw Fault(
                category: .notSupported,
                message: "USP has no scheduled download; use download (FirmwareImage.{i}.Download()) and the image's Activate() time windows")
        case .cancelTransfer(let commandKey):
            // Protocol digest D.3: the Request object of the running command.
            return .operate(id: messageID, command: "Device.LocalAgent.Request.[CommandKey==\"\(commandKey)\"].Cancel()", commandKey: key)
        case .changeDUState(let operations):
            guard operations.count == 1, let operation = operations.first else {
                throw Fault(
                    category: .invalidArguments,
                    message: "over USP a task carries one deployment-unit operation (InstallDU(), Update() or Uninstall()); submit one task per unit")
            }
            return try duOperate(operation, messageID: messageID, commandKey: key)
        default:
            return try USPMessage(id: messageID, operation: operation)
        }
    }

    /// The request that follows the first one's response, or nil when the task is complete: after
    /// setAttributes' Delete, the Add of the ValueChange subscriptions turned on.
    public static func followUp(_ operation: TandemCore.Operation, step: Int, messageID: String) -> USPMessage? {
        guard case .setAttributes(let settings) = operation, step == 0 else { return nil }
        let on = settings.filter { $0.notification != nil && $0.notification != .off }
        guard !on.isEmpty else { return nil }
        return .add(id: messageID, allowPartial: false, objects: on.map { setting in
            USPAdd.CreateObject(objectPath: "Device.LocalAgent.Subscription.", settings: [
                USPParameterSetting(name: "ID", value: subscriptionID(for: setting.path)),
                USPParameterSetting(name: "NotifType", value: "ValueChange"),
                USPParameterSetting(name: "ReferenceList", value: setting.path.description),
                USPParameterSetting(name: "Enable", value: "true"),
                USPParameterSetting(name: "Persistent", value: "true"),
            ])
        })
    }

    /// The neutral result of an operation that took several requests, when the requests' own results
    /// are not what the operator asked about: setAttributes gives one `done` entry per path with the
    /// notification now in force (USP knows no passive notification: both passive and active are a
    /// ValueChange subscription).
    public static func combinedResult(for operation: TandemCore.Operation, results: [OperationResult]) -> OperationResult {
        guard case .setAttributes(let settings) = operation else { return results.last ?? OperationResult() }
        return OperationResult(entries: settings.map {
            PathResult(path: $0.path.description, outcome: .done, notification: $0.notification?.cwmpValue)
        })
    }

    /// The `ID` of the ValueChange subscription Tandem keeps for `path`.
    public static func subscriptionID(for path: PathExpression) -> String { "tandem-attr-" + path.description }

    static func subscriptionSearch(for path: PathExpression) -> String {
        "Device.LocalAgent.Subscription.[ID==\"\(subscriptionID(for: path))\"]."
    }

    /// The Operate for one deployment-unit change (protocol digest D.3, TR-181 SoftwareModules).
    static func duOperate(_ operation: DeploymentUnitOperation, messageID: String, commandKey: String) throws(Fault) -> USPMessage {
        func arguments(_ pairs: [(String, String?)]) -> [String: String] {
            var input: [String: String] = [:]
            for (name, value) in pairs { if let value, !value.isEmpty { input[name] = value } }
            return input
        }
        switch operation {
        case .install(let url, let uuid, let username, let password, let ref):
            return .operate(
                id: messageID, command: "Device.SoftwareModules.InstallDU()", commandKey: commandKey,
                inputArguments: arguments([("URL", url), ("UUID", uuid), ("Username", username), ("Password", password), ("ExecutionEnvRef", ref)]))
        case .update(let uuid, _, let url, let username, let password):
            guard let uuid, !uuid.isEmpty else {
                throw Fault(category: .invalidArguments, message: "a USP update names the deployment unit by its UUID")
            }
            return .operate(
                id: messageID, command: "Device.SoftwareModules.DeploymentUnit.[UUID==\"\(uuid)\"].Update()", commandKey: commandKey,
                inputArguments: arguments([("URL", url), ("Username", username), ("Password", password)]))
        case .uninstall(let uuid, _, _):
            return .operate(id: messageID, command: "Device.SoftwareModules.DeploymentUnit.[UUID==\"\(uuid)\"].Uninstall()", commandKey: commandKey)
        }
    }

    /// The firmware image a download should go to, from the device's parameters (path to value):
    /// an image other than `Device.DeviceInfo.ActiveFirmwareImage`, preferring one whose Status is
    /// not `Active` and, among those, the lowest instance; on a single-bank device (one image) that
    /// image (protocol digest B.12: single-bank devices download onto the active image with
    /// AutoActivate). Nil when the parameters name no image.
    public static func firmwareImage(in parameters: [String: String]) -> String? {
        let prefix = "Device.DeviceInfo.FirmwareImage."
        var images: Set<UInt32> = []
        for path in parameters.keys where path.hasPrefix(prefix) {
            if let number = path.dropFirst(prefix.count).split(separator: ".").first.flatMap({ UInt32($0) }) { images.insert(number) }
        }
        guard !images.isEmpty else { return nil }
        let active = parameters["Device.DeviceInfo.ActiveFirmwareImage"].map { $0.hasSuffix(".") ? $0 : $0 + "." }
        let candidates = images.sorted().filter { "\(prefix)\($0)." != active && parameters["\(prefix)\($0).Status"] != "Active" }
        return "\(prefix)\(candidates.first ?? images.sorted().first!)."
    }

    /// Whether the response means the command runs on asynchronously (its result comes in a Notify
    /// OperationComplete, R-OPR.0).
    public static func isAsynchronous(_ response: USPMessage) -> Bool {
        guard case .response(.operateResponse(let operate)) = response.body else { return false }
        return operate.results.contains { if case .requestObject = $0.outcome { true } else { false } }
    }

    /// What a completed operation teaches the registry: values to store, subtrees to remove.
    public static func registryUpdates(for operation: TandemCore.Operation, result: OperationResult, at now: Date) -> ([StoredParameter], [String]) {
        switch operation {
        case .get:
            return (result.entries.compactMap { entry in
                guard case .value(let value) = entry.outcome else { return nil }
                return StoredParameter(path: entry.path, value: value, updatedAt: now)
            }, [])
        case .set(let values, _, _):
            let failed = Set(result.faults.isEmpty ? [] : result.entries.filter { if case .fault = $0.outcome { true } else { false } }.map(\.path))
            return (values.filter { !failed.contains($0.path.description) }.map {
                StoredParameter(path: $0.path.description, value: $0.value, updatedAt: now)
            }, [])
        case .add(_, let parameters):
            guard let created = result.createdObject else { return ([], []) }
            var stored = parameters.map { setting -> StoredParameter in
                let relative = setting.path.description
                return StoredParameter(path: created + relative, value: setting.value, updatedAt: now)
            }
            for entry in result.entries where entry.path.hasPrefix(created) {
                if case .value(let value) = entry.outcome { stored.append(StoredParameter(path: entry.path, value: value, updatedAt: now)) }
            }
            return (stored, [])
        case .delete(let objects):
            return ([], objects.map(\.description))
        default:
            return ([], [])
        }
    }
}
