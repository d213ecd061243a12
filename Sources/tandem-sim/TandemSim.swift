import ArgumentParser
import Foundation
import Logging

/// `tandem-sim`: simulated CPEs and USP agents for tests, demos and benchmarks. It speaks only the
/// protocols on the wire and knows nothing of Tandem's internals. Each protocol is a subcommand
/// (`cwmp` now; `usp` joins `subcommands` the same way).
@main
struct TandemSim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tandem-sim",
        abstract: "Simulated TR-069 CPEs and TR-369 USP agents.",
        version: "0.1.0",
        subcommands: [CWMPCommand.self, USPCommand.self])
}

/// Options every subcommand shares.
struct CommonOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error, critical.", valueName: "level"))
    var logLevel: String = "notice"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown log level \"\(logLevel)\"") }
    }

    /// Logs to standard error at the chosen level.
    func bootstrapLogging() -> Logger {
        let level = Logger.Level(rawValue: logLevel) ?? .notice
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: "tandem-sim")
    }
}

/// Writes a line to standard output at once (scripts wait for these lines).
func printLine(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// Writes a line to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
