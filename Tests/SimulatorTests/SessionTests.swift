import CWMP
import HTTPAuthentication
import Simulator
import TandemCore
import Testing

/// Live sessions against the fake ACS on 127.0.0.1.
@Suite struct SessionTests {
    @Test func bootSessionAuthenticatesWithDigestAndReportsIdentity() async throws {
        try await withSimulation { acs, fleet in
            let device = try #require(fleet.devices.first)
            let sessions = try await acs.waitForEndedSessions(1)
            let session = try #require(sessions.first)
            let inform = session.inform

            #expect(inform.events.map(\.code) == [.bootstrap, .boot])
            #expect(inform.retryCount == 0)
            #expect(inform.deviceID.oui == "ACDE48")
            #expect(inform.deviceID.productClass == "SimGateway")
            #expect(inform.deviceID.serialNumber == "SIM000001")
            #expect(inform.deviceID.manufacturer == "Tandem Simulated Devices")
            #expect(inform.dataModelRoot == "Device")
            #expect(inform.value(of: "Device.DeviceInfo.SoftwareVersion") == .string("1.0.0"))
            #expect(inform.value(of: "Device.DeviceInfo.HardwareVersion") == .string("HW1.0"))
            #expect(inform.value(of: "Device.ManagementServer.ParameterKey") == .string(""))
            #expect(inform.value(of: "Device.RootDataModelVersion") == .string("2.19"))
            let crURL = try #require(inform.value(of: "Device.ManagementServer.ConnectionRequestURL")?.lexical)
            let base = try #require(fleet.connectionRequestServer.baseURL)
            #expect(crURL == base + "/cr/SIM000001")

            // Every POST was authenticated, with the strongest algorithm offered.
            #expect(!session.authorizations.isEmpty)
            #expect(session.authorizations.allSatisfy { DigestAuthorization(headerValue: $0)?.algorithm == .sha256 })
            #expect(session.authorizations.allSatisfy { DigestAuthorization(headerValue: $0)?.username == "SIM000001" })

            let record = try await device.waitForSession(number: 1)
            #expect(record.isCompleted)
            #expect(record.authenticationScheme == "Digest")
            let status = await device.status()
            #expect(status.bootstrapped)
            #expect(status.sessionsCompleted == 1)
            #expect(status.bootCount == 1)
        }
    }

    @Test func basicAuthenticationAndMD5OnlyDigest() async throws {
        try await withSimulation(acs: FakeACS(authentication: .basic)) { acs, fleet in
            try await acs.waitForEndedSessions(1)
            let record = try await fleet.devices[0].waitForSession(number: 1)
            #expect(record.authenticationScheme == "Basic")
        }
        try await withSimulation(acs: FakeACS(authentication: .digest([.md5]))) { acs, _ in
            let session = try #require(try await acs.waitForEndedSessions(1).first)
            #expect(session.authorizations.allSatisfy { DigestAuthorization(headerValue: $0)?.algorithm == .md5 })
        }
    }

    @Test func wrongCredentialsFailTheSessionAndAreRetried() async throws {
        let acs = FakeACS(password: { _ in "not-the-device-password" })
        try await withSimulation(acs: acs) { acs, fleet in
            let device = fleet.devices[0]
            let first = try await device.waitForSession(number: 1)
            guard case .failed(let failure) = first.outcome else {
                Issue.record("expected a failed session, got \(first.outcome)")
                return
            }
            #expect(failure.status == 401)
            let second = try await device.waitForSession(number: 2)
            #expect(second.retryCount == 1)
            #expect(second.events.map(\.code) == [.bootstrap, .boot])
            #expect(await acs.sessions().isEmpty)
        }
    }

    @Test func unavailableACSIsRetriedAfterRetryAfter() async throws {
        let acs = FakeACS()
        await acs.state.setRejectInforms(2)
        try await withSimulation(acs: acs) { acs, fleet in
            let session = try #require(try await acs.waitForEndedSessions(1).first)
            #expect(session.inform.retryCount == 2)
            #expect(session.has(.bootstrap) && session.has(.boot))
            // The device counts the session once it has seen the 204.
            #expect(try await fleet.devices[0].waitForSession(number: 3).isCompleted)
            let status = await fleet.devices[0].status()
            #expect(status.sessionsFailed == 2)
            #expect(status.sessionsCompleted == 1)
            let first = try await fleet.devices[0].waitForSession(number: 1)
            if case .failed(let failure) = first.outcome { #expect(failure.status == 503) } else { Issue.record("session 1 should have failed") }
        }
    }

    @Test func getParameterValuesAndNamesOnPartialPaths() async throws {
        let acs = FakeACS()
        await acs.enqueue(
            .getParameterValues(names: ["Device.DeviceInfo.", "Device.WiFi.SSID.1.SSID"]),
            .getParameterNames(path: "Device.WiFi.", nextLevel: true),
            .getParameterValues(names: ["Device.No.Such."]),
            .getRPCMethods)
        try await withSimulation(acs: acs) { acs, _ in
            let session = try #require(try await acs.waitForEndedSessions(1).first)
            #expect(session.exchanges.map(\.method) == ["GetParameterValues", "GetParameterNames", "GetParameterValues", "GetRPCMethods"])

            let info = try #require(values(session.exchanges[0].answer))
            #expect(info.allSatisfy { $0.name.hasPrefix("Device.DeviceInfo.") || $0.name == "Device.WiFi.SSID.1.SSID" })
            #expect(info.value("Device.DeviceInfo.Manufacturer") == .string("Tandem Simulated Devices"))
            #expect(info.value("Device.DeviceInfo.SerialNumber") == .string("SIM000001"))
            #expect(info.value("Device.DeviceInfo.UpTime")?.type == .unsignedInt)
            #expect(info.value("Device.DeviceInfo.MemoryStatus.Total") == .unsignedInt(524_288))
            #expect(info.value("Device.DeviceInfo.FirstUseDate")?.type == .dateTime)
            #expect(info.value("Device.WiFi.SSID.1.SSID") == .string("Tandem-0001"))
            #expect(info.last?.name == "Device.WiFi.SSID.1.SSID")

            let wifi = try #require(names(session.exchanges[1].answer))
            #expect(wifi.map(\.name).contains("Device.WiFi.SSID."))
            #expect(wifi.allSatisfy { $0.name.hasPrefix("Device.WiFi.") && $0.name.dropFirst("Device.WiFi.".count).dropLast().contains(".") == false })

            #expect(session.exchanges[2].answer.fault?.code == .invalidParameterName)
            guard case .getRPCMethods(let methods) = session.exchanges[3].answer.cpeResponse else {
                Issue.record("GetRPCMethods unanswered")
                return
            }
            #expect(methods.contains("Download") && methods.contains("GetParameterValues") && methods.contains("ChangeDUState"))
        }
    }

    @Test func setParameterValuesUpdatesValuesAndRejectsReadOnlyParameters() async throws {
        let acs = FakeACS()
        await acs.enqueue(
            .setParameterValues(
                parameters: [
                    CWMPParameterValue(name: "Device.WiFi.SSID.1.SSID", value: .string("Living Room")),
                    CWMPParameterValue(name: "Device.Time.NTPServer1", value: .string("ntp.example.net")),
                    CWMPParameterValue(name: "Device.ManagementServer.PeriodicInformInterval", value: .unsignedInt(600)),
                ], parameterKey: "cfg-1"),
            .setParameterValues(
                parameters: [
                    CWMPParameterValue(name: "Device.WiFi.SSID.2.SSID", value: .string("never applied")),
                    CWMPParameterValue(name: "Device.DeviceInfo.SerialNumber", value: .string("HACKED")),
                ], parameterKey: "cfg-2"),
            .getParameterValues(names: ["Device.WiFi.SSID.", "Device.ManagementServer.ParameterKey", "Device.Time.NTPServer1"]))
        try await withSimulation(acs: acs) { acs, fleet in
            let session = try #require(try await acs.waitForEndedSessions(1).first)
            #expect(session.exchanges[0].answer.cpeResponse == .setParameterValues(status: 0))

            let fault = try #require(session.exchanges[1].answer.fault)
            #expect(fault.code == .invalidArguments)
            #expect(fault.parameterFaults.count == 1)
            #expect(fault.parameterFaults.first?.parameterName == "Device.DeviceInfo.SerialNumber")
            #expect(fault.parameterFaults.first?.code == .notWritable)

            let read = try #require(values(session.exchanges[2].answer))
            #expect(read.value("Device.WiFi.SSID.1.SSID") == .string("Living Room"))
            #expect(read.value("Device.WiFi.SSID.2.SSID") == .string("Tandem-0001-5G"))
            #expect(read.value("Device.WiFi.SSID.1.Enable") == .boolean(true))
            #expect(read.value("Device.ManagementServer.ParameterKey") == .string("cfg-1"))
            #expect(read.value("Device.Time.NTPServer1") == .string("ntp.example.net"))
            #expect(await fleet.devices[0].value("Device.ManagementServer.PeriodicInformInterval") == .unsignedInt(600))
            #expect(await fleet.devices[0].value("Device.DeviceInfo.SerialNumber") == .string("SIM000001"))
        }
    }

    @Test func addObjectAndDeleteObjectChangeTheTable() async throws {
        let acs = FakeACS()
        await acs.enqueue(
            .addObject(objectName: "Device.WiFi.SSID.", parameterKey: "add-1"),
            .setParameterValues(parameters: [CWMPParameterValue(name: "Device.WiFi.SSID.3.SSID", value: .string("Guest"))], parameterKey: "set-1"),
            .getParameterNames(path: "Device.WiFi.SSID.", nextLevel: true),
            .deleteObject(objectName: "Device.WiFi.SSID.1.", parameterKey: "del-1"),
            .addObject(objectName: "Device.WiFi.SSID.", parameterKey: "add-2"),
            .getParameterValues(names: ["Device.WiFi.SSIDNumberOfEntries", "Device.ManagementServer.ParameterKey"]),
            .getParameterNames(path: "Device.WiFi.SSID.", nextLevel: true),
            .addObject(objectName: "Device.Hosts.Host.", parameterKey: "nope"),
            .deleteObject(objectName: "Device.WiFi.SSID.9.", parameterKey: "nope"))
        try await withSimulation(acs: acs) { acs, fleet in
            let session = try #require(try await acs.waitForEndedSessions(1).first)
            let answers = session.exchanges.map(\.answer)
            #expect(answers[0].cpeResponse == .addObject(instanceNumber: 3, status: 0))
            #expect(answers[1].cpeResponse == .setParameterValues(status: 0))
            #expect(names(answers[2])?.map(\.name) == ["Device.WiFi.SSID.1.", "Device.WiFi.SSID.2.", "Device.WiFi.SSID.3."])
            #expect(answers[3].cpeResponse == .deleteObject(status: 0))
            #expect(answers[4].cpeResponse == .addObject(instanceNumber: 4, status: 0))
            let read = try #require(values(answers[5]))
            #expect(read.value("Device.WiFi.SSIDNumberOfEntries") == .unsignedInt(3))
            #expect(read.value("Device.ManagementServer.ParameterKey") == .string("add-2"))
            #expect(names(answers[6])?.map(\.name) == ["Device.WiFi.SSID.2.", "Device.WiFi.SSID.3.", "Device.WiFi.SSID.4."])
            #expect(answers[7].fault?.code == .requestDenied)
            #expect(answers[8].fault?.code == .invalidParameterName)
            #expect(await fleet.devices[0].value("Device.WiFi.SSID.3.SSID") == .string("Guest"))
        }
    }

    @Test func unknownMethodsGetFault9000AndTheSessionGoesOn() async throws {
        let acs = FakeACS()
        await acs.enqueueRaw(method: "X_ACME_Frobnicate", body: "<cwmp:X_ACME_Frobnicate><Level>3</Level></cwmp:X_ACME_Frobnicate>")
        await acs.enqueue(.setVouchers(vouchers: [[1, 2, 3]]), .getRPCMethods)
        try await withSimulation(acs: acs) { acs, fleet in
            let session = try #require(try await acs.waitForEndedSessions(1).first)
            #expect(session.exchanges.count == 3)
            #expect(session.exchanges[0].answer.fault?.code == .methodNotSupported)
            #expect(session.exchanges[1].answer.fault?.code == .methodNotSupported)
            #expect(session.exchanges[2].answer.cpeResponse != nil)
            let record = try await fleet.devices[0].waitForSession(number: 1)
            #expect(record.acsMethods == ["X_ACME_Frobnicate", "SetVouchers", "GetRPCMethods"])
        }
    }

    @Test func localChangeWithActiveNotificationInformsValueChange() async throws {
        let acs = FakeACS()
        await acs.enqueue(.setParameterAttributes(parameters: [.notification("Device.WiFi.SSID.1.SSID", 2)]))
        try await withSimulation(acs: acs) { acs, fleet in
            try await acs.waitForEndedSessions(1)
            let device = fleet.devices[0]
            _ = try await device.waitForSession(number: 1)
            #expect(await device.setLocalValue("Device.WiFi.SSID.1.SSID", .string("Renamed by subscriber")))
            let sessions = try await acs.waitForEndedSessions(2)
            let inform = sessions[1].inform
            #expect(inform.events.map(\.code) == [.valueChange])
            #expect(inform.value(of: "Device.WiFi.SSID.1.SSID") == .string("Renamed by subscriber"))
        }
    }
}
