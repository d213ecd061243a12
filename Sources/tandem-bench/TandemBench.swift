import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging

@main
struct TandemBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tandem-bench",
        abstract: "Benchmarks of a release-built `tandem serve`, each against a floor measured in the same run (Scripts/bench).",
        subcommands: [Run.self, FloorHTTP.self])
}

/// Every scenario, in the order they run.
let allScenarios = ["cwmp-sessions", "cwmp-decode", "cwmp-storm", "usp-mqtt", "usp-ws-idle", "registry-scale", "op-latency"]

extension TandemBench {
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run scenarios; print a table row per figure; optionally write JSON.")

        @Option(help: ArgumentHelp("The release-built tandem executable.", valueName: "path"))
        var tandem: String

        @Option(help: ArgumentHelp("A mosquitto broker for usp-mqtt.", valueName: "host:port"))
        var mqtt: String?

        @Option(help: ArgumentHelp("Where servers keep their data directories and logs.", valueName: "dir"))
        var workDir: String

        @Flag(help: "Smaller loads: the whole run ends within about two minutes.")
        var quick = false

        @Option(help: ArgumentHelp("Write the measurements as a JSON list here.", valueName: "file"))
        var json: String?

        @Option(help: "registry-scale: number of devices (default 1,000,000; 50,000 with --quick).")
        var registryDevices: Int?

        @Option(help: "usp-ws-idle: number of agents (default 20,000; 2,000 with --quick).")
        var wsAgents: Int?

        @Flag(help: "cwmp-sessions: leave out the floor of SQLite alone, which needs the registry schema of this source tree (Scripts/bench-compare, which may compare older builds).")
        var noRegistryFloor = false

        @Argument(help: "Scenarios to run (default: all): \(allScenarios.joined(separator: ", ")).")
        var scenarios: [String] = []

        func validate() throws {
            for scenario in scenarios where !allScenarios.contains(scenario) {
                throw ValidationError("unknown scenario \"\(scenario)\" (\(allScenarios.joined(separator: ", ")))")
            }
        }

        func run() async throws {
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = .error
                return handler
            }
            let bench = BenchRun(
                tandem: tandem, mqtt: mqtt, workDir: workDir, quick: quick, registryFloor: !noRegistryFloor,
                registryDevices: registryDevices ?? (quick ? 50_000 : 1_000_000), wsAgents: wsAgents ?? (quick ? 2_000 : 20_000))
            let selected = scenarios.isEmpty ? allScenarios : allScenarios.filter(scenarios.contains)
            var all: [Measurement] = []
            var failures: [String] = []
            output(Table.header())
            for scenario in selected {
                progress("\(scenario) starting")
                do {
                    let rows = try await bench.run(scenario)
                    output(Table.rows(rows))
                    all += rows
                } catch {
                    failures.append(scenario)
                    progress("\(scenario) FAILED: \(error)")
                }
            }
            if let json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                try encoder.encode(all).write(to: URL(fileURLWithPath: json))
            }
            if !failures.isEmpty {
                progress("failed: \(failures.joined(separator: ", "))")
                throw ExitCode.failure
            }
        }
    }

    struct FloorHTTP: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "floor-http", abstract: "The minimal HTTP responder the CWMP figures are compared with.")

        @Option var host = "127.0.0.1"
        @Option var port: Int

        func run() async throws {
            try await FloorResponder.serve(host: host, port: port)
        }
    }
}

/// The settings of one benchmark run and what every scenario shares.
struct BenchRun: Sendable {
    let tandem: String
    let mqtt: String?
    let workDir: String
    let quick: Bool
    /// cwmp-sessions measures its second floor (SQLite alone on the sessions' rows).
    let registryFloor: Bool
    let registryDevices: Int
    let wsAgents: Int

    func run(_ scenario: String) async throws -> [Measurement] {
        switch scenario {
        case "cwmp-sessions": try await cwmpSessions()
        case "cwmp-decode": try await cwmpDecode()
        case "cwmp-storm": try await cwmpStorm()
        case "usp-mqtt": try await uspMQTT()
        case "usp-ws-idle": try await uspWebSocketIdle()
        case "registry-scale": try await registryScale()
        case "op-latency": try await opLatency()
        default: throw BenchError("unknown scenario \(scenario)")
        }
    }

    func startServer(_ name: String, options: ServerProcess.Options = .init()) async throws -> ServerProcess {
        try await ServerProcess(tandem: tandem, under: workDir, name: name, options: options)
    }

    func withAPI<T>(_ server: ServerProcess, _ body: (APICalls) async throws -> T) async throws -> T {
        try await body(APICalls(client: HTTPClient.shared, baseURL: server.apiURL, token: server.token))
    }
}
