/// A failure in the neutral shape: its category, the protocol's own code when there is one, and a
/// message. Results carry faults per path; tasks carry one for the whole operation.
public struct Fault: Error, Hashable, Sendable, Codable, CustomStringConvertible {
    /// Where a code came from.
    public enum Code: Hashable, Sendable {
        case cwmp(CWMPFaultCode)
        case usp(USPErrorCode)
        /// Raised by Tandem itself (timeouts, validation), with no protocol code.
        case tandem
    }

    public let category: FaultCategory
    public let code: Code
    public let message: String

    public init(category: FaultCategory, code: Code = .tandem, message: String) {
        self.category = category
        self.code = code
        self.message = message
    }

    public init(cwmp code: CWMPFaultCode, message: String? = nil) {
        self.init(category: code.category, code: .cwmp(code), message: message ?? code.name)
    }

    public init(usp code: USPErrorCode, message: String? = nil) {
        self.init(category: code.category, code: .usp(code), message: message ?? code.name)
    }

    public var description: String {
        switch code {
        case .cwmp(let c): "CWMP \(c.rawValue) (\(category.rawValue)): \(message)"
        case .usp(let c): "USP \(c.rawValue) (\(category.rawValue)): \(message)"
        case .tandem: "\(category.rawValue): \(message)"
        }
    }

    private enum CodingKeys: String, CodingKey { case category, `protocol`, code, message }

    /// JSON shape: `{"category": "invalidValue", "protocol": "cwmp", "code": 9007, "message": "..."}`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        category = try container.decode(FaultCategory.self, forKey: .category)
        message = try container.decode(String.self, forKey: .message)
        switch try container.decodeIfPresent(String.self, forKey: .`protocol`) {
        case "cwmp": code = .cwmp(CWMPFaultCode(try container.decode(Int.self, forKey: .code)))
        case "usp": code = .usp(USPErrorCode(try container.decode(UInt32.self, forKey: .code)))
        case nil, "tandem": code = .tandem
        case let other?:
            throw DecodingError.dataCorruptedError(forKey: .protocol, in: container, debugDescription: "unknown protocol \(other)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(category, forKey: .category)
        switch code {
        case .cwmp(let c):
            try container.encode("cwmp", forKey: .`protocol`)
            try container.encode(c.rawValue, forKey: .code)
        case .usp(let c):
            try container.encode("usp", forKey: .`protocol`)
            try container.encode(c.rawValue, forKey: .code)
        case .tandem:
            try container.encode("tandem", forKey: .`protocol`)
        }
        try container.encode(message, forKey: .message)
    }
}
