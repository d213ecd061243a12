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
        ], createdObject: "Device.C.2.", pendingReboot: true)
        let data = try JSONEncoder().encode(result)
        #expect(try JSONDecoder().decode(OperationResult.self, from: data) == result)
        #expect(result.value(at: "Device.A") == .unsignedInt(5))
        #expect(result.value(at: "Device.B") == nil)
        #expect(result.faults.map(\.category) == [.invalidPath])
    }
}
