import Engine
import Foundation
import HTTPAuthentication
import Hummingbird
import Logging
import NIOCore
import Registry
import Simulator
import TandemCore
import TandemServer
import Testing
import USPAgentSimulator
import MTPWebSocket
import ServiceLifecycle

/// The whole product: `tandem serve`'s services in process, a simulated TR-069 CPE and a simulated
/// USP agent on loopback, and the `tandem` CLI driving both through the REST API.
@Suite struct EndToEndTests {
    /// Runs `tandem ARGS...` without blocking a thread of the test's concurrency pool.
    static func tandem(_ arguments: [String]) async throws -> CommandResult {
        let process = Process()
        process.executableURL = try tandemExecutable()
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            process.terminationHandler = { _ in continuation.resume() }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        return CommandResult(
            status: process.terminationStatus, stdout: String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self),
            stderr: String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
    }

    @Test func theSameCommandsWorkOnACWMPAndAUSPDevice() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        var configuration = TandemConfiguration()
        configuration.dataDirectory = directory
        configuration.api.listen = ListenAddress(host: "127.0.0.1", port: 0)
        configuration.cwmp.listen = ListenAddress(host: "127.0.0.1", port: 0)
        configuration.cwmp.authMode = .digest
        configuration.cwmp.passwordTemplate = "pw-{serialNumber}"
        configuration.usp.endpointID = "self::tandem-e2e"
        configuration.usp.webSocketListen = ListenAddress(host: "127.0.0.1", port: 0)
        let server = try TandemServer(configuration: configuration, logger: Logger(label: "e2e"))
        let secret = BearerToken.makeSecret()
        let stored = try await server.registry.createToken(name: "e2e", role: .operator_, secretHash: BearerToken.hash(secret), actor: "test")
        let token = BearerToken(id: stored.id, secret: secret).text

        let (ports, portContinuation) = AsyncStream.makeStream(of: (String, Int).self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await server.makeAPIApplication { channel in portContinuation.yield(("api", channel.localAddress?.port ?? 0)) }.runService()
            }
            group.addTask {
                try await server.makeCWMPApplication { channel in portContinuation.yield(("cwmp", channel.localAddress?.port ?? 0)) }.runService()
            }
            for service in server.uspServices { group.addTask { try await service.run() } }
            defer { group.cancelAll() }
            var bound: [String: Int] = [:]
            for await (name, port) in ports {
                bound[name] = port
                if bound.count == 2 { break }
            }
            let apiPort = try #require(bound["api"]), cwmpPort = try #require(bound["cwmp"])
            let wsPort = try await server.webSocketTransport!.listeningPort()

            // A TR-069 CPE that authenticates with Digest and takes connection requests.
            let fleet = try SimulatedFleet(configuration: SimulatedFleet.Configuration(
                count: 1, serialPrefix: "CPE", acsURL: "http://127.0.0.1:\(cwmpPort)/", usernameTemplate: "{deviceId}",
                passwordTemplate: "pw-{serial}", connectionRequestUsernameTemplate: "{serial}", connectionRequestPasswordTemplate: "cr-{serial}",
                periodicInformEnable: false,
                device: .init(retryMinimumWait: .milliseconds(100), retryMaximumWait: .seconds(2), rebootDuration: .milliseconds(100), httpTimeout: .seconds(10))))
            group.addTask { try await fleet.run() }
            // A USP agent on the WebSocket MTP.
            let agent = SimulatedAgent(
                identity: .init(oui: "ACDE48", productClass: "SimGateway", serialNumber: "USP000001"), controllerEndpointID: "self::tandem-e2e",
                mtp: .webSocket(url: "ws://127.0.0.1:\(wsPort)/usp"))
            group.addTask { try await agent.run() }

            let cwmpID = "ACDE48-SimGateway-CPE000001"
            #expect(try await USPControllerLiveTests.eventually(.seconds(30)) { try await server.registry.device(try DeviceIdentifier(parsing: cwmpID)) != nil })
            let cpe = try #require(try await server.registry.device(try DeviceIdentifier(parsing: cwmpID)))
            #expect(cpe.connectionRequestURL?.hasSuffix("/cr/CPE000001") == true)
            try await server.registry.setCredentials(deviceID: cpe.id, purpose: .connectionRequest, username: "CPE000001", password: "cr-CPE000001", actor: "test")
            #expect(try await USPControllerLiveTests.eventually(.seconds(30)) { await agent.subscriptionIDs().count == 2 })

            let remote = ["--server", "http://127.0.0.1:\(apiPort)", "--token", token, "--json", "--wait", "30"]
            var shapes: [Set<String>] = []
            for device in [cwmpID, "os::ACDE48-USP000001"] {
                // get: over a connection request and a CWMP session, or straight over USP.
                let get = try await Self.tandem(["get", device, "Device.DeviceInfo.SoftwareVersion"] + remote)
                #expect(get.status == 0, "\(device): \(get.stderr)")
                let task = try #require(try JSONSerialization.jsonObject(with: Data(get.stdout.utf8)) as? [String: Any])
                #expect(task["state"] as? String == "done")
                let entries = try #require((task["result"] as? [String: Any])?["entries"] as? [[String: Any]])
                #expect(entries.count == 1)
                #expect(entries.first?["path"] as? String == "Device.DeviceInfo.SoftwareVersion")
                #expect(entries.first?["type"] as? String == "string")
                #expect(entries.first?["value"] as? String == "1.0.0")
                shapes.append(Set(task.keys))

                // set, then the device holds the value and so does the registry.
                let set = try await Self.tandem(["set", device, "Device.Time.NTPServer1=ntp.tandem.example"] + remote)
                #expect(set.status == 0, "\(device): \(set.stderr)")
                let row = try #require(try await server.registry.device(try DeviceIdentifier(parsing: device)))
                #expect(try await server.registry.parameters(deviceID: row.id, under: "Device.Time.NTPServer1").first?.value == .string("ntp.tandem.example"))

                // A read-only parameter: a device fault, exit code 1, with the protocol's own code.
                let refused = try await Self.tandem(["set", device, "Device.DeviceInfo.SerialNumber=x"] + remote)
                #expect(refused.status == 1, "\(device): \(refused.stdout) \(refused.stderr)")
                let fault = try #require((try JSONSerialization.jsonObject(with: Data(refused.stdout.utf8)) as? [String: Any])?["fault"] as? [String: Any])
                #expect(fault["protocol"] as? String == (device == cwmpID ? "cwmp" : "usp"))
            }
            #expect(shapes[0] == shapes[1])
            #expect(shapes[0].contains("connectionRequest"))
            #expect(await fleet.devices[0].value("Device.Time.NTPServer1") == .string("ntp.tandem.example"))
            #expect(await agent.value("Device.Time.NTPServer1") == "ntp.tandem.example")

            // The listing through the API knows both devices, each with its protocol.
            let listing = try await Self.tandem(["devices", "--server", "http://127.0.0.1:\(apiPort)", "--token", token, "--json", "--filter", "oui=ACDE48"])
            #expect(listing.status == 0, "\(listing.stderr)")
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(listing.stdout.utf8)) as? [[String: Any]])
            #expect(Set(rows.compactMap { $0["activeProtocol"] as? String }) == ["cwmp", "usp"])

            // Usage errors exit 2, an unreachable server 3.
            #expect(try await Self.tandem(["get", cwmpID, "Device..X"] + remote).status == 2)
            #expect(try await Self.tandem(["get", cwmpID, "Device.X", "--server", "http://127.0.0.1:\(apiPort)"]).status == 2)
            #expect(try await Self.tandem(["get", cwmpID, "Device.X", "--server", "http://127.0.0.1:1", "--token", token]).status == 3)
        }
    }
}
