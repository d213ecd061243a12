import Foundation
import TandemCore
import USP

/// Something an agent does after answering a request.
public enum AgentFollowUp: Sendable, Equatable {
    /// `Device.Reboot()` / `Device.FactoryReset()`: go away and come back with Boot!.
    case reboot(commandKey: String, cause: String)
    /// An asynchronous command finishes: Notify OperationComplete.
    case complete(command: String, commandKey: String, output: [String: String])
    /// Parameters changed (for ValueChange subscriptions).
    case changed([String])
    /// `VendorConfigFile.{i}.Backup()` / `VendorLogFile.{i}.Upload()`: PUT `body` to `url`, then
    /// Notify OperationComplete (success or failure).
    case upload(command: String, commandKey: String, url: String, username: String?, password: String?, body: [UInt8])
}

/// Answers controller requests against a `USPAgentModel`, the way a TR-369 agent does.
public struct AgentRequestHandler {
    typealias FollowUp = AgentFollowUp

    public var model: any USPAgentModel

    public init(model: any USPAgentModel) { self.model = model }

    /// The answer to one request and what the agent does afterwards.
    public mutating func handle(_ request: USPMessage.Request) -> (USPMessage.Body, [AgentFollowUp]) {
        switch request {
        case .get(let get):
            let results = get.paramPaths.map { path -> USPGetResponse.RequestedPathResult in
                let matches = model.resolve(path)
                if matches.isEmpty && !path.contains("*") {
                    // R-GET.0: a non-matching path that is not a search is an error.
                    return .init(requestedPath: path, failure: USPFailure(code: .invalidPath, message: "no such path"))
                }
                // Group parameters by their object, relative names inside it.
                var groups: [String: [String: String]] = [:]
                for (key, entry) in matches {
                    let cut = key.lastIndex(of: ".")!
                    groups[String(key[...cut]), default: [:]][String(key[key.index(after: cut)...])] = entry.value
                }
                return .init(requestedPath: path, resolvedPaths: groups.keys.sorted().map { .init(resolvedPath: $0, parameters: groups[$0]!) })
            }
            return (.response(.getResponse(USPGetResponse(results: results))), [])

        case .set(let set):
            var errors: [USPSetResponse.UpdatedObjectResult] = []
            var successes: [USPSetResponse.UpdatedObjectResult] = []
            var writes: [(String, String)] = []
            for object in set.updateObjects {
                let targets = object.objectPath.contains("*") ? model.instances(of: String(object.objectPath.prefix(upTo: object.objectPath.range(of: "*")!.lowerBound))) : [object.objectPath]
                var objectErrors: [USPPathError] = []
                var updated: [String: String] = [:]
                for target in targets {
                    let base = target.hasSuffix(".") ? target : target + "."
                    for setting in object.settings {
                        if let code = model.checkSet(base + setting.name, setting.value) {
                            objectErrors.append(USPPathError(path: base + setting.name, code: code, message: code.name))
                        } else {
                            writes.append((base + setting.name, setting.value))
                            updated[setting.name] = setting.value
                        }
                    }
                }
                if objectErrors.isEmpty {
                    successes.append(.init(requestedPath: object.objectPath, status: .success([.init(affectedPath: object.objectPath, updatedParameters: updated)])))
                } else {
                    errors.append(.init(
                        requestedPath: object.objectPath,
                        status: .failure(USPFailure(code: .parameterActionFailed), instanceFailures: [.init(affectedPath: object.objectPath, parameterErrors: objectErrors)])))
                }
            }
            if !errors.isEmpty && !set.allowPartial {
                // R-SET.1: with allow_partial false a failure means nothing is applied and an Error is sent.
                let parameterErrors = errors.flatMap { result -> [USPPathError] in
                    if case .failure(_, let failures) = result.status { return failures.flatMap(\.parameterErrors) }
                    return []
                }
                return (.error(USPErrorMessage(code: .parameterActionFailed, message: "Set failed", parameterErrors: parameterErrors)), [])
            }
            for (path, value) in writes { model.set(path, value) }
            return (.response(.setResponse(USPSetResponse(results: successes + errors))), writes.isEmpty ? [] : [.changed(writes.map(\.0))])

        case .add(let add):
            var results: [USPAddResponse.CreatedObjectResult] = []
            var created: [String] = []
            for object in add.createObjects {
                var settings: [String: String] = [:]
                for setting in object.settings { settings[setting.name] = setting.value }
                do {
                    let path = try model.add(object.objectPath, settings)
                    created.append(path)
                    var keys: [String: String] = [:]
                    if let id = settings["ID"] { keys["ID"] = id }
                    if let alias = settings["Alias"] { keys["Alias"] = alias }
                    results.append(.init(requestedPath: object.objectPath, status: .success(.init(instantiatedPath: path, uniqueKeys: keys))))
                } catch {
                    if !add.allowPartial { return (.error(USPErrorMessage(code: error.code, message: error.message)), []) }
                    results.append(.init(requestedPath: object.objectPath, status: .failure(error)))
                }
            }
            return (.response(.addResponse(USPAddResponse(results: results))), [])

        case .delete(let delete):
            var results: [USPDeleteResponse.DeletedObjectResult] = []
            for path in delete.objectPaths {
                if path.contains("[") || path.contains("*") {
                    // A search path: every instance it selects; none is a success too (R-DEL.1).
                    let selected = model.select(path)
                    for instance in selected { _ = model.delete(instance) }
                    results.append(.init(requestedPath: path, status: .success(affectedPaths: selected, unaffectedPathErrors: [])))
                } else if model.delete(path) {
                    results.append(.init(requestedPath: path, status: .success(affectedPaths: [path], unaffectedPathErrors: [])))
                } else if !delete.allowPartial {
                    return (.error(USPErrorMessage(code: .objectDoesNotExist, message: "\(path) does not exist")), [])
                } else {
                    results.append(.init(requestedPath: path, status: .failure(USPFailure(code: .objectDoesNotExist))))
                }
            }
            return (.response(.deleteResponse(USPDeleteResponse(results: results))), [])

        case .operate(let operate):
            return handleOperate(operate)

        case .getInstances(let request):
            let results = request.objectPaths.map { path in
                USPGetInstancesResponse.RequestedPathResult(requestedPath: path, instances: model.instances(of: path).map { .init(path: $0) })
            }
            return (.response(.getInstancesResponse(USPGetInstancesResponse(results: results))), [])

        case .getSupportedProtocol:
            return (.response(.getSupportedProtocolResponse(USPGetSupportedProtocolResponse(agentSupportedVersions: USPRecord.supportedProtocolVersions))), [])

        case .getSupportedDM(let request):
            let results = request.objectPaths.map { USPGetSupportedDMResponse.RequestedObjectResult(requestedPath: $0, dataModelInstanceURI: "urn:broadband-forum-org:tr-181-2-19-0-usp") }
            return (.response(.getSupportedDMResponse(USPGetSupportedDMResponse(results: results))), [])

        case .notify, .register, .deregister:
            return (.error(USPErrorMessage(code: .messageNotSupported, message: "agents do not take this message")), [])
        }
    }

    mutating func handleOperate(_ operate: USPOperate) -> (USPMessage.Body, [FollowUp]) {
        let command = operate.command
        func done(_ outcome: USPOperateResponse.Outcome) -> USPMessage.Body {
            .response(.operateResponse(USPOperateResponse(results: [.init(executedCommand: command, outcome: outcome)])))
        }
        switch command {
        case "Device.Reboot()":
            return (done(.outputArguments([:])), [.reboot(commandKey: operate.commandKey, cause: "RemoteReboot")])
        case "Device.FactoryReset()":
            return (done(.outputArguments([:])), [.reboot(commandKey: operate.commandKey, cause: "RemoteFactoryReset")])
        case let firmware where firmware.hasPrefix("Device.DeviceInfo.FirmwareImage.") && firmware.hasSuffix(".Download()"):
            guard let url = operate.inputArguments["URL"], !url.isEmpty else {
                return (done(.failure(USPFailure(code: .invalidCommandArguments, message: "URL is required"))), [])
            }
            // The image's version is the file name without extension (sim convention).
            let version = url.split(separator: "/").last.map { String($0.split(separator: ".").first ?? $0) } ?? "unknown"
            let image = String(firmware.dropLast("Download()".count))
            model.update(image + "Version", version)
            model.update(image + "Status", "Available")
            var followUps: [FollowUp] = [.complete(command: command, commandKey: operate.commandKey, output: [:])]
            if operate.inputArguments["AutoActivate"] == "true" {
                model.update("Device.DeviceInfo.SoftwareVersion", version)
                followUps.append(.reboot(commandKey: operate.commandKey, cause: "LocalReboot"))
            }
            return (done(.requestObject("Device.LocalAgent.Request.1.")), followUps)
        case "Device.SoftwareModules.InstallDU()":
            guard let url = operate.inputArguments["URL"], !url.isEmpty else {
                return (done(.failure(USPFailure(code: .invalidCommandArguments, message: "URL is required"))), [])
            }
            let uuid = operate.inputArguments["UUID"] ?? "00000000-0000-4000-8000-\(String(format: "%012d", model.instances(of: "Device.SoftwareModules.DeploymentUnit.").count + 1))"
            guard model.select("Device.SoftwareModules.DeploymentUnit.[UUID==\"\(uuid)\"].").isEmpty,
                let unit = try? model.add("Device.SoftwareModules.DeploymentUnit.", [
                    "UUID": uuid, "URL": url, "Status": "Installed", "Version": Self.version(in: url),
                ])
            else {
                return (done(.failure(USPFailure(code: .commandFailure, message: "deployment unit \(uuid) is already installed"))), [])
            }
            return (done(.requestObject("Device.LocalAgent.Request.4.")), [
                .complete(command: command, commandKey: operate.commandKey, output: ["DeploymentUnitRef": String(unit.dropLast()), "UUID": uuid]),
            ])
        case let unitCommand where unitCommand.hasPrefix("Device.SoftwareModules.DeploymentUnit.")
            && (unitCommand.hasSuffix(".Update()") || unitCommand.hasSuffix(".Uninstall()")):
            let object = String(unitCommand[..<unitCommand.lastIndex(of: ".")!]) + "."
            guard let unit = model.select(object).first else {
                return (.error(USPErrorMessage(code: .invalidPath, message: "\(object) selects no deployment unit")), [])
            }
            if unitCommand.hasSuffix(".Uninstall()") {
                _ = model.delete(unit)
            } else if let url = operate.inputArguments["URL"] {
                model.update(unit + "URL", url)
                model.update(unit + "Version", Self.version(in: url))
            }
            return (done(.requestObject("Device.LocalAgent.Request.5.")), [.complete(command: command, commandKey: operate.commandKey, output: [:])])
        case "Device.ScheduleTimer()":
            return (done(.requestObject("Device.LocalAgent.Request.2.")), [.complete(command: command, commandKey: operate.commandKey, output: [:])])
        case let command where command.hasSuffix(".Upload()") || command.hasSuffix(".Backup()"):
            guard let url = operate.inputArguments["URL"], !url.isEmpty else {
                return (done(.failure(USPFailure(code: .invalidCommandArguments, message: "URL is required"))), [])
            }
            let body: String
            if command.hasSuffix(".Backup()") {
                // A configuration backup: every writable parameter, `Name=Value` per line.
                body = "# usp-agent-sim configuration backup\n" + model.resolve("Device.").filter { $0.1.writable }
                    .map { "\($0.0)=\($0.1.value)\n" }.joined()
            } else {
                body = "usp-agent-sim log: \(model.value("Device.DeviceInfo.SerialNumber") ?? "")\n"
            }
            return (done(.requestObject("Device.LocalAgent.Request.3.")), [.upload(
                command: command, commandKey: operate.commandKey, url: url, username: operate.inputArguments["Username"],
                password: operate.inputArguments["Password"], body: Array(body.utf8))])
        case let command where command.hasSuffix(".Restore()"):
            return (done(.requestObject("Device.LocalAgent.Request.3.")), [.complete(command: command, commandKey: operate.commandKey, output: [:])])
        default:
            return (.error(USPErrorMessage(code: .invalidPath, message: "\(command) is not supported")), [])
        }
    }

    /// A dotted version in a URL's last component (`app-1.2.ipk` gives `1.2`), else `1.0`.
    static func version(in url: String) -> String {
        let name = url.split(separator: "/").last.map(String.init) ?? url
        return name.firstMatch(of: #/(\d+(?:\.\d+)+)/#).map { String($0.1) } ?? "1.0"
    }
}
