import CWMP
import Foundation
import Registry
import TandemCore

extension InformRecord {
    /// What the registry records of a CWMP Inform (TR-069 A.3.3.1): the identity, the device facts
    /// its parameters report (under its data model's root), its events and every parameter as of
    /// `date`. The session manager records each Inform so; `tandem-bench` builds its registry floor
    /// from the same records.
    public init(_ inform: CPERequest.Inform, remoteAddress: String?, at date: Date) {
        let paths = DeviceFactPaths.under(inform.dataModelRoot ?? "Device")
        var details = DeviceDetails(dataModelRoot: inform.dataModelRoot)
        details.manufacturer = inform.deviceID.manufacturer.isEmpty ? nil : inform.deviceID.manufacturer
        if let remoteAddress { details.connection = ["remoteAddress": remoteAddress] }
        // One pass over the parameters (this runs for every Inform); where a name repeats, the last
        // one counts, as in `Inform.value(of:)`.
        var parameters: [StoredParameter] = []
        parameters.reserveCapacity(inform.parameters.count)
        for parameter in inform.parameters {
            parameters.append(StoredParameter(path: parameter.name, value: parameter.value, updatedAt: date))
            switch parameter.name {
            case paths.softwareVersion: details.softwareVersion = parameter.value.lexical
            case paths.hardwareVersion: details.hardwareVersion = parameter.value.lexical
            case paths.modelName: details.modelName = parameter.value.lexical
            case paths.connectionRequestURL: details.connectionRequestURL = parameter.value.lexical
            default: break
            }
        }
        self.init(
            identity: inform.deviceID, details: details, eventCodes: inform.events.map(\.code.rawValue),
            parameters: parameters, remoteAddress: remoteAddress, retryCount: Int(inform.retryCount))
    }
}

/// The Inform parameters whose values are also device facts, under one data model root.
private struct DeviceFactPaths: Sendable {
    let softwareVersion: String
    let hardwareVersion: String
    let modelName: String
    let connectionRequestURL: String

    init(root: String) {
        softwareVersion = root + ".DeviceInfo.SoftwareVersion"
        hardwareVersion = root + ".DeviceInfo.HardwareVersion"
        modelName = root + ".DeviceInfo.ModelName"
        connectionRequestURL = root + ".ManagementServer.ConnectionRequestURL"
    }

    /// TR-181 and TR-098 devices get theirs without building the four paths for every Inform.
    private static let device = DeviceFactPaths(root: "Device")
    private static let internetGatewayDevice = DeviceFactPaths(root: "InternetGatewayDevice")

    static func under(_ root: String) -> DeviceFactPaths {
        switch root {
        case "Device": device
        case "InternetGatewayDevice": internetGatewayDevice
        default: DeviceFactPaths(root: root)
        }
    }
}
