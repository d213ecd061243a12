import Foundation
import Registry
import TandemCore
import USP

/// Turns neutral operations into USP requests (protocol digest D.3) and responses into registry
/// updates.
public enum USPPlanner {
    /// The request for `operation`.
    public static func plan(_ operation: TandemCore.Operation, taskID: Int64, messageID: String) throws(Fault) -> USPMessage {
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
                return .operate(id: messageID, command: "Device.DeviceInfo.FirmwareImage.2.Download()", commandKey: transfer.commandKey ?? key, inputArguments: input)
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
        default:
            return try USPMessage(id: messageID, operation: operation)
        }
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
