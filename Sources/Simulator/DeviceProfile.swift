import Foundation
import TandemCore

/// Which root data model a simulated device exposes (protocol digest A.10).
public enum DataModelVariant: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// TR-181 Issue 2 `Device.`.
    case tr181
    /// TR-098 `InternetGatewayDevice.`.
    case tr098

    public var rootName: String {
        switch self {
        case .tr181: "Device"
        case .tr098: "InternetGatewayDevice"
        }
    }

    public var description: String { rawValue }
}

/// What a simulated device is at the factory: identity, firmware, data model and the management
/// server settings it ships with.
public struct DeviceProfile: Sendable, Hashable {
    public var manufacturer: String
    /// Six upper-case hexadecimal digits.
    public var oui: String
    public var productClass: String
    public var modelName: String
    public var serialNumber: String
    public var hardwareVersion: String
    public var softwareVersion: String
    public var variant: DataModelVariant
    /// `ManagementServer.URL`: where the device informs.
    public var acsURL: String
    /// `ManagementServer.Username` / `Password`: what the device answers the ACS's challenge with.
    public var acsUsername: String
    public var acsPassword: String
    /// `ManagementServer.ConnectionRequestUsername` / `Password`: what the device demands of a
    /// connection request.
    public var connectionRequestUsername: String
    public var connectionRequestPassword: String
    public var periodicInformEnable: Bool
    /// Seconds.
    public var periodicInformInterval: UInt32

    public init(
        manufacturer: String = "Tandem Simulated Devices", oui: String = "ACDE48", productClass: String = "SimGateway",
        modelName: String = "TSG-1000", serialNumber: String, hardwareVersion: String = "HW1.0", softwareVersion: String = "1.0.0",
        variant: DataModelVariant = .tr181, acsURL: String, acsUsername: String = "", acsPassword: String = "",
        connectionRequestUsername: String = "", connectionRequestPassword: String = "", periodicInformEnable: Bool = true,
        periodicInformInterval: UInt32 = 86_400
    ) {
        self.manufacturer = manufacturer
        self.oui = oui.uppercased()
        self.productClass = productClass
        self.modelName = modelName
        self.serialNumber = serialNumber
        self.hardwareVersion = hardwareVersion
        self.softwareVersion = softwareVersion
        self.variant = variant
        self.acsURL = acsURL
        self.acsUsername = acsUsername
        self.acsPassword = acsPassword
        self.connectionRequestUsername = connectionRequestUsername
        self.connectionRequestPassword = connectionRequestPassword
        self.periodicInformEnable = periodicInformEnable
        self.periodicInformInterval = periodicInformInterval
    }

    /// The `DeviceIdStruct` the device reports; throws when the OUI or serial number is invalid.
    public func deviceID() throws(IdentityError) -> CWMPDeviceID {
        try CWMPDeviceID(manufacturer: manufacturer, oui: oui, productClass: productClass, serialNumber: serialNumber)
    }

    /// The factory data model of this profile.
    public func makeDataModel() -> DataModel {
        switch variant {
        case .tr181: TR181Model.make(self)
        case .tr098: TR098Model.make(self)
        }
    }

    /// Expands a credential template: `{serial}` (or `{serialNumber}`), `{oui}`, `{productClass}`,
    /// `{index}`, and `{deviceId}`, the canonical `OUI-ProductClass-SerialNumber` TR-069 3.4.4
    /// recommends as the CPE's username.
    public static func expand(_ template: String, serialNumber: String, oui: String, productClass: String, index: Int) -> String {
        var text = template
        if text.contains("{deviceId}") {
            let canonical = (try? CWMPDeviceID(oui: oui, productClass: productClass, serialNumber: serialNumber).canonical)
                ?? "\(oui)-\(productClass)-\(serialNumber)"
            text = text.replacingOccurrences(of: "{deviceId}", with: canonical)
        }
        return text.replacingOccurrences(of: "{serialNumber}", with: serialNumber)
            .replacingOccurrences(of: "{serial}", with: serialNumber)
            .replacingOccurrences(of: "{oui}", with: oui)
            .replacingOccurrences(of: "{productClass}", with: productClass)
            .replacingOccurrences(of: "{index}", with: String(index))
    }
}

/// Stable per-device pseudo-random values (MAC and IP addresses) derived from the serial number,
/// so that two runs of the same fleet look the same.
struct DeviceSeed {
    private var state: UInt64

    init(_ text: String) {
        // FNV-1a, then splitmix64 steps for the sequence.
        var hash = FNV1a()
        hash.add(text.utf8)
        state = hash.value
    }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }

    /// A locally administered unicast MAC address.
    mutating func macAddress() -> String {
        var bytes = (0..<6).map { _ in byte() }
        bytes[0] = (bytes[0] | 0x02) & 0xFE
        return bytes.map { String($0, radix: 16, uppercase: true).leftPadded(to: 2) }.joined(separator: ":")
    }

    /// An address in 100.64.0.0/10 (carrier-grade NAT space), as a WAN address.
    mutating func wanAddress() -> String {
        "100.\(64 + Int(byte() % 64)).\(Int(byte())).\(1 + Int(byte() % 254))"
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
