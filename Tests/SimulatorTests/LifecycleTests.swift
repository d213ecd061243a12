import CWMP
import Foundation
import Simulator
import TandemCore
import Testing

/// What happens after a session: reboots, factory resets, transfers, scheduled and periodic Informs.
@Suite struct LifecycleTests {
    @Test func rebootYieldsANewSessionWithBootAndMReboot() async throws {
        let acs = FakeACS()
        await acs.enqueue(.reboot(commandKey: "reboot-42"))
        try await withSimulation(acs: acs) { acs, fleet in
            let sessions = try await acs.waitForEndedSessions(2)
            #expect(sessions[0].exchanges.first?.answer.cpeResponse == .reboot)
            let inform = sessions[1].inform
            #expect(inform.events == [CWMPEvent(code: .boot), CWMPEvent(code: .mReboot, commandKey: "reboot-42")])
            #expect(!inform.has(.bootstrap))
            let status = await fleet.devices[0].status()
            #expect(status.bootCount == 2)
            #expect(status.bootstrapped)
        }
    }

    @Test func factoryResetRestoresTheModelAndBootstrapsAgain() async throws {
        let acs = FakeACS()
        await acs.enqueue(
            .setParameterValues(parameters: [CWMPParameterValue(name: "Device.WiFi.SSID.1.SSID", value: .string("Changed"))], parameterKey: "before-reset"),
            .addObject(objectName: "Device.MQTT.Client.", parameterKey: "before-reset"),
            .factoryReset)
        try await withSimulation(acs: acs) { acs, fleet in
            let sessions = try await acs.waitForEndedSessions(2)
            #expect(sessions[0].exchanges.last?.answer.cpeResponse == .factoryReset)
            let inform = sessions[1].inform
            #expect(inform.events.map(\.code) == [.bootstrap, .boot])
            #expect(inform.value(of: "Device.ManagementServer.ParameterKey") == .string(""))
            // The ConnectionRequestURL survives: it describes the listener, not a setting.
            #expect(inform.value(of: "Device.ManagementServer.ConnectionRequestURL")?.lexical.hasSuffix("/cr/SIM000001") == true)
            let device = fleet.devices[0]
            #expect(await device.value("Device.WiFi.SSID.1.SSID") == .string("Tandem-0001"))
            #expect(await device.dataModel().instances(of: "Device.MQTT.Client.") == [])
        }
    }

    @Test func firmwareDownloadReportsTransferCompleteAndTheNewVersion() async throws {
        let acs = FakeACS()
        await acs.state.addFile("gateway-2.5.0.bin", Array("\u{7F}ELF....\nBUILD_INFO\nversion=2.5.0-sim\n".utf8) + [UInt8](repeating: 0xA5, count: 4096))
        try await withSimulation(acs: acs) { acs, fleet in
            try await acs.waitForEndedSessions(1)
            let url = await acs.baseURL() + "/files/gateway-2.5.0.bin"
            await acs.enqueue(.download(ACSRequest.Download(
                commandKey: "fw-upgrade-1", fileType: "1 Firmware Upgrade Image", url: url, username: "SIM000001", password: "pw-SIM000001",
                fileSize: 4131, targetFileName: "gateway-2.5.0.bin")))
            let device = fleet.devices[0]
            await device.requestSession(events: [CWMPEvent(code: .periodic)])

            let sessions = try await acs.waitForEndedSessions(3)
            guard case .download(let status) = sessions[1].exchanges.first?.answer.cpeResponse else {
                Issue.record("Download unanswered: \(String(describing: sessions[1].exchanges.first?.answer))")
                return
            }
            #expect(status.status == 1)
            #expect(status.startTime == .unknown)

            let boot = sessions[2]
            #expect(boot.inform.events == [
                CWMPEvent(code: .boot), CWMPEvent(code: .transferComplete), CWMPEvent(code: .mDownload, commandKey: "fw-upgrade-1"),
            ])
            #expect(boot.inform.value(of: "Device.DeviceInfo.SoftwareVersion") == .string("2.5.0-sim"))
            guard case .transferComplete(let complete) = boot.cpeRequests.first else {
                Issue.record("no TransferComplete: \(boot.cpeRequests)")
                return
            }
            #expect(complete.commandKey == "fw-upgrade-1")
            #expect(complete.fault.isSuccess)
            let start = try #require(complete.startTime.value?.date)
            let end = try #require(complete.completeTime.value?.date)
            #expect(start <= end)
            #expect(await device.status().softwareVersion == "2.5.0-sim")
            #expect(await device.status().undeliveredRequests == 0)
        }
    }

    @Test func failedDownloadReportsTheFaultWithoutRebooting() async throws {
        let acs = FakeACS()
        try await withSimulation(acs: acs) { acs, fleet in
            try await acs.waitForEndedSessions(1)
            let base = await acs.baseURL()
            await acs.enqueue(
                .download(ACSRequest.Download(
                    commandKey: "missing", fileType: "1 Firmware Upgrade Image", url: base + "/files/absent.bin", username: "SIM000001",
                    password: "pw-SIM000001")),
                .download(ACSRequest.Download(commandKey: "ftp", fileType: "1 Firmware Upgrade Image", url: "ftp://files.example/fw.bin")))
            await fleet.devices[0].requestSession(events: [CWMPEvent(code: .periodic)])
            let sessions = try await acs.waitForEndedSessions(3)
            #expect(sessions[1].exchanges[1].answer.fault?.code == .unsupportedTransferProtocol)
            let report = sessions[2]
            #expect(report.inform.events.map(\.code) == [.transferComplete, .mDownload])
            guard case .transferComplete(let complete) = report.cpeRequests.first else {
                Issue.record("no TransferComplete")
                return
            }
            #expect(complete.commandKey == "missing")
            #expect(complete.fault.code == .fileAccessFailure)
            #expect(await fleet.devices[0].status().bootCount == 1)
            #expect(await fleet.devices[0].status().softwareVersion == "1.0.0")
        }
    }

    @Test func configurationBackupUploadsAndRestores() async throws {
        let acs = FakeACS()
        try await withSimulation(acs: acs) { acs, fleet in
            try await acs.waitForEndedSessions(1)
            let base = await acs.baseURL()
            await acs.enqueue(
                .setParameterValues(parameters: [CWMPParameterValue(name: "Device.Time.NTPServer2", value: .string("backup.ntp.example"))], parameterKey: "b"),
                .upload(ACSRequest.Upload(
                    commandKey: "backup-1", fileType: "1 Vendor Configuration File", url: base + "/upload/SIM000001.cfg", username: "SIM000001",
                    password: "pw-SIM000001")))
            let device = fleet.devices[0]
            await device.requestSession(events: [CWMPEvent(code: .periodic)])
            let sessions = try await acs.waitForEndedSessions(3)
            #expect(sessions[2].inform.events == [CWMPEvent(code: .transferComplete), CWMPEvent(code: .mUpload, commandKey: "backup-1")])
            guard case .transferComplete(let complete) = sessions[2].cpeRequests.first else {
                Issue.record("no TransferComplete")
                return
            }
            #expect(complete.fault.isSuccess)
            let uploaded = try #require(await acs.state.uploads["SIM000001.cfg"])
            let text = String(decoding: uploaded, as: UTF8.self)
            #expect(text.contains("Device.Time.NTPServer2=backup.ntp.example\n"))
            #expect(text.contains("Device.WiFi.SSID.1.SSID=Tandem-0001\n"))
            #expect(!text.contains("Device.DeviceInfo.SerialNumber="))

            // Restore a modified copy as a configuration download.
            await acs.state.addFile("restore.cfg", Array(text.replacingOccurrences(of: "backup.ntp.example", with: "restored.ntp.example").utf8))
            await acs.enqueue(.download(ACSRequest.Download(
                commandKey: "restore-1", fileType: "3 Vendor Configuration File", url: base + "/files/restore.cfg", username: "SIM000001",
                password: "pw-SIM000001")))
            await device.requestSession(events: [CWMPEvent(code: .periodic)])
            let more = try await acs.waitForEndedSessions(5)
            #expect(more[4].inform.events.map(\.code) == [.transferComplete, .mDownload])
            #expect(await device.value("Device.Time.NTPServer2") == .string("restored.ntp.example"))
        }
    }

    @Test func scheduleDownloadRunsInItsWindow() async throws {
        try await withSimulation { acs, fleet in
            try await acs.waitForEndedSessions(1)
            let base = await acs.baseURL()
            await acs.state.addFile("settings.cfg", Array("# partial settings\nDevice.Time.NTPServer1=window.ntp.example\n".utf8))
            let window = ACSRequest.TimeWindow(windowStart: 1, windowEnd: 60, windowMode: "1 At Any Time")
            await acs.enqueue(
                .scheduleDownload(ACSRequest.ScheduleDownload(
                    commandKey: "sd-1", fileType: "3 Vendor Configuration File", url: base + "/files/settings.cfg", username: "SIM000001",
                    password: "pw-SIM000001", timeWindows: [window])),
                .scheduleDownload(ACSRequest.ScheduleDownload(
                    commandKey: "sd-2", fileType: "3 Vendor Configuration File", url: base + "/files/settings.cfg",
                    timeWindows: [ACSRequest.TimeWindow(windowStart: 30, windowEnd: 10, windowMode: "1 At Any Time")])))
            let device = fleet.devices[0]
            await device.requestSession(events: [CWMPEvent(code: .periodic)])
            let sessions = try await acs.waitForEndedSessions(3)
            #expect(sessions[1].exchanges[0].answer.cpeResponse == .scheduleDownload)
            #expect(sessions[1].exchanges[1].answer.fault?.code == .invalidArguments)
            #expect(sessions[2].inform.events == [CWMPEvent(code: .transferComplete), CWMPEvent(code: .mScheduleDownload, commandKey: "sd-1")])
            guard case .transferComplete(let complete) = sessions[2].cpeRequests.first else {
                Issue.record("no TransferComplete")
                return
            }
            #expect(complete.commandKey == "sd-1")
            #expect(complete.fault.isSuccess)
            #expect(await device.value("Device.Time.NTPServer1") == .string("window.ntp.example"))
        }
    }

    @Test func scheduleInformAndPeriodicInform() async throws {
        let acs = FakeACS()
        await acs.enqueue(
            .scheduleInform(delaySeconds: 1, commandKey: "later"),
            .scheduleInform(delaySeconds: 0, commandKey: "never"),
            .setParameterValues(parameters: [
                CWMPParameterValue(name: "Device.ManagementServer.PeriodicInformEnable", value: .boolean(true)),
                CWMPParameterValue(name: "Device.ManagementServer.PeriodicInformInterval", value: .unsignedInt(2)),
            ], parameterKey: "periodic"))
        try await withSimulation(acs: acs) { acs, _ in
            let first = try #require(try await acs.waitForEndedSessions(1).first)
            #expect(first.exchanges[0].answer.cpeResponse == .scheduleInform)
            #expect(first.exchanges[1].answer.fault?.code == .invalidArguments)
            let sessions = try await acs.waitForEndedSessions(3, timeout: .seconds(20))
            let scheduled = try #require(sessions.first { $0.has(.scheduled) })
            #expect(scheduled.inform.events.contains(CWMPEvent(code: .mScheduleInform, commandKey: "later")))
            #expect(sessions.contains { $0.has(.periodic) })
        }
    }

    @Test func transfersCanBeListedAndCancelled() async throws {
        let acs = FakeACS()
        let download = ACSRequest.Download(
            commandKey: "slow", fileType: "1 Firmware Upgrade Image", url: "http://127.0.0.1:9/fw.bin", fileSize: 10, targetFileName: "fw.bin",
            delaySeconds: 3600)
        await acs.enqueue(
            .download(download), .getAllQueuedTransfers, .getQueuedTransfers, .cancelTransfer(commandKey: "slow"),
            .cancelTransfer(commandKey: "slow"), .getQueuedTransfers)
        try await withSimulation(acs: acs) { acs, _ in
            let session = try #require(try await acs.waitForEndedSessions(1).first)
            let answers = session.exchanges.map(\.answer)
            #expect(answers[1].cpeResponse == .getAllQueuedTransfers(transfers: [
                CPEResponse.AllQueuedTransfer(
                    commandKey: "slow", state: 1, isDownload: true, fileType: "1 Firmware Upgrade Image", fileSize: 10, targetFileName: "fw.bin")
            ]))
            #expect(answers[2].cpeResponse == .getQueuedTransfers(transfers: [CPEResponse.QueuedTransfer(commandKey: "slow", state: 1)]))
            #expect(answers[3].cpeResponse == .cancelTransfer)
            #expect(answers[4].fault?.code == .invalidArguments)
            #expect(answers[5].cpeResponse == .getQueuedTransfers(transfers: []))
        }
    }

    @Test func changeDUStateReportsDUStateChangeComplete() async throws {
        let acs = FakeACS()
        await acs.enqueue(.changeDUState(ACSRequest.ChangeDUState(
            operations: [
                .install(url: "http://apps.example/speedtest-1.4.2.ipk", uuid: "6f1c7a4e-2b3d-4c5e-8f90-123456789abc"),
                .uninstall(uuid: "00000000-0000-4000-8000-000000000000"),
            ], commandKey: "du-1")))
        try await withSimulation(acs: acs) { acs, _ in
            let sessions = try await acs.waitForEndedSessions(2)
            #expect(sessions[0].exchanges.first?.answer.cpeResponse == .changeDUState)
            #expect(sessions[1].inform.events == [
                CWMPEvent(code: .duStateChangeComplete), CWMPEvent(code: .mChangeDUState, commandKey: "du-1"),
            ])
            guard case .duStateChangeComplete(let complete) = sessions[1].cpeRequests.first else {
                Issue.record("no DUStateChangeComplete")
                return
            }
            #expect(complete.commandKey == "du-1")
            #expect(complete.results.map(\.currentState) == ["Installed", "Failed"])
            #expect(complete.results[0].version == "1.4.2")
            #expect(complete.results[0].uuid == "6f1c7a4e-2b3d-4c5e-8f90-123456789abc")
            #expect(complete.results[1].fault.code == .unknownDeploymentUnit)
        }
    }

    @Test func writesReachTheHook() async throws {
        let notices = NoticeBox()
        let acs = FakeACS()
        await acs.enqueue(
            .addObject(objectName: "Device.MQTT.Client.", parameterKey: "usp"),
            .setParameterValues(parameters: [
                CWMPParameterValue(name: "Device.MQTT.Client.1.BrokerAddress", value: .string("broker.example")),
                CWMPParameterValue(name: "Device.MQTT.Client.1.Enable", value: .boolean(true)),
            ], parameterKey: "usp"))
        try await withSimulation(acs: acs, configure: { $0.device.onWrite = { notices.append($0) } }) { acs, _ in
            try await acs.waitForEndedSessions(1)
            let received = notices.all
            #expect(received.count == 2)
            #expect(received.first?.writes == [.objectAdded(path: "Device.MQTT.Client.1.")])
            #expect(received.last?.writes.contains(.parameter(path: "Device.MQTT.Client.1.Enable", oldValue: .boolean(false), newValue: .boolean(true))) == true)
            #expect(received.last?.model.value("Device.MQTT.Client.1.BrokerAddress") == .string("broker.example"))
        }
    }
}

/// Collects hook notices across tasks.
final class NoticeBox: @unchecked Sendable {
    private let lock = NSLock()
    private var notices: [SimulatedCPE.WriteNotice] = []
    func append(_ notice: SimulatedCPE.WriteNotice) { lock.withLock { notices.append(notice) } }
    var all: [SimulatedCPE.WriteNotice] { lock.withLock { notices } }
}
