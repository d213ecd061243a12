/// The primitive data types shared by CWMP (`xsd:` types on `ParameterValueStruct.Value`) and USP
/// (`ParamValueType` in GetSupportedDM): TR-106 section 3.2.
public enum ValueType: String, Hashable, Sendable, CaseIterable, Codable {
    case string, int, unsignedInt, long, unsignedLong, boolean, dateTime, base64, hexBinary, decimal

    /// Recognises `xsd:unsignedInt`, `unsignedInt`, any other namespace prefix, and the names of the
    /// TR-106 types. Returns nil for an unknown name (callers default to string, as CPEs often omit
    /// or misspell `xsi:type`).
    public init?(xsdName: String) {
        let local = xsdName.split(separator: ":").last.map(String.init) ?? xsdName
        if let exact = ValueType(rawValue: local) {
            self = exact
            return
        }
        switch local.lowercased() {
        case "string": self = .string
        case "int", "integer": self = .int
        case "unsignedint": self = .unsignedInt
        case "long": self = .long
        case "unsignedlong": self = .unsignedLong
        case "boolean", "bool": self = .boolean
        case "datetime": self = .dateTime
        case "base64", "base64binary": self = .base64
        case "hexbinary": self = .hexBinary
        case "decimal": self = .decimal
        default: return nil
        }
    }

    /// The `xsi:type` attribute value CWMP puts on `Value` (`xsd:base64` per TR-069, not
    /// `xsd:base64Binary`).
    public var xsdName: String { "xsd:\(rawValue)" }

    /// The USP `GetSupportedDMResp.ParamValueType` enumeration name.
    public var uspTypeName: String {
        switch self {
        case .string: "PARAM_STRING"
        case .int: "PARAM_INT"
        case .unsignedInt: "PARAM_UNSIGNED_INT"
        case .long: "PARAM_LONG"
        case .unsignedLong: "PARAM_UNSIGNED_LONG"
        case .boolean: "PARAM_BOOLEAN"
        case .dateTime: "PARAM_DATE_TIME"
        case .base64: "PARAM_BASE_64"
        case .hexBinary: "PARAM_HEX_BINARY"
        case .decimal: "PARAM_DECIMAL"
        }
    }

    public init?(uspTypeName: String) {
        guard let match = ValueType.allCases.first(where: { $0.uspTypeName == uspTypeName }) else { return nil }
        self = match
    }
}
