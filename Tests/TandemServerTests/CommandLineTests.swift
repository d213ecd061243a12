import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import NIOPosix
import Registry
import TandemCore
import Testing

/// The `tandem` executable itself, as an operator runs it.
@Suite struct CommandLineTests {
    @Test func helpListsEveryCommandWithOneLine() throws {
        let result = try runTandem(["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("serve"))
        #expect(result.stdout.contains("devices"))
        #expect(result.stdout.contains("Run the server"))
    }

    @Test func badConfigurationExitsTwoAndNamesTheKey() throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let file = directory + "/bad.json"
        try #"{"cwmp": {"listen": "0.0.0.0"}}"#.write(toFile: file, atomically: true, encoding: .utf8)
        let result = try runTandem(["serve", "--config", file, "--data-dir", directory])
        #expect(result.status == 2)
        #expect(result.stderr.contains("\(file): cwmp.listen: \"0.0.0.0\" has no port"))

        let flag = try runTandem(["serve", "--data-dir", directory, "--mqtt-broker", "tcp://x"])
        #expect(flag.status == 2)
        #expect(flag.stderr.contains("--mqtt-broker"))

        let usage = try runTandem(["serve", "--no-such-option"])
        #expect(usage.status == 2)
        #expect(usage.stderr.contains("Unknown option"))
    }

    @Test func serveAnswersHealthzAndStopsGracefullyOnSIGTERM() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let process = Process()
        process.executableURL = try tandemExecutable()
        process.arguments = [
            "serve", "--config", repositoryRoot.appendingPathComponent("config.example.json").path, "--data-dir", directory,
            "--api-listen", "127.0.0.1:0", "--cwmp-listen", "127.0.0.1:0", "--usp-ws-listen", "127.0.0.1:0",
        ]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        // Wait for "tandem: api listening on HOST:PORT".
        var collected = ""
        var port: Int?
        let deadline = Date().addingTimeInterval(30)
        while port == nil, Date() < deadline {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            collected += String(decoding: chunk, as: UTF8.self)
            if let line = collected.split(separator: "\n").first(where: { $0.hasPrefix("tandem: api listening on ") }),
                let colon = line.lastIndex(of: ":")
            {
                port = Int(line[line.index(after: colon)...])
            }
        }
        let apiPort = try #require(port, "no listening line in: \(collected)")
        let client = TestClient(host: "127.0.0.1", port: apiPort, configuration: .init(), eventLoopGroupProvider: .shared(MultiThreadedEventLoopGroup.singleton))
        client.connect()
        let response = try await client.get("/healthz")
        #expect(response.status == .ok)
        #expect(response.body.map { String(buffer: $0) }?.contains(#""status":"ok""#) == true)
        try await client.shutdown()

        process.terminate()  // SIGTERM
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
        let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(log.contains("tandem stopped"))
        #expect(FileManager.default.fileExists(atPath: directory + "/registry.sqlite"))
    }

    @Test func devicesListsTheRegistryAsTableAndJSON() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        do {
            let store = try SQLiteRegistryStore(dataDirectory: directory)
            let device = try await store.recordCWMPContact(
                try CWMPDeviceID(manufacturer: "Acme", oui: "00D09E", productClass: "HG8245", serialNumber: "SN1"),
                details: DeviceDetails(modelName: "HG8245H", softwareVersion: "V3R017"), at: Date().addingTimeInterval(-120))
            _ = try await store.updateTags(deviceID: device.id, adding: ["lab"], removing: [], actor: "test")
            _ = try await store.recordUSPContact(try EndpointID("os::A0B1C2-Z9"), identity: nil, details: DeviceDetails(manufacturer: "Other"), at: Date())
        }
        let json = try runTandem(["devices", "--data-dir", directory, "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let list = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(list.count == 2)
        #expect(list[0]["cwmpDeviceId"] as? String == "00D09E-HG8245-SN1")
        #expect(list[0]["softwareVersion"] as? String == "V3R017")
        #expect(list[0]["tags"] as? [String] == ["lab"])
        #expect(list[0]["activeProtocol"] as? String == "cwmp")
        #expect(list[1]["uspEndpointId"] as? String == "os::A0B1C2-Z9")
        #expect(list[1]["protocols"] as? [String] == ["usp"])

        let table = try runTandem(["devices", "--data-dir", directory])
        #expect(table.status == 0)
        let lines = table.stdout.split(separator: "\n")
        #expect(lines[0].hasPrefix("ID  DEVICE"))
        #expect(lines[1].contains("00D09E-HG8245-SN1") && lines[1].contains("cwmp*") && lines[1].contains("2 min ago"))
        #expect(lines[2].contains("os::A0B1C2-Z9") && lines[2].contains("usp*"))
        // Columns line up: "PROTOCOL" starts where each row's protocol starts.
        let column = lines[0].distance(from: lines[0].startIndex, to: lines[0].range(of: "PROTOCOL")!.lowerBound)
        #expect(lines[1].dropFirst(column).hasPrefix("cwmp*"))

        let filtered = try runTandem(["devices", "--data-dir", directory, "--json", "--filter", "protocol=usp"])
        #expect((try JSONSerialization.jsonObject(with: Data(filtered.stdout.utf8)) as? [Any])?.count == 1)
        let bad = try runTandem(["devices", "--data-dir", directory, "--filter", "colour=red"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("unknown key colour"))
    }
}
