import CWMP
import Foundation
import Simulator
import TandemCore
import Testing

/// Many devices at once, the TR-098 variant, and the `tandem-sim` executable.
@Suite struct FleetTests {
    @Test func fiftyDevicesAllCompleteABootSession() async throws {
        let acs = FakeACS()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await acs.run() }
            let base = await acs.baseURL()
            let fleet = try SimulatedFleet(configuration: .init(
                count: 50, serialPrefix: "FLT", acsURL: base + "/acs", usernameTemplate: "{serial}", passwordTemplate: "pw-{serial}",
                periodicInformEnable: false, concurrency: 10, device: .init(retryMinimumWait: .milliseconds(50))))
            let records = try await fleet.runBootSessions(attempts: 3)
            group.cancelAll()

            #expect(records.count == 50)
            #expect(records.allSatisfy { $0.isCompleted })
            let sessions = await acs.sessions().filter(\.ended)
            let serials = Set(sessions.map(\.serial))
            #expect(serials.count == 50)
            #expect(serials.contains("FLT000001") && serials.contains("FLT000050"))
            #expect(sessions.allSatisfy { $0.inform.events.map(\.code) == [.bootstrap, .boot] })
            // Each device reported its own connection request URL on the shared listener.
            let urls = Set(sessions.compactMap { $0.inform.value(of: "Device.ManagementServer.ConnectionRequestURL")?.lexical })
            #expect(urls.count == 50)
            let statuses = await fleet.statuses()
            #expect(statuses.allSatisfy { $0.sessionsCompleted == 1 && $0.bootstrapped })
        }
    }

    @Test func tr098DevicesInformWithTheIGDRoot() async throws {
        let acs = FakeACS()
        await acs.enqueue(
            .getParameterValues(names: ["InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.", "InternetGatewayDevice.Time.NTPServer1"]),
            .setParameterValues(parameters: [
                CWMPParameterValue(name: "InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.PreSharedKey.1.KeyPassphrase", value: .string("correct horse")),
                CWMPParameterValue(name: "InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.SSID", value: .string("IGD-Home")),
            ], parameterKey: "igd"),
            .getParameterValues(names: ["Device.DeviceInfo."]))
        try await withSimulation(acs: acs, configure: { $0.variant = .tr098 }) { acs, fleet in
            let session = try #require(try await acs.waitForEndedSessions(1).first)
            let inform = session.inform
            #expect(inform.dataModelRoot == "InternetGatewayDevice")
            #expect(inform.parameters.allSatisfy { $0.name.hasPrefix("InternetGatewayDevice.") })
            #expect(inform.value(of: "InternetGatewayDevice.DeviceSummary")?.lexical.hasPrefix("InternetGatewayDevice:1.4") == true)
            #expect(inform.value(of: "InternetGatewayDevice.DeviceInfo.SoftwareVersion") == .string("1.0.0"))
            #expect(inform.value(of: "InternetGatewayDevice.ManagementServer.ConnectionRequestURL")?.lexical.hasSuffix("/cr/SIM000001") == true)
            #expect(inform.value(of: "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANIPConnection.1.ExternalIPAddress") != nil)

            let wlan = try #require(values(session.exchanges[0].answer))
            #expect(wlan.value("InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.SSID") == .string("Tandem-0001"))
            #expect(wlan.value("InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.KeyPassphrase") == .string(""))
            #expect(wlan.value("InternetGatewayDevice.Time.NTPServer1") == .string("pool.ntp.org"))
            #expect(session.exchanges[1].answer.cpeResponse == .setParameterValues(status: 0))
            #expect(session.exchanges[2].answer.fault?.code == .invalidParameterName)
            let device = fleet.devices[0]
            #expect(await device.value("InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.PreSharedKey.1.KeyPassphrase") == .string("correct horse"))
        }
    }

    /// The `tandem-sim` executable built beside the test bundle.
    static func executable() throws -> URL {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [directory, directory.deletingLastPathComponent(), directory.deletingLastPathComponent().deletingLastPathComponent()] {
            let url = candidate.appendingPathComponent("tandem-sim")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        throw TestFailure("tandem-sim was not found near \(CommandLine.arguments[0]); build with --build-tests")
    }

    /// Runs `tandem-sim` to completion; exit status and standard output.
    static func runSimulator(_ arguments: [String]) async throws -> (status: Int32, output: String, errors: String) {
        let process = Process()
        process.executableURL = try executable()
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let deadline = ContinuousClock.now + .seconds(60)
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                process.terminate()
                throw TestFailure("tandem-sim \(arguments) did not finish")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationStatus, output, errors)
    }

    @Test func tandemSimOnceExitsZeroWhenEveryBootSessionCompletes() async throws {
        let acs = FakeACS()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await acs.run() }
            let base = await acs.baseURL()
            let ok = try await Self.runSimulator([
                "cwmp", "--acs", base + "/acs", "--count", "5", "--serial-prefix", "CLI", "--username-template", "{serial}",
                "--password-template", "pw-{serial}", "--model", "tr098", "--once",
            ])
            #expect(ok.status == 0, "\(ok.errors)")
            #expect(ok.output.contains("5 of 5 boot sessions completed"))
            let serials = Set(await acs.sessions().filter(\.ended).map(\.serial))
            #expect(serials == Set((1...5).map { "CLI00000\($0)" }))

            let refused = try await Self.runSimulator([
                "cwmp", "--acs", base + "/acs", "--count", "2", "--password-template", "wrong", "--once", "--attempts", "1",
            ])
            #expect(refused.status == 1)
            #expect(refused.output.contains("0 of 2 boot sessions completed"))
            #expect(refused.errors.contains("refused the credentials"))

            let usage = try await Self.runSimulator(["cwmp", "--acs", "ftp://nowhere", "--once"])
            #expect(usage.status != 0)
            group.cancelAll()
        }
    }
}
