import ArgumentParser
import Foundation

/// `tandem`: the server and its admin command line.
@main
struct Tandem: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tandem",
        abstract: "A TR-069 ACS and TR-369 USP controller over one device registry.",
        version: "0.1.0",
        subcommands: [
            Serve.self, Devices.self, Device.self, Get.self, Set.self, Add.self, Delete.self, Reboot.self, FactoryReset.self,
            Download.self, Operate.self, Tasks.self, Events.self, Status.self, Token.self, PolicyCommand.self, Migration.self,
            CWMPCommand.self, USPCommand.self,
        ])

    /// Exit codes: 0 ok, 1 device fault, 2 usage or configuration, 3 unreachable or timed out.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { print(message) }
                Foundation.exit(0)
            }
            if !message.isEmpty { FileHandle.standardError.write(Data((message + "\n").utf8)) }
            // argument-parser's usage errors exit 64 (EX_USAGE); Tandem's convention is 2.
            Foundation.exit(code == .validationFailure ? 2 : code.rawValue)
        }
    }
}

/// Exit codes shared by every command.
enum TandemExit {
    static let deviceFault = ExitCode(1)
    static let usage = ExitCode(2)
    static let unreachable = ExitCode(3)
}

/// Writes a line to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
