import Engine
import Foundation
import Logging
import NIOCore
import Hummingbird
import Registry
import Simulator
import TandemCore
import TandemServer
import Testing

@Suite struct PathAliasTests {
    @Test func translatesBothWays() {
        #expect(PathAliases.tr098(for: "Device.DeviceInfo.SoftwareVersion") == "InternetGatewayDevice.DeviceInfo.SoftwareVersion")
        #expect(PathAliases.tr098(for: "Device.WiFi.SSID.2.SSID") == "InternetGatewayDevice.LANDevice.1.WLANConfiguration.2.SSID")
        #expect(PathAliases.tr098(for: "Device.WiFi.AccessPoint.1.Security.KeyPassphrase") == "InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.KeyPassphrase")
        #expect(PathAliases.tr098(for: "Device.Hosts.Host.3.IPAddress") == "InternetGatewayDevice.LANDevice.1.Hosts.Host.3.IPAddress")
        #expect(PathAliases.tr098(for: "Device.IP.Interface.1.IPv4Address.1.IPAddress") == "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANIPConnection.1.ExternalIPAddress")
        #expect(PathAliases.tr181(for: "InternetGatewayDevice.LANDevice.1.WLANConfiguration.2.SSID") == "Device.WiFi.SSID.2.SSID")
        #expect(PathAliases.tr181(for: "InternetGatewayDevice.Time.NTPServer1") == "Device.Time.NTPServer1")
        #expect(PathAliases.tr098(for: "Device.WiFi.SSID.x.SSID") == nil)
        #expect(PathAliases.tr098(for: "Device.USPAgent.EndpointID") == nil)
        for (tr181, tr098) in PathAliases.table where !tr181.contains("{i}") {
            #expect(PathAliases.tr181(for: PathAliases.tr098(for: tr181) ?? "") == tr181)
            #expect(PathAliases.tr098(for: tr181) == tr098)
        }
    }

    @Test func unknownPathsAreRefusedWithTheirName() throws {
        #expect {
            try PathAliases.forTR098(.get(paths: [try PathExpression("Device.USPAgent.EndpointID")]))
        } throws: { error in
            (error as? Fault)?.category == .invalidPath && (error as? Fault)?.message.contains("Device.USPAgent.EndpointID") == true
        }
    }

    @Test func everyAliasIsDocumentedInTheReadme() throws {
        let readme = try String(contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        for (tr181, tr098) in PathAliases.table {
            #expect(readme.contains("`\(tr181)`") && readme.contains("`\(tr098)`"), "\(tr181)")
        }
    }

    /// A TR-098 CPE read and written with TR-181 paths, through the whole ACS.
    @Test func tr098DeviceAnswersTR181Paths() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        var configuration = TandemConfiguration()
        configuration.dataDirectory = directory
        configuration.cwmp.listen = ListenAddress(host: "127.0.0.1", port: 0)
        configuration.cwmp.authMode = .open
        configuration.usp.webSocketListen = nil
        let server = try TandemServer(configuration: configuration, logger: Logger(label: "tr098"))
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.makeCWMPApplication { continuation.yield($0.localAddress?.port ?? 0) }.runService() }
            defer { group.cancelAll() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let fleet = try SimulatedFleet(configuration: SimulatedFleet.Configuration(
                count: 1, serialPrefix: "IGD", variant: .tr098, acsURL: "http://127.0.0.1:\(port)/",
                connectionRequestUsernameTemplate: "{serial}", connectionRequestPasswordTemplate: "cr-{serial}", periodicInformEnable: false,
                device: .init(retryMinimumWait: .milliseconds(100), retryMaximumWait: .seconds(2), httpTimeout: .seconds(10))))
            group.addTask { try await fleet.run() }
            #expect(try await USPControllerLiveTests.eventually(.seconds(30)) { try await server.registry.countDevices(matching: DeviceFilter()) == 1 })
            let device = try #require(try await server.registry.devices(matching: DeviceFilter(), page: Page()).first)
            #expect(device.dataModelRoot == "InternetGatewayDevice")
            try await server.registry.setCredentials(deviceID: device.id, purpose: .connectionRequest, username: device.serialNumber, password: "cr-\(device.serialNumber)", actor: "t")

            let set = try await server.operations.submit(
                .set(values: [ParameterSetting(path: try PathExpression("Device.WiFi.SSID.1.SSID"), value: .string("aliased"))], allowPartial: false, parameterKey: nil),
                to: device, actor: "test")
            #expect(try await server.operations.wait(forTask: set.task.id, timeout: .seconds(20)).state == .done)
            #expect(await fleet.devices[0].value("InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.SSID") == .string("aliased"))

            let get = try await server.operations.submit(.get(paths: [try PathExpression("Device.WiFi.SSID.1.SSID")]), to: device, actor: "test")
            let done = try await server.operations.wait(forTask: get.task.id, timeout: .seconds(20))
            #expect(done.state == .done)
            #expect(done.result?.value(at: "Device.WiFi.SSID.1.SSID") == .string("aliased"))

            let unknown = try await server.operations.submit(.get(paths: [try PathExpression("Device.USPAgent.EndpointID")]), to: device, actor: "test")
            let refused = try await server.operations.wait(forTask: unknown.task.id, timeout: .seconds(20))
            #expect(refused.state == .faulted)
            #expect(refused.fault?.category == .invalidPath)
        }
    }
}
