import Foundation
import TandemCore

/// How one parameter of a simulated data model is declared: its type, whether the ACS may write
/// it, its factory value and the rules a written value must satisfy.
public struct ParameterDefinition: Sendable {
    /// The name inside its object (`SSID`, not `Device.WiFi.SSID.1.SSID`).
    public var name: String
    public var type: ValueType
    public var writable: Bool
    /// The value after a factory reset, and of an instance the ACS adds.
    public var defaultValue: TypedValue
    public var constraint: ValueConstraint?
    /// Passwords and keys: reading returns an empty string whatever the value (TR-181 "hidden").
    public var hidden: Bool
    /// Sent in every Inform (TR-181 `forcedInform="true"`).
    public var forcedInform: Bool
    /// SetParameterAttributes may not enable active notification (TR-181 `activeNotify="canDeny"`,
    /// used for counters and clocks); such a request gets fault 9009.
    public var deniesActiveNotification: Bool

    public init(
        _ name: String, type: ValueType, writable: Bool = false, defaultValue: TypedValue? = nil, constraint: ValueConstraint? = nil,
        hidden: Bool = false, forcedInform: Bool = false, deniesActiveNotification: Bool = false
    ) {
        self.name = name
        self.type = type
        self.writable = writable
        self.defaultValue = defaultValue ?? Self.zero(of: type)
        self.constraint = constraint
        self.hidden = hidden
        self.forcedInform = forcedInform
        self.deniesActiveNotification = deniesActiveNotification
    }

    /// The empty value of a type: `""`, 0, false, the Unknown Time, no bytes.
    public static func zero(of type: ValueType) -> TypedValue {
        switch type {
        case .string: .string("")
        case .int: .int(0)
        case .unsignedInt: .unsignedInt(0)
        case .long: .long(0)
        case .unsignedLong: .unsignedLong(0)
        case .boolean: .boolean(false)
        case .dateTime: .dateTime(.unknown)
        case .base64: .base64([])
        case .hexBinary: .hexBinary([])
        case .decimal: .decimal(try! DecimalValue(parsing: "0"))
        }
    }

    // MARK: Shorthands for model tables

    public static func string(
        _ name: String, _ value: String = "", writable: Bool = false, constraint: ValueConstraint? = nil, hidden: Bool = false,
        forcedInform: Bool = false
    ) -> Self {
        Self(name, type: .string, writable: writable, defaultValue: .string(value), constraint: constraint, hidden: hidden, forcedInform: forcedInform)
    }

    public static func unsignedInt(
        _ name: String, _ value: UInt32 = 0, writable: Bool = false, constraint: ValueConstraint? = nil, deniesActiveNotification: Bool = false
    ) -> Self {
        Self(
            name, type: .unsignedInt, writable: writable, defaultValue: .unsignedInt(value), constraint: constraint,
            deniesActiveNotification: deniesActiveNotification)
    }

    public static func int(_ name: String, _ value: Int32 = 0, writable: Bool = false, constraint: ValueConstraint? = nil) -> Self {
        Self(name, type: .int, writable: writable, defaultValue: .int(value), constraint: constraint)
    }

    public static func boolean(_ name: String, _ value: Bool = false, writable: Bool = false, forcedInform: Bool = false) -> Self {
        Self(name, type: .boolean, writable: writable, defaultValue: .boolean(value), forcedInform: forcedInform)
    }

    public static func dateTime(_ name: String, writable: Bool = false, deniesActiveNotification: Bool = false) -> Self {
        Self(name, type: .dateTime, writable: writable, defaultValue: .dateTime(.unknown), deniesActiveNotification: deniesActiveNotification)
    }
}

/// What a written value must satisfy; a violation is fault 9007.
public enum ValueConstraint: Sendable, Hashable {
    /// A string of at most this many characters.
    case maxLength(Int)
    /// A string whose length lies in the range (WPA passphrases: 8...63).
    case length(ClosedRange<Int>)
    /// A number in the range.
    case range(ClosedRange<Int64>)
    /// One of these strings.
    case enumeration([String])
    /// A comma-separated list whose items are each one of these strings.
    case list(of: [String])
    /// An `http://` or `https://` URL, or empty.
    case url

    /// Why `value` breaks the constraint, or nil when it satisfies it.
    func violation(by value: TypedValue) -> String? {
        switch self {
        case .maxLength(let limit):
            return value.lexical.count > limit ? "longer than \(limit) characters" : nil
        case .length(let range):
            return range.contains(value.lexical.count) ? nil : "length must be \(range.lowerBound) to \(range.upperBound) characters"
        case .range(let range):
            let message = "must be \(range.lowerBound) to \(range.upperBound)"
            guard let number = Int64(value.lexical) else { return UInt64(value.lexical) == nil ? "not a number" : message }
            return range.contains(number) ? nil : message
        case .enumeration(let allowed):
            return allowed.contains(value.lexical) ? nil : "must be one of \(allowed.joined(separator: ", "))"
        case .list(let allowed):
            let items = value.lexical.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if value.lexical.isEmpty { return nil }
            return items.allSatisfy(allowed.contains) ? nil : "items must be among \(allowed.joined(separator: ", "))"
        case .url:
            let text = value.lexical
            if text.isEmpty { return nil }
            let lower = text.lowercased()
            return (lower.hasPrefix("http://") || lower.hasPrefix("https://")) && text.count > 8 ? nil : "must be an http or https URL"
        }
    }
}

/// An object of a data model: its parameters and child objects, in the order GetParameterNames
/// lists them.
public struct ObjectDefinition: Sendable {
    public var parameters: [ParameterDefinition]
    public var children: [ChildObjectDefinition]

    public init(_ parameters: [ParameterDefinition] = [], children: [ChildObjectDefinition] = []) {
        self.parameters = parameters
        self.children = children
    }
}

/// A child object: a single object (`DeviceInfo.`) or a multi-instance table (`SSID.{i}.`).
public struct ChildObjectDefinition: Sendable {
    public enum Kind: Sendable {
        case single
        /// A table. `writable` tables accept AddObject and DeleteObject. `countParameter` names the
        /// parent's `...NumberOfEntries` parameter kept equal to the number of instances.
        case table(writable: Bool, countParameter: String?, maxEntries: Int?)
    }

    public var name: String
    public var kind: Kind
    public var definition: ObjectDefinition

    public init(name: String, kind: Kind, definition: ObjectDefinition) {
        self.name = name
        self.kind = kind
        self.definition = definition
    }

    public static func object(_ name: String, _ definition: ObjectDefinition) -> Self {
        Self(name: name, kind: .single, definition: definition)
    }

    public static func table(
        _ name: String, writable: Bool, count countParameter: String? = nil, maxEntries: Int? = nil, _ definition: ObjectDefinition
    ) -> Self {
        Self(name: name, kind: .table(writable: writable, countParameter: countParameter, maxEntries: maxEntries), definition: definition)
    }
}
