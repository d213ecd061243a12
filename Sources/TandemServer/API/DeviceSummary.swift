import Foundation
import Registry
import TandemCore

/// The JSON shape of a device in the API and the CLI: stable keys for scripts.
public struct DeviceSummary: Codable, Sendable, Equatable {
    public var id: Int64
    public var cwmpDeviceId: String?
    public var uspEndpointId: String?
    public var manufacturer: String
    public var oui: String
    public var productClass: String
    public var modelName: String
    public var serialNumber: String
    public var softwareVersion: String
    public var hardwareVersion: String
    public var protocols: [String]
    public var activeProtocol: String?
    public var dataModelRoot: String
    public var lastContact: Date?
    public var connectionRequestURL: String?
    public var tags: [String]

    public init(_ device: Device) {
        id = device.id
        cwmpDeviceId = device.cwmpDeviceID
        uspEndpointId = device.uspEndpointID
        manufacturer = device.manufacturer
        oui = device.oui
        productClass = device.productClass
        modelName = device.modelName
        serialNumber = device.serialNumber
        softwareVersion = device.softwareVersion
        hardwareVersion = device.hardwareVersion
        protocols = device.protocols.map(\.rawValue).sorted()
        activeProtocol = device.activeProtocol?.rawValue
        dataModelRoot = device.dataModelRoot
        lastContact = device.lastContact
        connectionRequestURL = device.connectionRequestURL
        tags = device.tags
    }
}
