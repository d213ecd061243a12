/// A USP path name or search path (TR-369 section 2.6), which also covers every CWMP parameter
/// name and partial path (TR-069 A.3.2.1: a partial path ends in `.`).
///
/// Examples: `Device.DeviceInfo.`, `Device.WiFi.SSID.1.SSID`, `Device.IP.Interface.*.Status`,
/// `Device.IP.Interface.[Name=="eth0"].IPv4Address.[Status=="Enabled"&&Enable==true].IPAddress`,
/// `Device.NAT.PortMapping.1.Interface+.Name`, `Device.Reboot()`, `Device.Boot!`.
public struct PathExpression: Hashable, Sendable, CustomStringConvertible, Codable {
    /// One dot-separated part of a path.
    public enum Segment: Hashable, Sendable {
        /// An object, parameter, command or event name.
        case name(String)
        /// An instance number (`Interface.3`), always at least 1.
        case instance(UInt32)
        /// `*` in place of an instance identifier.
        case wildcard
        /// A unique-key address or search expression: `[Name=="eth0"]`, `[A==1&&B>2]`.
        case search([SearchCondition])
        /// Reference following: `Interface+` (index nil), `Ref#2+` (index 2), `Ref#*+` (all).
        case reference(String, index: ReferenceIndex?)
    }

    /// Which element of a list-valued reference to follow.
    public enum ReferenceIndex: Hashable, Sendable {
        case position(UInt32)
        case all
    }

    /// What the path addresses, from its ending.
    public enum Kind: Hashable, Sendable {
        /// Ends in `.`: an object, an instance, or a CWMP partial path.
        case object
        /// A parameter.
        case parameter
        /// Ends in `()`: a command for Operate.
        case command
        /// Ends in `!`: an event for subscriptions.
        case event
    }

    public let segments: [Segment]
    public let kind: Kind

    public init(segments: [Segment], kind: Kind) {
        self.segments = segments
        self.kind = kind
    }

    /// Parses `text`; a failure reports the 1-based column where the path went wrong.
    public init(_ text: String) throws(PathParseError) {
        var parser = PathParser(text)
        self = try parser.parsePath()
    }

    /// The first segment's name: `Device` or `InternetGatewayDevice`.
    public var root: String {
        if case .name(let name) = segments.first { return name }
        return ""
    }

    /// True when the path names one element with no wildcard, search or reference: the form CWMP
    /// accepts directly in GetParameterValues and SetParameterValues.
    public var isConcrete: Bool {
        segments.allSatisfy {
            switch $0 {
            case .name, .instance: true
            case .wildcard, .search, .reference: false
            }
        }
    }

    /// True when some segment is a wildcard or a search with an operator other than `==` on keys,
    /// that is, when the path may match more than one element.
    public var isSearch: Bool {
        segments.contains {
            switch $0 {
            case .wildcard, .search: true
            case .reference(_, index: .all?): true
            default: false
            }
        }
    }

    /// The last name in the path (the parameter, command or event name; or the object's name).
    public var leafName: String? {
        for segment in segments.reversed() {
            if case .name(let name) = segment { return name }
        }
        return nil
    }

    /// The object path that contains this element (`Device.WiFi.SSID.1.` for
    /// `Device.WiFi.SSID.1.SSID`); nil for the root object itself.
    public var parent: PathExpression? {
        guard segments.count > 1 else { return nil }
        return PathExpression(segments: Array(segments.dropLast()), kind: .object)
    }

    /// This path with `segment` appended as a parameter name.
    public func appending(_ name: String, kind: Kind = .parameter) -> PathExpression {
        PathExpression(segments: segments + [.name(name)], kind: kind)
    }

    /// Whether `other` lies at or below this (object) path. Only concrete paths compare.
    public func contains(_ other: PathExpression) -> Bool {
        guard kind == .object, other.segments.count >= segments.count else { return self == other }
        return Array(other.segments.prefix(segments.count)) == segments
    }

    public var description: String {
        var out = ""
        for (index, segment) in segments.enumerated() {
            if index > 0 { out.append(".") }
            out.append(segment.description)
        }
        switch kind {
        case .object: out.append(".")
        case .parameter: break
        case .command: out.append("()")
        case .event: out.append("!")
        }
        return out
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension PathExpression.Segment: CustomStringConvertible {
    public var description: String {
        switch self {
        case .name(let name): name
        case .instance(let number): String(number)
        case .wildcard: "*"
        case .search(let conditions): "[" + conditions.map(\.description).joined(separator: "&&") + "]"
        case .reference(let name, index: nil): name + "+"
        case .reference(let name, index: .position(let n)?): "\(name)#\(n)+"
        case .reference(let name, index: .all?): name + "#*+"
        }
    }
}

/// One `param op value` term of a search expression. Terms combine with `&&` only (no OR).
public struct SearchCondition: Hashable, Sendable, CustomStringConvertible {
    /// The operators of TR-369 section 2.6 (search expressions).
    public enum Operator: String, Hashable, Sendable, CaseIterable {
        case equal = "=="
        case notEqual = "!="
        case contains = "~="
        case less = "<"
        case greater = ">"
        case lessOrEqual = "<="
        case greaterOrEqual = ">="
    }

    /// The constant a parameter is compared with: a double-quoted string, or a bare literal
    /// (number, `true`/`false`).
    public enum Literal: Hashable, Sendable, CustomStringConvertible {
        case string(String)
        case bare(String)

        public var text: String {
            switch self {
            case .string(let s), .bare(let s): s
            }
        }

        public var description: String {
            switch self {
            case .string(let s):
                // In a search string, '"' is written %22 and '%' is written %25.
                "\"" + s.replacingPercentEscapes() + "\""
            case .bare(let s): s
            }
        }
    }

    /// The parameter, relative to the object being searched; it may follow references
    /// (`SSIDReference+.SSID`) and descend into single-instance children (`Stats.ErrorsSent`).
    public let path: [PathExpression.Segment]
    public let op: Operator
    public let value: Literal

    public init(path: [PathExpression.Segment], op: Operator, value: Literal) {
        self.path = path
        self.op = op
        self.value = value
    }

    public var description: String {
        path.map(\.description).joined(separator: ".") + op.rawValue + value.description
    }

    /// True when this term is a unique-key equality (`Name=="eth0"`): only names, only `==`.
    public var isKeyEquality: Bool {
        op == .equal && path.allSatisfy { if case .name = $0 { true } else { false } }
    }
}

extension String {
    fileprivate func replacingPercentEscapes() -> String {
        var out = ""
        for character in self {
            switch character {
            case "%": out += "%25"
            case "\"": out += "%22"
            default: out.append(character)
            }
        }
        return out
    }
}
