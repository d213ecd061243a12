import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1
import TandemCore

/// Options shared by the commands that run an operation on a device.
struct OperationOptions: ParsableArguments {
    @OptionGroup var remote: RemoteOptions

    @Option(help: "Seconds to wait for the result (0: queue and return at once).")
    var wait: Double = 60

    @Option(help: "Seconds the task may wait for an offline device.")
    var expires: Double = 7 * 86_400

    /// Queues `operation` for `device`, waits with a spinner, prints the result; exits 1 on a device
    /// fault and 3 when the device did not answer in time.
    func run(_ operation: [String: Any], on device: String) async throws {
        let client = try remote.client()
        let path = "/api/v1/devices/\(APIClient.encode(device))/tasks"
        // The server waits up to `wait` seconds in one request; the spinner runs meanwhile in our task group.
        let body = try JSONSerialization.data(withJSONObject: ["operation": operation, "wait": wait, "expiresInSeconds": expires])
        let timeout = TimeAmount.seconds(Int64(wait) + 30)
        let data = try await withThrowingTaskGroup(of: Data?.self) { group in
            group.addTask {
                try await client.callRaw(.POST, path, body: body, timeout: timeout)
            }
            group.addTask {
                var count = 0
                while !Task.isCancelled {
                    Spinner.tick(count, "waiting for the device...")
                    count += 1
                    try? await Task.sleep(for: .milliseconds(100))
                }
                return nil
            }
            defer { group.cancelAll() }
            while let next = try await group.next() { if let value = next { return value } }
            return Data()
        }
        var task = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        Spinner.clear()
        if remote.json {
            printJSON(task)
        } else {
            TaskPrinter.print(task)
        }
        switch task["state"] as? String {
        case "done": return
        case "faulted": throw TandemExit.deviceFault
        default:
            if !remote.json { printError("tandem: task \(task["id"] ?? "?") is still \(task["state"] ?? "?"); follow it with `tandem tasks \(device)`") }
            task = [:]
            throw TandemExit.unreachable
        }
    }
}

/// Human output of a task.
enum TaskPrinter {
    static func print(_ task: [String: Any]) {
        let state = task["state"] as? String ?? "?"
        if let result = task["result"] as? [String: Any] {
            let entries = result["entries"] as? [[String: Any]] ?? []
            let rows = entries.map { entry -> [String] in
                if let fault = entry["fault"] as? [String: Any] {
                    return [entry["path"] as? String ?? "", "-", "fault \(fault["code"] ?? "") \(fault["category"] ?? ""): \(fault["message"] ?? "")"]
                }
                return [entry["path"] as? String ?? "", entry["type"] as? String ?? "-", entry["value"] as? String ?? "ok"]
            }
            if !rows.isEmpty { Swift.print(TextFormat.table(header: ["PATH", "TYPE", "VALUE"], rows: rows), terminator: "") }
            if let created = result["createdObject"] as? String { Swift.print("created \(created)") }
            if let output = result["outputArguments"] as? [String: String], !output.isEmpty {
                Swift.print(TextFormat.table(header: ["OUTPUT", "VALUE"], rows: output.sorted { $0.key < $1.key }.map { [$0.key, $0.value] }), terminator: "")
            }
        }
        if let fault = task["fault"] as? [String: Any] {
            Swift.print("fault: \(fault["protocol"] ?? "") \(fault["code"] ?? "") (\(fault["category"] ?? "")): \(fault["message"] ?? "")")
        }
        Swift.print("task \(task["id"] ?? "?"): \(state)")
    }
}

/// Parses `PATH=VALUE` or `PATH:TYPE=VALUE` arguments into set values.
func parseSettings(_ arguments: [String], relative: Bool = false) throws -> [[String: Any]] {
    try arguments.map { argument in
        guard let equals = argument.firstIndex(of: "=") else { throw ValidationError("\(argument): expected PATH=VALUE (or PATH:TYPE=VALUE)") }
        var path = String(argument[..<equals])
        let value = String(argument[argument.index(after: equals)...])
        var type = "string"
        if let colon = path.lastIndex(of: ":") {
            type = String(path[path.index(after: colon)...])
            path = String(path[..<colon])
            guard ValueType(rawValue: type) != nil else { throw ValidationError("\(argument): unknown type \(type)") }
        }
        if !relative {
            do { _ = try PathExpression(path) } catch { throw ValidationError("\(path): \(error)") }
        }
        guard (try? TypedValue(parsing: value, as: ValueType(rawValue: type)!)) != nil else {
            throw ValidationError("\(argument): \"\(value)\" is not a valid \(type)")
        }
        return ["path": path, "type": type, "value": value]
    }
}

func checkPaths(_ paths: [String]) throws {
    for path in paths {
        do { _ = try PathExpression(path) } catch { throw ValidationError("\(path): \(error)") }
    }
}

extension Tandem {
    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Read parameters of a device (CWMP or USP).")
        @OptionGroup var options: OperationOptions
        @Argument(help: "Registry id, CWMP DeviceId or USP endpoint ID.") var device: String
        @Argument(help: "Parameter or object paths (Device.DeviceInfo.).") var paths: [String]
        func validate() throws { try checkPaths(paths) }
        func run() async throws { try await options.run(["op": "get", "paths": paths], on: device) }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write parameters: PATH=VALUE or PATH:TYPE=VALUE.")
        @OptionGroup var options: OperationOptions
        @Argument var device: String
        @Argument(help: "PATH=VALUE or PATH:TYPE=VALUE (types: string, int, unsignedInt, boolean, ...).") var settings: [String]
        func validate() throws { _ = try parseSettings(settings) }
        func run() async throws { try await options.run(["op": "set", "values": try parseSettings(settings)], on: device) }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a table instance: OBJECT. [PARAM=VALUE...].")
        @OptionGroup var options: OperationOptions
        @Argument var device: String
        @Argument(help: "The table, ending in '.'.") var object: String
        @Argument(help: "Parameters of the new instance, relative names.") var settings: [String] = []
        func validate() throws {
            try checkPaths([object])
            guard object.hasSuffix(".") else { throw ValidationError("\(object): a table path ends in '.'") }
            _ = try parseSettings(settings, relative: true)
        }
        func run() async throws { try await options.run(["op": "add", "object": object, "parameters": try parseSettings(settings, relative: true)], on: device) }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete table instances: OBJECT.N.")
        @OptionGroup var options: OperationOptions
        @Argument var device: String
        @Argument(help: "Instance paths ending in '.'.") var objects: [String]
        func validate() throws { try checkPaths(objects) }
        func run() async throws { try await options.run(["op": "delete", "objects": objects], on: device) }
    }

    struct Reboot: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reboot a device.")
        @OptionGroup var options: OperationOptions
        @Argument var device: String
        func run() async throws { try await options.run(["op": "reboot"], on: device) }
    }

    struct FactoryReset: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "factory-reset", abstract: "Reset a device to factory defaults.")
        @OptionGroup var options: OperationOptions
        @Argument var device: String
        func run() async throws { try await options.run(["op": "factoryReset"], on: device) }
    }

    struct Download: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a device download a file (firmware, configuration).")
        @OptionGroup var options: OperationOptions
        @Argument var device: String
        @Argument var url: String
        @Option(help: "firmware, configuration, webContent, tone or ringer.") var fileType: String = "firmware"
        @Option(help: "File server username.") var username: String?
        @Option(help: "File server password.") var password: String?
        func validate() throws {
            guard FileTransfer.Kind(rawValue: fileType) != nil else { throw ValidationError("--file-type must be one of \(FileTransfer.Kind.allCases.map(\.rawValue).joined(separator: ", "))") }
        }
        func run() async throws {
            var transfer: [String: Any] = ["kind": fileType, "url": url, "delaySeconds": 0]
            if let username { transfer["username"] = username }
            if let password { transfer["password"] = password }
            try await options.run(["op": "download", "transfer": transfer], on: device)
        }
    }

    struct Operate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run a command: 'Device.X.Y()' [ARG=VALUE...].")
        @OptionGroup var options: OperationOptions
        @Argument var device: String
        @Argument(help: "The command path, ending in '()'.") var command: String
        @Argument(help: "Input arguments NAME=VALUE.") var arguments: [String] = []
        func validate() throws {
            try checkPaths([command])
            guard command.hasSuffix("()") else { throw ValidationError("\(command): a command path ends in '()'") }
            for argument in arguments where !argument.contains("=") { throw ValidationError("\(argument): expected NAME=VALUE") }
        }
        func run() async throws {
            var input: [String: String] = [:]
            for argument in arguments {
                let equals = argument.firstIndex(of: "=")!
                input[String(argument[..<equals])] = String(argument[argument.index(after: equals)...])
            }
            try await options.run(["op": "operate", "command": command, "input": input], on: device)
        }
    }

    struct Device: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Device commands.", subcommands: [Show.self])

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Show one device.")
            @OptionGroup var remote: RemoteOptions
            @Argument var device: String
            func run() async throws {
                let object = try await remote.client().call(.GET, "/api/v1/devices/\(APIClient.encode(device))")
                if remote.json { printJSON(object); return }
                let fields = (object as? [String: Any] ?? [:]).sorted { $0.key < $1.key }.map { [$0.key, "\($0.value)"] }
                Swift.print(TextFormat.table(header: ["FIELD", "VALUE"], rows: fields), terminator: "")
            }
        }
    }

    struct Tasks: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Tasks of a device.")
        @OptionGroup var remote: RemoteOptions
        @Argument var device: String
        func run() async throws {
            let object = try await remote.client().call(.GET, "/api/v1/devices/\(APIClient.encode(device))/tasks")
            if remote.json { printJSON(object); return }
            let tasks = (object as? [String: Any])?["tasks"] as? [[String: Any]] ?? []
            let rows = tasks.map { task -> [String] in
                let operation = (task["operation"] as? [String: Any])?["op"] as? String ?? "?"
                let fault = (task["fault"] as? [String: Any])?["message"] as? String ?? ""
                return ["\(task["id"] ?? "")", operation, task["state"] as? String ?? "", "\(task["attempts"] ?? 0)", task["updatedAt"] as? String ?? "", fault]
            }
            Swift.print(TextFormat.table(header: ["ID", "OPERATION", "STATE", "ATTEMPTS", "UPDATED", "FAULT"], rows: rows), terminator: "")
        }
    }

    struct Events: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Events of a device.")
        @OptionGroup var remote: RemoteOptions
        @Argument var device: String
        @Option(help: "How many events.") var limit = 50
        func run() async throws {
            let object = try await remote.client().call(.GET, "/api/v1/devices/\(APIClient.encode(device))/events?limit=\(limit)")
            if remote.json { printJSON(object); return }
            let events = (object as? [String: Any])?["events"] as? [[String: Any]] ?? []
            let rows = events.map { ["\($0["at"] ?? "")", "\($0["kind"] ?? "")", "\($0["actor"] ?? "")", "\($0["summary"] ?? "")"] }
            Swift.print(TextFormat.table(header: ["AT", "KIND", "ACTOR", "SUMMARY"], rows: rows), terminator: "")
        }
    }
}
