import ArgumentParser

/// `tandem-sim`: simulated CPEs and USP agents for tests, demos and benchmarks. It speaks only the
/// protocols on the wire and knows nothing of Tandem's internals.
@main
struct TandemSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tandem-sim",
        abstract: "Simulated TR-069 CPEs and TR-369 USP agents.",
        version: "0.1.0",
        subcommands: [])
}
