import ArgumentParser
import Foundation
import NIOHTTP1
import Policy

extension Tandem {
    struct PolicyCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "policy", abstract: "Provisioning and migration policy files.",
            subcommands: [Validate.self, Plan.self, Apply.self])
    }

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a policy file (YAML or JSON); errors name the file, line and column. Exit 2 when invalid.")

        @Argument(help: ArgumentHelp("The policy file.", valueName: "file"))
        var file: String

        @Flag(help: "Print a JSON summary instead of text.")
        var json = false

        func run() throws {
            let document = try PolicyFile.load(file)
            if json {
                printJSON([
                    "file": file, "valid": true, "policies": document.policies.map(\.name), "migrations": document.migrations.map(\.name),
                ])
            } else {
                print("\(file): valid; \(document.policies.count) policy(ies), \(document.migrations.count) migration(s)")
                for policy in document.policies {
                    print("  policy \(policy.name) (order \(policy.order)): triggers \(policy.triggers.map(\.rawValue).sorted().joined(separator: ", "))")
                }
                for migration in document.migrations {
                    let waves = migration.waves.map { "\($0.name) \(TextFormat.number($0.percent))%" }.joined(separator: ", ")
                    print("  migration \(migration.name) over \(migration.target.mtpName): \(waves)")
                }
            }
        }
    }

    struct Plan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what a policy file would change, per policy, with device counts; touches no device.")

        @Argument(help: ArgumentHelp("The policy file.", valueName: "file"))
        var file: String

        @OptionGroup var remote: RemoteOptions

        func run() async throws {
            let report = try await PolicyFile.send(file, .POST, "/api/v1/policies/plan", remote)
            if remote.json { printJSON(report); return }
            let policies = report["policies"] as? [[String: Any]] ?? []
            print(TextFormat.table(
                header: ["POLICY", "ORDER", "SELECTED", "CONVERGED", "TO CHANGE"],
                rows: policies.map { ["\($0["name"] ?? "")", "\($0["order"] ?? 0)", "\($0["selected"] ?? 0)", "\($0["converged"] ?? 0)", "\($0["changing"] ?? 0)"] }),
                terminator: "")
            for policy in policies {
                let operations = (policy["operations"] as? [String: Int] ?? [:]).sorted { $0.key < $1.key }
                for (summary, devices) in operations { print("  \(policy["name"] ?? ""): \(summary) on \(devices) device(s)") }
            }
            for migration in report["migrations"] as? [[String: Any]] ?? [] {
                let waves = (migration["waves"] as? [[String: Any]] ?? []).map { "\($0["name"] ?? "") \($0["devices"] ?? 0)" }.joined(separator: ", ")
                print("migration \(migration["name"] ?? ""): \(migration["selected"] ?? 0) device(s) selected; waves: \(waves)")
            }
        }
    }

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put a policy file in force on the server and run its on-demand policies now.")

        @Argument(help: ArgumentHelp("The policy file.", valueName: "file"))
        var file: String

        @OptionGroup var remote: RemoteOptions

        func run() async throws {
            let report = try await PolicyFile.send(file, .PUT, "/api/v1/policies", remote)
            if remote.json { printJSON(report); return }
            print("applied \(file) as document \(report["document"] ?? "?"): \(report["policies"] ?? 0) policy(ies), \(report["migrations"] ?? 0) migration(s); "
                + "\(report["tasksQueued"] ?? 0) task(s) queued on \(report["devicesQueued"] ?? 0) device(s)")
        }
    }

    struct Migration: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "migration", abstract: "Follow and steer fleet migrations.",
            subcommands: [Status.self, Control.Pause.self, Control.Resume.self, Control.Rollback.self])

        struct Status: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Progress per migration, wave and state.")

            @OptionGroup var remote: RemoteOptions

            func run() async throws {
                let client = try remote.client()
                let body = try await client.call(.GET, "/api/v1/migrations") as? [String: Any] ?? [:]
                if remote.json { printJSON(body); return }
                let migrations = body["migrations"] as? [[String: Any]] ?? []
                if migrations.isEmpty { print("no migration in the policy in force") }
                for migration in migrations { print(MigrationPrinter.render(migration), terminator: "") }
            }
        }

        enum Control {
            struct Pause: AsyncParsableCommand {
                static let configuration = CommandConfiguration(abstract: "Stop starting devices (those in flight finish).")
                @Argument(help: "The migration's name.") var name: String
                @OptionGroup var remote: RemoteOptions
                func run() async throws { try await Control.send("pause", name, remote) }
            }

            struct Resume: AsyncParsableCommand {
                static let configuration = CommandConfiguration(abstract: "Start devices again.")
                @Argument(help: "The migration's name.") var name: String
                @OptionGroup var remote: RemoteOptions
                func run() async throws { try await Control.send("resume", name, remote) }
            }

            struct Rollback: AsyncParsableCommand {
                static let configuration = CommandConfiguration(
                    abstract: "Roll back every device still enabling or verifying, and start no more.")
                @Argument(help: "The migration's name.") var name: String
                @OptionGroup var remote: RemoteOptions
                func run() async throws { try await Control.send("rollback", name, remote) }
            }

            static func send(_ command: String, _ name: String, _ remote: RemoteOptions) async throws {
                let client = try remote.client()
                let report = try await client.call(.POST, "/api/v1/migrations/\(APIClient.encode(name))/\(command)")
                if remote.json { printJSON(report) } else if let report = report as? [String: Any] { print(MigrationPrinter.render(report), terminator: "") }
            }
        }
    }
}

/// Reading and validating policy files for the commands.
enum PolicyFile {
    static func read(_ file: String) throws -> String {
        do {
            return file == "-" ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) : try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            printError("tandem: cannot read \(file): \(error.localizedDescription)")
            throw TandemExit.usage
        }
    }

    /// Validates the file locally (errors with positions, exit 2), then sends it to the API.
    static func send(_ file: String, _ method: HTTPMethod, _ path: String, _ remote: RemoteOptions) async throws -> [String: Any] {
        let text = try read(file)
        _ = try load(file)
        let client = try remote.client()
        return try await client.call(method, path, body: ["fileName": file, "text": text]) as? [String: Any] ?? [:]
    }

    /// The document, or every error on standard error (file:line:column: message) and exit 2.
    static func load(_ file: String) throws -> PolicyDocument {
        do {
            return try PolicyLoader.load(try read(file), file: file)
        } catch let error as PolicyValidationError {
            for item in error.errors { printError(item.description) }
            throw TandemExit.usage
        }
    }
}

/// A migration's progress for people: state, then per wave a bar and the counts per state.
enum MigrationPrinter {
    static let order = ["cwmp", "enabling", "verifying", "usp", "rolling-back", "rolled-back", "failed"]

    static func render(_ migration: [String: Any]) -> String {
        var out = "migration \(migration["name"] ?? "?"): \(migration["state"] ?? "?")"
        if let reason = migration["reason"] as? String { out += " (\(reason))" }
        out += "\n"
        var rows: [[String]] = []
        for wave in migration["waves"] as? [[String: Any]] ?? [] {
            let states = wave["states"] as? [String: Int] ?? [:]
            let devices = wave["devices"] as? Int ?? 0
            let finished = (states["usp"] ?? 0) + (states["rolled-back"] ?? 0) + (states["failed"] ?? 0)
            rows.append(
                ["\(wave["name"] ?? "")", "\(TextFormat.number(wave["percent"] as? Double ?? 0))%", bar(done: finished, of: devices), "\(devices)"]
                    + order.map { String(states[$0] ?? 0) })
        }
        out += TextFormat.table(header: ["WAVE", "UP TO", "PROGRESS", "DEVICES"] + order.map { $0.uppercased() }, rows: rows)
        return out
    }

    static func bar(done: Int, of total: Int, width: Int = 20) -> String {
        guard total > 0 else { return "[" + String(repeating: " ", count: width) + "]   -" }
        let filled = min(width, done * width / total)
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] " + String(format: "%3d%%", done * 100 / total)
    }
}
