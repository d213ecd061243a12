import Engine
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Registry
import ServiceLifecycle
import Simulator
import TandemCore
import TandemServer
import Testing

/// The ACS with simulated CPEs on loopback: queued tasks run through connection requests and the
/// sessions they trigger, and the registry follows.
@Suite struct CWMPLiveTests {
    @Test func queuedTasksRunThroughConnectionRequestsAndComplete() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        var configuration = TandemConfiguration()
        configuration.dataDirectory = directory
        configuration.cwmp.listen = ListenAddress(host: "127.0.0.1", port: 0)
        configuration.cwmp.authMode = .digest
        configuration.cwmp.passwordTemplate = "pw-{serialNumber}"
        configuration.usp.webSocketListen = nil
        let server = try TandemServer(configuration: configuration, logger: Logger(label: "cwmp-live"))

        let (ports, continuation) = AsyncStream.makeStream(of: (String, Int).self)
        // A file server for Download.
        let fileServer: some ApplicationProtocol = {
            let files = Router()
            files.get("/firmware/:name") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "firmware version=2.4.0\n"))) }
            return Application(router: files, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                               onServerRunning: { continuation.yield(("files", $0.localAddress?.port ?? 0)) })
        }()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.makeCWMPApplication { continuation.yield(("cwmp", $0.localAddress?.port ?? 0)) }.runService() }
            group.addTask { try await fileServer.runService() }
            defer { group.cancelAll() }
            var bound: [String: Int] = [:]
            for await (name, port) in ports {
                bound[name] = port
                if bound.count == 2 { break }
            }
            let cwmpPort = try #require(bound["cwmp"]), filePort = try #require(bound["files"])
            let fleet = try SimulatedFleet(configuration: SimulatedFleet.Configuration(
                count: 3, serialPrefix: "LIVE", acsURL: "http://127.0.0.1:\(cwmpPort)/cwmp", usernameTemplate: "{deviceId}", passwordTemplate: "pw-{serial}",
                connectionRequestUsernameTemplate: "{serial}", connectionRequestPasswordTemplate: "cr-{serial}", periodicInformEnable: false,
                device: .init(retryMinimumWait: .milliseconds(100), retryMaximumWait: .seconds(2), rebootDuration: .milliseconds(100), httpTimeout: .seconds(10))))
            group.addTask { try await fleet.run() }
            #expect(try await USPControllerLiveTests.eventually(.seconds(30)) { try await server.registry.countDevices(matching: DeviceFilter()) == 3 })
            let devices = try await server.registry.devices(matching: DeviceFilter(), page: Page())
            for device in devices {
                try await server.registry.setCredentials(
                    deviceID: device.id, purpose: .connectionRequest, username: device.serialNumber, password: "cr-\(device.serialNumber)", actor: "test")
            }
            let device = devices[0]
            let cpe = try #require(fleet.device(serialNumber: device.serialNumber))
            #expect(device.connectionRequestURL == (await cpe.connectionRequestURL))

            func run(_ operation: TandemCore.Operation) async throws -> DeviceTask {
                let fresh = try #require(try await server.registry.device(.registryID(device.id)))
                let submission = try await server.operations.submit(operation, to: fresh, actor: "test")
                #expect(submission.connectionRequest?.isAccepted ?? true, "\(operation.name): \(String(describing: submission.connectionRequest))")
                return try await server.operations.wait(forTask: submission.task.id, timeout: .seconds(20))
            }

            let get = try await run(.get(paths: [try PathExpression("Device.DeviceInfo.")]))
            #expect(get.state == .done)
            #expect(get.result?.value(at: "Device.DeviceInfo.SerialNumber") == .string(device.serialNumber))
            #expect(try await server.registry.parameters(deviceID: device.id, under: "Device.DeviceInfo.").count > 5)

            // GetParameterNames: names and writability reach the registry.
            let discover = try await run(.discover(object: try PathExpression("Device.WiFi."), nextLevel: false))
            #expect(discover.state == .done)
            #expect(discover.result?.entries.contains { $0.path == "Device.WiFi.SSID.1.SSID" && $0.writable == true } == true)
            #expect(try await server.registry.parameters(deviceID: device.id, under: "Device.WiFi.SSID.1.SSID").first?.writable == true)

            let set = try await run(.set(
                values: [ParameterSetting(path: try PathExpression("Device.WiFi.SSID.1.SSID"), value: .string("tandem-live"))], allowPartial: false, parameterKey: "live-1"))
            #expect(set.state == .done)
            #expect(await cpe.value("Device.WiFi.SSID.1.SSID") == .string("tandem-live"))
            #expect(await cpe.value("Device.ManagementServer.ParameterKey") == .string("live-1"))

            let add = try await run(.add(object: try PathExpression("Device.WiFi.SSID."), parameters: [ParameterSetting(path: try PathExpression("SSID"), value: .string("added"))]))
            #expect(add.state == .done)
            let created = try #require(add.result?.createdObject)
            #expect(await cpe.value(created + "SSID") == .string("added"))
            #expect(try await server.registry.parameters(deviceID: device.id, under: created + "SSID").first?.value == .string("added"))

            let delete = try await run(.delete(objects: [try PathExpression(created)]))
            #expect(delete.state == .done)
            #expect(await cpe.value(created + "SSID") == nil)

            let reboot = try await run(.reboot(commandKey: nil))
            #expect(reboot.state == .done)  // completed by the `M Reboot` Inform after the reboot
            #expect(try await server.registry.events(deviceID: device.id, limit: 50).contains { $0.kind == "boot" })

            let download = try await run(.download(FileTransfer(kind: .firmware, url: "http://127.0.0.1:\(filePort)/firmware/image-2.4.0.bin")))
            #expect(download.state == .done)
            #expect(try await USPControllerLiveTests.eventually(.seconds(20)) { await cpe.value("Device.DeviceInfo.SoftwareVersion") == .string("2.4.0") })
            #expect(try await USPControllerLiveTests.eventually(.seconds(20)) {
                try await server.registry.device(.registryID(device.id))?.softwareVersion == "2.4.0"
            })

            // A device that does not answer its connection request keeps its task queued.
            let silent = devices[1]
            try await server.registry.setCredentials(deviceID: silent.id, purpose: .connectionRequest, username: silent.serialNumber, password: "wrong", actor: "test")
            let refused = try await server.operations.submit(.get(paths: [try PathExpression("Device.DeviceInfo.UpTime")]), to: silent, actor: "test")
            #expect(refused.connectionRequest == .authenticationFailed)
            #expect(try await server.registry.task(id: refused.task.id)?.state == .queued)
        }
    }
}
