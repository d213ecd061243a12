import CWMP
import Engine
import Foundation
import Registry
import TandemCore
import Testing

/// What the session manager records of an Inform: the device facts among its parameters, under
/// whichever data model root the CPE uses, and every parameter.
@Suite struct InformRecordTests {
    static func inform(_ fixture: String) throws -> CPERequest.Inform {
        let bytes = try Data(contentsOf: repositoryRoot.appendingPathComponent("Fixtures/cwmp/\(fixture)"))
        return try #require(try CWMPDecoder().decode(Array(bytes), from: .cpe).inform)
    }

    @Test func deviceFactsComeFromTheTR181Parameters() throws {
        let inform = try Self.inform("cpe-inform-boot.xml")
        let date = Date(timeIntervalSince1970: 1_800_000_000)
        let record = InformRecord(inform, remoteAddress: "192.0.2.10", at: date)
        #expect(record.details.softwareVersion == "V5R019C10S125")
        #expect(record.details.hardwareVersion == "VER.A")
        #expect(record.details.connectionRequestURL == "http://192.0.2.10:7547/cr?a=1&b=2")
        #expect(record.details.modelName == nil, "the fixture reports no ModelName")
        #expect(record.details.dataModelRoot == "Device")
        #expect(record.details.connection == ["remoteAddress": "192.0.2.10"])
        #expect(record.parameters.map(\.path) == inform.parameters.map(\.name))
        #expect(record.parameters.allSatisfy { $0.updatedAt == date })
        #expect(record.eventCodes == inform.events.map(\.code.rawValue))
    }

    /// TR-098 devices report the same facts under `InternetGatewayDevice.`; a repeated name counts
    /// with its last value (as `Inform.value(of:)` reads it); other roots are read too.
    @Test func factsFollowTheRootAndTheLastOfARepeatedName() throws {
        var inform = try Self.inform("cpe-inform-boot.xml")
        let renamed = inform.parameters.map { parameter in
            CWMPParameterValue(name: "InternetGatewayDevice" + parameter.name.dropFirst("Device".count), value: parameter.value)
        }
        inform.parameters = renamed + [
            CWMPParameterValue(name: "InternetGatewayDevice.DeviceInfo.ModelName", value: .string("HG8245")),
            CWMPParameterValue(name: "InternetGatewayDevice.DeviceInfo.SoftwareVersion", value: .string("V6")),
            CWMPParameterValue(name: "Device.DeviceInfo.HardwareVersion", value: .string("not under this root")),
        ]
        let record = InformRecord(inform, remoteAddress: nil, at: Date())
        #expect(record.details.dataModelRoot == "InternetGatewayDevice")
        #expect(record.details.softwareVersion == "V6")
        #expect(record.details.hardwareVersion == "VER.A")
        #expect(record.details.modelName == "HG8245")
        #expect(record.details.connectionRequestURL == "http://192.0.2.10:7547/cr?a=1&b=2")
        #expect(record.details.connection == nil)
        #expect(record.parameters.count == renamed.count + 3)

        inform.parameters = [
            CWMPParameterValue(name: "Vendor.DeviceInfo.SoftwareVersion", value: .string("1.0")),
            CWMPParameterValue(name: "Vendor.ManagementServer.ConnectionRequestURL", value: .string("http://198.51.100.1/")),
        ]
        let other = InformRecord(inform, remoteAddress: nil, at: Date())
        #expect(other.details.dataModelRoot == "Vendor")
        #expect(other.details.softwareVersion == "1.0")
        #expect(other.details.connectionRequestURL == "http://198.51.100.1/")
    }
}
