import Foundation
import Testing

/// `tandem cwmp decode` and `tandem usp decode`, run as an operator runs them.
@Suite struct DecodeCommandTests {
    @Test func cwmpDecodePrintsTheInformAsJSON() throws {
        let file = repositoryRoot.appendingPathComponent("Fixtures/cwmp/cpe-inform-boot.xml").path
        let result = try runTandem(["cwmp", "decode", file])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json["method"] as? String == "Inform")
        #expect(json["cwmpID"] as? String == "1a2b3c")
        #expect(json["deviceId"] as? String == "00D09E-HG8245-4857544312345678")
        let events = try #require(json["events"] as? [[String: String]])
        #expect(events.map { $0["code"] } == ["1 BOOT", "M Reboot"])
        let parameters = try #require(json["parameters"] as? [[String: String]])
        #expect(parameters.contains { $0["name"] == "Device.DeviceInfo.SoftwareVersion" && $0["type"] == "xsd:string" && $0["value"] == "V5R019C10S125" })
    }

    @Test func cwmpDecodeReadsStandardInputAndFaults() throws {
        let file = repositoryRoot.appendingPathComponent("Fixtures/cwmp/cpe-fault-set-parameter-values.xml").path
        let result = try runTandem(["cwmp", "decode", file])
        #expect(result.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let fault = try #require(json["fault"] as? [String: Any])
        #expect(fault["code"] as? Int == 9003)
        #expect((fault["parameterFaults"] as? [Any])?.isEmpty == false)
    }

    @Test func cwmpDecodeSaysWhereMalformedInputBreaks() throws {
        let file = repositoryRoot.appendingPathComponent("Fixtures/hostile/hostile-truncated.xml").path
        let result = try runTandem(["cwmp", "decode", file])
        #expect(result.status == 1)
        #expect(result.stderr.contains("\(file): line "))
        let missing = try runTandem(["cwmp", "decode", "/nonexistent.xml"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("cannot read /nonexistent.xml"))
    }

    @Test func uspDecodePrintsRecordAndMessage() throws {
        let file = repositoryRoot.appendingPathComponent("Fixtures/usp/record-no-session-context.bin").path
        let result = try runTandem(["usp", "decode", file])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let record = try #require(json["record"] as? [String: Any])
        #expect(record["to_id"] as? String == "os::00D09E-0123456789")
        let msg = try #require(json["msg"] as? [String: Any])
        let header = try #require(msg["header"] as? [String: String])
        #expect(header["msg_type"] == "GET")
    }

    @Test func uspDecodeRefusesGarbageClearly() throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let file = directory + "/garbage.bin"
        try Data([0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x01]).write(to: URL(fileURLWithPath: file))
        let result = try runTandem(["usp", "decode", file])
        #expect(result.status == 1)
        #expect(result.stderr.contains("not a valid USP Record (7100"))
    }
}
