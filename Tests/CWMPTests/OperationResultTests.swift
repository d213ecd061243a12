import CWMP
import Testing
import TandemCore

@Suite struct OperationResultTests {
    @Test func valuesNamesAndWrites() throws {
        let gpv = OperationResult(
            request: .getParameterValues(names: ["Device."]), response: try Fixtures.decode("cpe-get-parameter-values-response.xml").requireCPEResponse())
        #expect(gpv.entries.count == 4)
        #expect(gpv.value(at: "Device.IP.Interface.1.Enable") == .boolean(true))
        #expect(gpv.value(at: "Device.WiFi.SSID.1.SSID") == .string("Home & Garden"))

        let gpn = OperationResult(
            request: .getParameterNames(path: "Device.WiFi.", nextLevel: true),
            response: try Fixtures.decode("cpe-get-parameter-names-response.xml").requireCPEResponse())
        #expect(gpn.entries.map(\.writable) == [false, false, true])

        let spv = OperationResult(
            request: .setParameterValues(parameters: [.init(name: "Device.A", value: .string("x"))], parameterKey: "k"),
            response: .setParameterValues(status: 1))
        #expect(spv.entries == [PathResult(path: "Device.A", outcome: .done)])
        #expect(spv.pendingReboot)
    }

    @Test func objectsAndTransfers() {
        let add = OperationResult(request: .addObject(objectName: "Device.NAT.PortMapping.", parameterKey: ""), response: .addObject(instanceNumber: 3, status: 0))
        #expect(add.createdObject == "Device.NAT.PortMapping.3.")
        #expect(!add.pendingReboot)
        let delete = OperationResult(request: .deleteObject(objectName: "Device.NAT.PortMapping.3.", parameterKey: ""), response: .deleteObject(status: 1))
        #expect(delete.pendingReboot)
        #expect(delete.entries.map(\.path) == ["Device.NAT.PortMapping.3."])
        let download = OperationResult(
            request: .download(.init(fileType: "1 Firmware Upgrade Image", url: "https://f/")), response: .download(.init(status: 1)))
        #expect(download.outputArguments == ["Status": "1", "StartTime": "0001-01-01T00:00:00Z", "CompleteTime": "0001-01-01T00:00:00Z"])
        #expect(OperationResult(request: .reboot(commandKey: ""), response: .reboot) == OperationResult())
    }

    @Test func setParameterValuesFaultBecomesPerPathFaults() throws {
        let fault = try Fixtures.decode("cpe-fault-set-parameter-values.xml").requireFault()
        let result = OperationResult(fault: fault)
        #expect(result.faults.map(\.category) == [.invalidValue, .notWritable])
        #expect(result.entries.map(\.path) == ["Device.WiFi.SSID.1.SSID", "Device.DeviceInfo.SoftwareVersion"])
        #expect(result.faults.first?.code == .cwmp(.invalidParameterValue))
        #expect(fault.fault.code == .cwmp(.invalidArguments))
    }
}

@Suite struct ConcurrencyTests {
    @Test func decodersRunInParallel() async throws {
        let names = Fixtures.messages
        var decoded: [String: CWMPEnvelope] = [:]
        for name in names { decoded[name] = try Fixtures.decode(name) }
        let expected = decoded
        let inputs = try names.map { ($0, try Fixtures.bytes($0)) }
        let mismatches = await withTaskGroup(of: Int.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var bad = 0
                    for round in 0..<5 {
                        for (index, (name, bytes)) in inputs.enumerated() where (index + worker + round) % 2 == 0 {
                            let decoded = try? CWMPDecoder().decode(bytes, from: Fixtures.sender(of: name))
                            if decoded != expected[name] { bad += 1 }
                        }
                    }
                    return bad
                }
            }
            return await group.reduce(0, +)
        }
        #expect(mismatches == 0)
    }
}
