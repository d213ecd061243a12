import TandemCore

/// `ParameterValueStruct` (TR-069 A.3.2.1): a parameter name and a value with its type. On the wire
/// the type is the `xsi:type` attribute of `Value`; a value received without one is a string.
public struct CWMPParameterValue: Hashable, Sendable {
    /// The full parameter name (`Device.DeviceInfo.SoftwareVersion`), at most 256 characters.
    public var name: String
    public var value: TypedValue

    public init(name: String, value: TypedValue) {
        self.name = name
        self.value = value
    }
}

/// `ParameterInfoStruct` (TR-069 A.3.2.3): a name from GetParameterNamesResponse and whether it is
/// writable. Object names end in `.`.
public struct CWMPParameterInfo: Hashable, Sendable {
    public var name: String
    public var writable: Bool

    public init(name: String, writable: Bool) {
        self.name = name
        self.writable = writable
    }

    /// True for an object (partial path), whose name ends in `.`.
    public var isObject: Bool { name.hasSuffix(".") }
}

/// `ParameterAttributeStruct` (TR-069 A.3.2.5): the attributes GetParameterAttributesResponse
/// reports.
public struct CWMPParameterAttribute: Hashable, Sendable {
    public var name: String
    /// 0 off, 1 passive, 2 active; 3-6 the lightweight variants of CWMP 1.4 (cwmp-1-4.xsd).
    public var notification: Int
    /// Entities besides the ACS allowed to write the parameter; the only defined value is
    /// `Subscriber`.
    public var accessList: [String]

    public init(name: String, notification: Int, accessList: [String] = []) {
        self.name = name
        self.notification = notification
        self.accessList = accessList
    }
}

/// `SetParameterAttributesStruct` (TR-069 A.3.2.4).
public struct CWMPSetParameterAttribute: Hashable, Sendable {
    public var name: String
    public var notificationChange: Bool
    public var notification: Int
    public var accessListChange: Bool
    public var accessList: [String]

    public init(name: String, notificationChange: Bool, notification: Int, accessListChange: Bool = false, accessList: [String] = []) {
        self.name = name
        self.notificationChange = notificationChange
        self.notification = notification
        self.accessListChange = accessListChange
        self.accessList = accessList
    }

    /// Sets only the notification attribute.
    public static func notification(_ name: String, _ notification: Int) -> Self {
        Self(name: name, notificationChange: true, notification: notification)
    }
}

/// `EventStruct` (TR-069 A.3.3.1): one event of an Inform.
public struct CWMPEvent: Hashable, Sendable {
    public var code: CWMPEventCode
    /// The CommandKey of the method that caused an `M ...` event; empty otherwise.
    public var commandKey: String

    public init(code: CWMPEventCode, commandKey: String = "") {
        self.code = code
        self.commandKey = commandKey
    }
}

/// `FaultStruct` of TransferComplete/AutonomousTransferComplete and `Fault` of a deployment-unit
/// operation result (cwmp-1-2.xsd `TransferCompleteFaultStruct`, `DeploymentUnitFaultStruct`).
/// Code 0 means success.
public struct CWMPTransferFault: Hashable, Sendable {
    public var code: CWMPFaultCode
    public var message: String

    public init(code: CWMPFaultCode, message: String = "") {
        self.code = code
        self.message = message
    }

    public static let success = CWMPTransferFault(code: CWMPFaultCode(0))

    public var isSuccess: Bool { code.rawValue == 0 }
}
