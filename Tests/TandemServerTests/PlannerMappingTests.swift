import CWMP
import Engine
import Foundation
import TandemCore
import Testing
import USP

/// The requests each new neutral operation becomes, for CWMP and USP, and the expansion decisions.
@Suite struct PlannerMappingTests {
    let p = { (s: String) in try PathExpression(s) }

    @Test func cwmpRequests() throws {
        let planner = CWMPPlanner()
        #expect(try planner.plan(.supportedMethods, taskID: 1) == [.getRPCMethods])
        #expect(try planner.plan(.getAttributes(paths: [try p("Device.A.B")]), taskID: 1) == [.getParameterAttributes(names: ["Device.A.B"])])
        #expect(try planner.plan(.setAttributes([
            AttributeSetting(path: try p("Device.A.B"), notification: .active),
            AttributeSetting(path: try p("Device.A.C"), notification: nil, accessList: ["Subscriber"]),
        ]), taskID: 1) == [.setParameterAttributes(parameters: [
            CWMPSetParameterAttribute(name: "Device.A.B", notificationChange: true, notification: 2),
            CWMPSetParameterAttribute(name: "Device.A.C", notificationChange: false, notification: 0, accessListChange: true, accessList: ["Subscriber"]),
        ])])
        #expect(try planner.plan(.cancelTransfer(commandKey: "tandem-4"), taskID: 9) == [.cancelTransfer(commandKey: "tandem-4")])
        let scheduled = try planner.plan(.scheduleDownload(
            FileTransfer(kind: .configuration, url: "http://h/c.cfg", fileSize: 10), windows: [TransferWindow(start: 5, end: 50, mode: .whenIdle)]), taskID: 7)
        #expect(scheduled == [.scheduleDownload(ACSRequest.ScheduleDownload(
            commandKey: "tandem-7", fileType: "3 Vendor Configuration File", url: "http://h/c.cfg", fileSize: 10,
            timeWindows: [ACSRequest.TimeWindow(windowStart: 5, windowEnd: 50, windowMode: "3 When Idle")]))])
        let change = try planner.plan(.changeDUState([
            .install(url: "http://h/a.ipk", uuid: nil, username: nil, password: nil, executionEnvRef: "Device.SoftwareModules.ExecEnv.1"),
            .uninstall(uuid: "u-1", version: nil, executionEnvRef: nil),
        ]), taskID: 3)
        #expect(change == [.changeDUState(ACSRequest.ChangeDUState(
            operations: [.install(url: "http://h/a.ipk", executionEnvRef: "Device.SoftwareModules.ExecEnv.1"), .uninstall(uuid: "u-1")],
            commandKey: "tandem-3"))])
        #expect(CWMPPlanner.awaitsTransferComplete(.scheduleDownload))
        #expect(CWMPPlanner.awaitsTransferComplete(.changeDUState))
        #expect(!CWMPPlanner.awaitsTransferComplete(.cancelTransfer))
    }

    @Test func cwmpExpansionDecisions() throws {
        let names: Set<String> = ["Device.WiFi.SSID.1.SSID", "Device.WiFi.SSID.1.Enable", "Device.WiFi.SSID.2.SSID"]
        let values: [String: TypedValue] = ["Device.WiFi.SSID.1.Enable": .boolean(true), "Device.WiFi.SSID.1.SSID": .string("a")]
        let wildcard = TandemCore.Operation.get(paths: [try p("Device.WiFi.SSID.*.SSID"), try p("Device.DeviceInfo.UpTime")])
        #expect(try CWMPPlanner.expand(wildcard, names: names, values: values, fresh: false)
            == .concrete(.get(paths: [try p("Device.WiFi.SSID.1.SSID"), try p("Device.WiFi.SSID.2.SSID"), try p("Device.DeviceInfo.UpTime")])))
        // SSID.2.Enable is unknown: refresh the table.
        let search = TandemCore.Operation.delete(objects: [try p("Device.WiFi.SSID.[Enable==false].")])
        #expect(try CWMPPlanner.expand(search, names: names, values: values, fresh: false) == .refresh(["Device.WiFi.SSID."]))
        // The device's own answer lacks it: no match.
        #expect(try CWMPPlanner.expand(search, names: names, values: values, fresh: true) == .nothing)
        // Nothing known under the prefix: refresh.
        #expect(try CWMPPlanner.expand(.get(paths: [try p("Device.Hosts.Host.*.IPAddress")]), names: names, values: values, fresh: false)
            == .refresh(["Device.Hosts.Host."]))
        #expect(CWMPPlanner.refreshPrefixes(.get(paths: [try p("Device.WiFi.*.X"), try p("Device.WiFi.SSID.*.SSID")])) == ["Device.WiFi."])
        #expect(throws: Fault.self) {
            try CWMPPlanner.expand(.add(object: try p("Device.WiFi.SSID.*."), parameters: []), names: names, values: values, fresh: true)
        }
        #expect(throws: Fault.self) { try CWMPPlanner().plan(wildcard, taskID: 1) }
    }

    @Test func uspRequests() throws {
        let setAttributes = TandemCore.Operation.setAttributes([
            AttributeSetting(path: try p("Device.WiFi.SSID.1.SSID"), notification: .active),
            AttributeSetting(path: try p("Device.Time.NTPServer1"), notification: .off),
        ])
        let delete = try USPPlanner.plan(setAttributes, taskID: 5, messageID: "m1")
        guard case .request(.delete(let d)) = delete.body else {
            Issue.record("expected Delete, got \(delete)")
            return
        }
        #expect(d.objectPaths == [
            #"Device.LocalAgent.Subscription.[ID=="tandem-attr-Device.WiFi.SSID.1.SSID"]."#,
            #"Device.LocalAgent.Subscription.[ID=="tandem-attr-Device.Time.NTPServer1"]."#,
        ])
        let add = try #require(USPPlanner.followUp(setAttributes, step: 0, messageID: "m2"))
        guard case .request(.add(let a)) = add.body else {
            Issue.record("expected Add, got \(add)")
            return
        }
        #expect(a.createObjects.count == 1)
        let settings = Dictionary(uniqueKeysWithValues: (a.createObjects.first?.settings ?? []).map { ($0.name, $0.value) })
        #expect(settings == ["ID": "tandem-attr-Device.WiFi.SSID.1.SSID", "NotifType": "ValueChange", "ReferenceList": "Device.WiFi.SSID.1.SSID",
                             "Enable": "true", "Persistent": "true"])
        #expect(USPPlanner.followUp(setAttributes, step: 1, messageID: "m3") == nil)

        let cancel = try USPPlanner.plan(.cancelTransfer(commandKey: "tandem-2"), taskID: 8, messageID: "m4")
        guard case .request(.operate(let operate)) = cancel.body else {
            Issue.record("expected Operate")
            return
        }
        #expect(operate.command == #"Device.LocalAgent.Request.[CommandKey=="tandem-2"].Cancel()"#)

        let update = try USPPlanner.plan(.changeDUState([.update(uuid: "u-1", version: nil, url: "http://h/a-2.ipk", username: nil, password: nil)]), taskID: 8, messageID: "m5")
        guard case .request(.operate(let du)) = update.body else {
            Issue.record("expected Operate")
            return
        }
        #expect(du.command == #"Device.SoftwareModules.DeploymentUnit.[UUID=="u-1"].Update()"#)
        #expect(du.inputArguments == ["URL": "http://h/a-2.ipk"])
        #expect(du.commandKey == "tandem-8")
        #expect(throws: Fault.self) { try USPPlanner.plan(.getAttributes(paths: [try p("Device.A")]), taskID: 1, messageID: "m") }
        #expect(throws: Fault.self) {
            try USPPlanner.plan(.setAttributes([AttributeSetting(path: try p("Device.A"), notification: .active, accessList: [])]), taskID: 1, messageID: "m")
        }
    }

    @Test func firmwareImageChoice() {
        let dual = [
            "Device.DeviceInfo.ActiveFirmwareImage": "Device.DeviceInfo.FirmwareImage.2",
            "Device.DeviceInfo.FirmwareImage.1.Status": "Available", "Device.DeviceInfo.FirmwareImage.2.Status": "Active",
        ]
        #expect(USPPlanner.firmwareImage(in: dual) == "Device.DeviceInfo.FirmwareImage.1.")
        let noActivePointer = ["Device.DeviceInfo.FirmwareImage.1.Status": "Active", "Device.DeviceInfo.FirmwareImage.3.Status": "NoImage"]
        #expect(USPPlanner.firmwareImage(in: noActivePointer) == "Device.DeviceInfo.FirmwareImage.3.")
        let single = ["Device.DeviceInfo.ActiveFirmwareImage": "Device.DeviceInfo.FirmwareImage.1.", "Device.DeviceInfo.FirmwareImage.1.Status": "Active"]
        #expect(USPPlanner.firmwareImage(in: single) == "Device.DeviceInfo.FirmwareImage.1.")
        #expect(USPPlanner.firmwareImage(in: ["Device.DeviceInfo.SoftwareVersion": "1"]) == nil)
    }
}
