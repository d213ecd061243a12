/// Any string an operator or a protocol uses to name a device: the registry's numeric id, a CWMP
/// DeviceId or a USP endpoint ID. `tandem device show ID` and the registry's lookup take all three.
public enum DeviceIdentifier: Hashable, Sendable, CustomStringConvertible {
    case registryID(Int64)
    case cwmp(CWMPDeviceID)
    case endpoint(EndpointID)

    /// Classifies `text`: digits only is a registry id, `scheme:...` an endpoint ID, and
    /// `OUI-...` a CWMP DeviceId. Throws with the reason when it is none of them.
    public init(parsing text: String) throws(IdentityError) {
        let trimmed = text.trimmingWhitespace()
        if !trimmed.isEmpty, trimmed.allSatisfy(\.isASCIIDigit), let id = Int64(trimmed), id > 0 {
            self = .registryID(id)
        } else if trimmed.contains(":") {
            self = .endpoint(try EndpointID(trimmed, strictLength: false))
        } else if trimmed.contains("-") {
            self = .cwmp(try CWMPDeviceID(parsing: trimmed))
        } else {
            throw IdentityError("\"\(text)\" is neither a registry id, a CWMP DeviceId (OUI-ProductClass-Serial) nor a USP endpoint ID (scheme:authority:instance)")
        }
    }

    public var description: String {
        switch self {
        case .registryID(let id): "\(id)"
        case .cwmp(let id): id.canonical
        case .endpoint(let id): id.rawValue
        }
    }
}
