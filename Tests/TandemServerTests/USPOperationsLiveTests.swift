import Engine
import ServiceLifecycle
import Foundation
import Hummingbird
import MTPWebSocket
import Registry
import TandemCore
import TandemServer
import Testing
import USPAgentSimulator

/// The operations of the operations issue against a simulated USP agent over WebSocket: attributes
/// as ValueChange subscriptions, deployment units, supported protocol versions, the firmware image
/// chosen for a download, and clear refusals where USP has no equivalent.
extension USPControllerLiveTests {
    @Test func neutralOperationsMapToUSP() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let server = try makeServer(directory)
        let received = ReceivedFiles()
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let fileServer = makeFileServer(received: received) { continuation.yield($0) }
        try await withThrowingTaskGroup(of: Void.self) { outer in
            for service in server.uspServices { outer.addTask { try await service.run() } }
            outer.addTask { try await fileServer.runService() }
            defer { outer.cancelAll() }
            var portIterator = ports.makeAsyncIterator()
            let filePort = try #require(await portIterator.next())
            let wsPort = try await server.webSocketTransport!.listeningPort()
            let agent = SimulatedAgent(
                identity: .init(oui: "00D09E", productClass: "SimGateway", serialNumber: "OPS001", softwareVersion: "1.0.0"),
                controllerEndpointID: "self::tandem-test", mtp: .webSocket(url: "ws://127.0.0.1:\(wsPort)/usp"))
            outer.addTask { try await agent.run() }
            #expect(try await Self.eventually { await agent.subscriptionIDs().count == 2 })
            let device = try #require(try await server.registry.device(try DeviceIdentifier(parsing: "os::00D09E-OPS001")))
            #expect(try await Self.eventually {
                try await server.registry.parameters(deviceID: device.id, under: "Device.DeviceInfo.FirmwareImage.2.Status").first != nil
            })
            func run(_ operation: TandemCore.Operation) async throws -> DeviceTask {
                let submission = try await server.operations.submit(operation, to: device, actor: "test")
                return try await server.operations.wait(forTask: submission.task.id, timeout: .seconds(10))
            }
            let p = { (s: String) in try PathExpression(s) }

            let methods = try await run(.supportedMethods)
            #expect(methods.state == .done)
            #expect(methods.result?.outputArguments["AgentSupportedProtocolVersions"]?.contains("1.") == true)

            // Notification attributes become ValueChange subscriptions, and off removes them again.
            let on = try await run(.setAttributes([AttributeSetting(path: try p("Device.WiFi.SSID.1.SSID"), notification: .active)]))
            #expect(on.state == .done, "\(String(describing: on.fault))")
            #expect(on.result?.entries.first?.notification == 2)
            #expect(await agent.subscriptionIDs().contains("tandem-attr-Device.WiFi.SSID.1.SSID"))
            let onAgain = try await run(.setAttributes([AttributeSetting(path: try p("Device.WiFi.SSID.1.SSID"), notification: .passive)]))
            #expect(onAgain.state == .done, "\(String(describing: onAgain.fault))")
            #expect(await agent.subscriptionIDs().filter { $0.hasPrefix("tandem-attr-") } == ["tandem-attr-Device.WiFi.SSID.1.SSID"])
            let off = try await run(.setAttributes([AttributeSetting(path: try p("Device.WiFi.SSID.1.SSID"), notification: .off)]))
            #expect(off.state == .done, "\(String(describing: off.fault))")
            #expect(await agent.subscriptionIDs() == ["tandem-boot", "tandem-operation-complete"])

            let attributes = try await run(.getAttributes(paths: [try p("Device.WiFi.SSID.1.SSID")]))
            #expect(attributes.state == .faulted)
            #expect(attributes.fault?.category == .notSupported)
            #expect(attributes.fault?.message.contains("Subscription") == true)
            let scheduled = try await run(.scheduleDownload(FileTransfer(kind: .firmware, url: "http://h/fw.bin"), windows: [TransferWindow(start: 0, end: 60)]))
            #expect(scheduled.fault?.category == .notSupported)

            // Deployment units: InstallDU() and DeploymentUnit.[UUID==...].Uninstall(), completed by OperationComplete.
            let uuid = "6f1c2a3b-0000-4000-8000-00000000abcd"
            let install = try await run(.changeDUState([.install(url: "http://files.example/app-1.2.ipk", uuid: uuid, username: nil, password: nil, executionEnvRef: nil)]))
            #expect(install.state == .done, "\(String(describing: install.fault))")
            #expect(install.result?.outputArguments["UUID"] == uuid)
            let unit = try #require(install.result?.outputArguments["DeploymentUnitRef"])
            #expect(await agent.value(unit + ".Version") == "1.2")
            let two = try await run(.changeDUState([
                .uninstall(uuid: uuid, version: nil, executionEnvRef: nil), .uninstall(uuid: uuid, version: nil, executionEnvRef: nil),
            ]))
            #expect(two.fault?.category == .invalidArguments)
            #expect(two.fault?.message.contains("one deployment-unit operation") == true)
            let uninstall = try await run(.changeDUState([.uninstall(uuid: uuid, version: nil, executionEnvRef: nil)]))
            #expect(uninstall.state == .done, "\(String(describing: uninstall.fault))")
            #expect(await agent.instances(of: "Device.SoftwareModules.DeploymentUnit.").isEmpty)
            let unknown = try await run(.changeDUState([.uninstall(uuid: uuid, version: nil, executionEnvRef: nil)]))
            #expect(unknown.state == .faulted)

            // Configuration backup to a real HTTP receiver: VendorConfigFile.1.Backup(), then OperationComplete.
            let upload = try await run(.upload(FileTransfer(kind: .configuration, url: "http://127.0.0.1:\(filePort)/upload/usp.cfg")))
            #expect(upload.state == .done, "\(String(describing: upload.fault))")
            let bytes = try #require(await received.file("/upload/usp.cfg"))
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(text.hasPrefix("# usp-agent-sim configuration backup\n"))
            #expect(text.contains("\nDevice.WiFi.SSID.1.SSID=\(await agent.value("Device.WiFi.SSID.1.SSID") ?? "?")\n"))

            // Firmware goes to the inactive image the registry knows of (image 1 is active).
            let download = try await run(.download(FileTransfer(kind: .firmware, url: "http://files.example/fw-3.bin")))
            #expect(download.state == .done)
            #expect(await agent.value("Device.DeviceInfo.FirmwareImage.2.Version") == "fw-3")
            #expect(await agent.value("Device.DeviceInfo.FirmwareImage.1.Version") == "1.0.0")
        }
    }
}
