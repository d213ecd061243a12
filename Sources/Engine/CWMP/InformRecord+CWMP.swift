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
        let root = inform.dataModelRoot ?? "Device"
        var details = DeviceDetails(dataModelRoot: inform.dataModelRoot)
        details.manufacturer = inform.deviceID.manufacturer.isEmpty ? nil : inform.deviceID.manufacturer
        details.softwareVersion = inform.value(of: "\(root).DeviceInfo.SoftwareVersion")?.lexical
        details.hardwareVersion = inform.value(of: "\(root).DeviceInfo.HardwareVersion")?.lexical
        details.modelName = inform.value(of: "\(root).DeviceInfo.ModelName")?.lexical
        details.connectionRequestURL = inform.value(of: "\(root).ManagementServer.ConnectionRequestURL")?.lexical
        if let remoteAddress { details.connection = ["remoteAddress": remoteAddress] }
        self.init(
            identity: inform.deviceID, details: details, eventCodes: inform.events.map(\.code.rawValue),
            parameters: inform.parameters.map { StoredParameter(path: $0.name, value: $0.value, updatedAt: date) },
            remoteAddress: remoteAddress, retryCount: Int(inform.retryCount))
    }
}
