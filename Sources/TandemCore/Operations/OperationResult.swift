/// The outcome of an operation in one shape for both protocols: per path its value and type, or its
/// fault with the protocol's own code and a neutral category.
public struct OperationResult: Hashable, Sendable, Codable {
    public var entries: [PathResult]
    /// For add: the path of the created instance (`Device.WiFi.SSID.3.`).
    public var createdObject: String?
    /// For operate: the command's output arguments.
    public var outputArguments: [String: String]
    /// True when the device applied the change but needs a reboot for it to take effect
    /// (CWMP SetParameterValuesResponse Status 1, AddObject/DeleteObject Status 1).
    public var pendingReboot: Bool

    public init(entries: [PathResult] = [], createdObject: String? = nil, outputArguments: [String: String] = [:], pendingReboot: Bool = false) {
        self.entries = entries
        self.createdObject = createdObject
        self.outputArguments = outputArguments
        self.pendingReboot = pendingReboot
    }

    /// The faults among the entries.
    public var faults: [Fault] {
        entries.compactMap { if case .fault(let fault) = $0.outcome { fault } else { nil } }
    }

    /// The value at `path`, if the result has one.
    public func value(at path: String) -> TypedValue? {
        for entry in entries where entry.path == path {
            if case .value(let value) = entry.outcome { return value }
        }
        return nil
    }
}

/// The result for one path.
public struct PathResult: Hashable, Sendable, Codable {
    public enum Outcome: Hashable, Sendable {
        case value(TypedValue)
        case fault(Fault)
        /// The path was written or deleted; no value to report.
        case done
    }

    public var path: String
    public var outcome: Outcome
    /// Writability when the device told us (CWMP GetParameterNames, USP GetSupportedDM).
    public var writable: Bool?
    /// The notification attribute when the device told us (CWMP GetParameterAttributes): 0 off,
    /// 1 passive, 2 active (3-6 the lightweight variants of CWMP 1.4).
    public var notification: Int?
    /// Who besides the ACS may write the parameter (CWMP AccessList; `Subscriber`).
    public var accessList: [String]?

    public init(path: String, outcome: Outcome, writable: Bool? = nil, notification: Int? = nil, accessList: [String]? = nil) {
        self.path = path
        self.outcome = outcome
        self.writable = writable
        self.notification = notification
        self.accessList = accessList
    }

    private enum CodingKeys: String, CodingKey { case path, type, value, fault, writable, notification, accessList }

    /// `{"path": "...", "type": "string", "value": "x"}` or `{"path": "...", "fault": {...}}` or
    /// `{"path": "..."}` for done.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        path = try c.decode(String.self, forKey: .path)
        writable = try c.decodeIfPresent(Bool.self, forKey: .writable)
        notification = try c.decodeIfPresent(Int.self, forKey: .notification)
        accessList = try c.decodeIfPresent([String].self, forKey: .accessList)
        if let fault = try c.decodeIfPresent(Fault.self, forKey: .fault) {
            outcome = .fault(fault)
        } else if let text = try c.decodeIfPresent(String.self, forKey: .value) {
            let type = try c.decodeIfPresent(ValueType.self, forKey: .type) ?? .string
            outcome = .value(TypedValue.lenient(text, type: type))
        } else {
            outcome = .done
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(path, forKey: .path)
        switch outcome {
        case .value(let value):
            try c.encode(value.type, forKey: .type)
            try c.encode(value.lexical, forKey: .value)
        case .fault(let fault):
            try c.encode(fault, forKey: .fault)
        case .done:
            break
        }
        try c.encodeIfPresent(writable, forKey: .writable)
        try c.encodeIfPresent(notification, forKey: .notification)
        try c.encodeIfPresent(accessList, forKey: .accessList)
    }
}
