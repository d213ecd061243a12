import Foundation
import Logging
import TandemServer
import Testing

/// The repository root, from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A fresh temporary directory, removed by `defer { remove(dir) }` in each test.
func temporaryDirectory(_ name: String = "tandem") -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)").path
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A server on its own data directory with no listener of its own (the WebSocket MTP off): for
/// tests that drive the engine through its API and the registry.
func makeServer(
    dataDirectory: String, label: String, configure: (inout TandemConfiguration) -> Void = { _ in }
) throws -> TandemServer {
    var configuration = TandemConfiguration()
    configuration.dataDirectory = dataDirectory
    configuration.usp.webSocketListen = nil
    configure(&configuration)
    return try TandemServer(configuration: configuration, logger: Logger(label: label))
}

func remove(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

/// The `tandem` executable built beside the test bundle.
func tandemExecutable() throws -> URL {
    let buildDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for candidate in [buildDirectory, buildDirectory.deletingLastPathComponent()] {
        let url = candidate.appendingPathComponent("tandem")
        if FileManager.default.isExecutableFile(atPath: url.path) { return url }
    }
    throw TestFailure("the tandem executable was not found beside \(CommandLine.arguments[0]); build with `swift build --build-tests`")
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The result of running `tandem` to completion.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs `tandem ARGS...` and waits for it (at most `timeout` seconds; then it is killed and the test fails).
func runTandem(_ arguments: [String], timeout: TimeInterval = 30) throws -> CommandResult {
    let process = Process()
    process.executableURL = try tandemExecutable()
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read both pipes fully before waiting, so a chatty process cannot block on a full pipe.
    let group = DispatchGroup()
    nonisolated(unsafe) var stdoutData = Data(), stderrData = Data()
    group.enter()
    DispatchQueue.global().async { stdoutData = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    group.enter()
    DispatchQueue.global().async { stderrData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    if group.wait(timeout: .now() + timeout) == .timedOut {
        process.terminate()
        throw TestFailure("tandem \(arguments.joined(separator: " ")) did not finish within \(timeout) s")
    }
    process.waitUntilExit()
    return CommandResult(
        status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
        stderr: String(decoding: stderrData, as: UTF8.self))
}
