import Foundation
import Testing
import TandemCore

@Suite struct OperationTests {
    static let samples: [TandemCore.Operation] = {
        let p = { (s: String) in try! PathExpression(s) }
        return [
            .get(paths: [p("Device.DeviceInfo."), p("Device.WiFi.SSID.*.SSID")]),
            .set(values: [ParameterSetting(path: p("Device.WiFi.SSID.1.SSID"), value: .string("home")),
                          ParameterSetting(path: p("Device.ManagementServer.PeriodicInformInterval"), value: .unsignedInt(300), required: false)],
                 allowPartial: true, parameterKey: "k1"),
            .add(object: p("Device.WiFi.SSID."), parameters: [ParameterSetting(path: p("SSID"), value: .string("guest"))]),
            .delete(objects: [p("Device.WiFi.SSID.3.")]),
            .operate(command: p("Device.IP.Diagnostics.IPPing()"), input: ["Host": "example.org", "NumberOfRepetitions": "3"], commandKey: "ping1"),
            .reboot(commandKey: "r1"),
            .factoryReset,
            .download(FileTransfer(kind: .firmware, url: "https://files.example/fw.bin", fileSize: 1024, commandKey: "fw")),
            .upload(FileTransfer(kind: .log, url: "http://files.example/upload", username: "u", password: "p")),
            .scheduleInform(delaySeconds: 60, commandKey: nil),
            .discover(object: p("Device.WiFi."), nextLevel: true),
            .getAttributes(paths: [p("Device.DeviceInfo.SoftwareVersion")]),
            .setAttributes([AttributeSetting(path: p("Device.WiFi.SSID.1.SSID"), notification: .active, accessList: ["Subscriber"]),
                            AttributeSetting(path: p("Device.DeviceInfo.UpTime"), notification: .off)]),
            .scheduleDownload(FileTransfer(kind: .firmware, url: "http://files.example/fw-2.bin"),
                              windows: [TransferWindow(start: 0, end: 600), TransferWindow(start: 3600, end: 7200, mode: .whenIdle, userMessage: "m", maxRetries: 2)]),
            .cancelTransfer(commandKey: "tandem-9"),
            .changeDUState([.install(url: "http://files.example/app-1.0.ipk", uuid: nil, username: nil, password: nil, executionEnvRef: "Device.SoftwareModules.ExecEnv.1"),
                            .update(uuid: "0f1e2d3c-0000-4000-8000-000000000001", version: nil, url: "http://files.example/app-1.1.ipk", username: "u", password: "p"),
                            .uninstall(uuid: "0f1e2d3c-0000-4000-8000-000000000001", version: "1.1", executionEnvRef: nil)]),
            .supportedMethods,
        ]
    }()

    @Test(arguments: samples)
    func jsonRoundTripAndValidation(operation: TandemCore.Operation) throws {
        try operation.validate()
        let data = try JSONEncoder().encode(operation)
        #expect(try JSONDecoder().decode(TandemCore.Operation.self, from: data) == operation)
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        #expect(object?["op"] as? String == operation.name)
    }

    @Test func everyNameIsListed() {
        #expect(Set(Self.samples.map(\.name)) == Set(TandemCore.Operation.allNames))
        #expect(TandemCore.Operation.allNames.count == Set(TandemCore.Operation.allNames).count)
    }

    @Test func decodesHandWrittenNewOperations() throws {
        let json = #"""
            [{"op":"setAttributes","settings":[{"path":"Device.WiFi.SSID.1.SSID","notification":"passive"}]},
             {"op":"scheduleDownload","transfer":{"kind":"configuration","url":"http://h/c.cfg","delaySeconds":0},"windows":[{"start":5,"end":60,"mode":"immediately"}]},
             {"op":"changeDUState","operations":[{"action":"uninstall","uuid":"u-1"}]},
             {"op":"supportedMethods"}]
            """#
        let operations = try JSONDecoder().decode([TandemCore.Operation].self, from: Data(json.utf8))
        #expect(operations[0] == .setAttributes([AttributeSetting(path: try PathExpression("Device.WiFi.SSID.1.SSID"), notification: .passive)]))
        guard case .scheduleDownload(let transfer, let windows) = operations[1] else {
            Issue.record("expected scheduleDownload")
            return
        }
        #expect(transfer.kind == .configuration)
        #expect(windows == [TransferWindow(start: 5, end: 60, mode: .immediately)])
        #expect(windows[0].mode.cwmpValue == "2 Immediately")
        #expect(operations[2] == .changeDUState([.uninstall(uuid: "u-1", version: nil, executionEnvRef: nil)]))
        #expect(operations[3] == .supportedMethods)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(TandemCore.Operation.self, from: Data(#"{"op":"changeDUState","operations":[{"action":"explode"}]}"#.utf8))
        }
    }

    @Test func decodesHandWrittenJSON() throws {
        let json = #"{"op":"set","values":[{"path":"Device.X.Enable","type":"boolean","value":"1"}]}"#
        let operation = try JSONDecoder().decode(TandemCore.Operation.self, from: Data(json.utf8))
        guard case .set(let values, let allowPartial, let key) = operation else {
            Issue.record("expected set")
            return
        }
        #expect(values.first?.value == .boolean(true))
        #expect(values.first?.required == true)
        #expect(!allowPartial)
        #expect(key == nil)
    }

    @Test(arguments: [
        #"{"op":"explode"}"#, #"{"paths":[]}"#, #"{"op":"get","paths":["Device..X"]}"#,
        #"{"op":"set","values":[{"path":"Device.X","type":"int","value":"abc"}]}"#,
        #"{"op":"set","values":[{"path":"Device.X","type":"float","value":"1"}]}"#,
    ])
    func rejectsBadJSON(_ json: String) {
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(TandemCore.Operation.self, from: Data(json.utf8)) }
    }

    @Test func validationNamesTheProblem() throws {
        let p = { (s: String) in try PathExpression(s) }
        let cases: [(TandemCore.Operation, FaultCategory, String)] = [
            (.get(paths: []), .invalidArguments, "at least one path"),
            (.get(paths: [try p("Device.Reboot()")]), .invalidPath, "not a parameter or object path"),
            (.set(values: [ParameterSetting(path: try p("Device.X."), value: .string("v"))], allowPartial: false, parameterKey: nil), .invalidPath, "not a parameter path"),
            (.set(values: [ParameterSetting(path: try p("Device.X"), value: .string("v"))], allowPartial: false, parameterKey: String(repeating: "k", count: 33)), .invalidArguments, "ParameterKey"),
            (.add(object: try p("Device.X"), parameters: []), .invalidPath, "ending in '.'"),
            (.delete(objects: [try p("Device.X.")]), .invalidPath, "object instance"),
            (.operate(command: try p("Device.Reboot"), input: [:], commandKey: nil), .invalidPath, "'()'"),
            (.download(FileTransfer(kind: .firmware, url: "file:///etc/passwd")), .invalidArguments, "http, https, ftp or tftp"),
            (.scheduleInform(delaySeconds: 0, commandKey: nil), .invalidArguments, "at least one second"),
            (.setAttributes([AttributeSetting(path: try p("Device.X"), notification: .active, accessList: ["Everyone"])]), .invalidArguments, "AccessList"),
            (.getAttributes(paths: [try p("Device.Boot!")]), .invalidPath, "attributes"),
            (.scheduleDownload(FileTransfer(kind: .firmware, url: "http://h/f"), windows: []), .invalidArguments, "one or two time windows"),
            (.scheduleDownload(FileTransfer(kind: .firmware, url: "http://h/f"), windows: [TransferWindow(start: 10, end: 5)]), .invalidArguments, "end after it starts"),
            (.scheduleDownload(FileTransfer(kind: .firmware, url: "http://h/f"), windows: [TransferWindow(start: 0, end: 50), TransferWindow(start: 40, end: 90)]),
             .invalidArguments, "overlap"),
            (.scheduleDownload(FileTransfer(kind: .log, url: "http://h/f"), windows: [TransferWindow(start: 0, end: 50)]), .invalidArguments, "firmware or configuration"),
            (.cancelTransfer(commandKey: ""), .invalidArguments, "CommandKey"),
            (.changeDUState([]), .invalidArguments, "at least one operation"),
            (.changeDUState([.update(uuid: nil, version: "2", url: nil, username: nil, password: nil)]), .invalidArguments, "UUID or a URL"),
            (.changeDUState([.uninstall(uuid: "", version: nil, executionEnvRef: nil)]), .invalidArguments, "UUID"),
        ]
        for (operation, category, message) in cases {
            #expect {
                try operation.validate()
            } throws: { error in
                guard let fault = error as? Fault else { return false }
                return fault.category == category && fault.message.contains(message)
            }
        }
    }

    @Test func fileTypes() {
        #expect(FileTransfer.Kind.firmware.cwmpFileType(upload: false) == "1 Firmware Upgrade Image")
        #expect(FileTransfer.Kind.configuration.cwmpFileType(upload: false) == "3 Vendor Configuration File")
        #expect(FileTransfer.Kind.configuration.cwmpFileType(upload: true) == "1 Vendor Configuration File")
        #expect(FileTransfer.Kind.log.cwmpFileType(upload: true) == "2 Vendor Log File")
    }

    @Test func resultShape() throws {
        let result = OperationResult(entries: [
            PathResult(path: "Device.A", outcome: .value(.unsignedInt(5)), writable: true),
            PathResult(path: "Device.B", outcome: .fault(Fault(cwmp: .invalidParameterName))),
            PathResult(path: "Device.C.", outcome: .done),
            PathResult(path: "Device.D", outcome: .done, notification: 2, accessList: ["Subscriber"]),
        ], createdObject: "Device.C.2.", pendingReboot: true)
        let data = try JSONEncoder().encode(result)
        #expect(try JSONDecoder().decode(OperationResult.self, from: data) == result)
        #expect(result.value(at: "Device.A") == .unsignedInt(5))
        #expect(result.value(at: "Device.B") == nil)
        #expect(result.faults.map(\.category) == [.invalidPath])
    }
}
