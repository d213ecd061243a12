import ArgumentParser
import TandemServer

/// The options every command that reads the configuration shares.
struct ConfigurationOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Configuration file (JSON).", valueName: "file"))
    var config: String?

    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Data directory (overrides dataDirectory).", valueName: "dir"))
    var dataDirectory: String?

    /// The configuration file (or the defaults) with the command-line overrides applied.
    func load(applying overrides: (inout TandemConfiguration) throws(ConfigurationError) -> Void = { _ throws(ConfigurationError) in }) throws -> TandemConfiguration {
        do {
            var configuration = try config.map { path throws(ConfigurationError) in try TandemConfiguration.load(file: path) } ?? TandemConfiguration()
            if let dataDirectory { configuration.dataDirectory = dataDirectory }
            try overrides(&configuration)
            try configuration.validate(source: "command line")
            return configuration
        } catch {
            printError("tandem: configuration error: \(error)")
            throw TandemExit.usage
        }
    }
}
