/// A USP Endpoint ID: `authority-scheme ":" [authority-id] ":" instance-id` (TR-369 section 2.2).
///
/// Parsing checks the authority rules of R-ARC.2a for each scheme, the instance-id alphabet of
/// R-ARC.5 and, unless `strictLength` is false, the 50-character limit of R-ARC.6 (some agents in
/// the field derive longer `os::` IDs from long serial numbers; registries accept them leniently).
public struct EndpointID: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    /// The authority schemes of TR-369 R-ARC.2a, plus `fqdn` and `imeisv` from later amendments.
    public enum Scheme: String, Sendable, CaseIterable, Codable {
        case oui, cid, pen, `self`, user, os, ops, uuid, imei, imeisv, proto, doc, fqdn
    }

    public let scheme: Scheme
    public let authority: String
    public let instance: String

    public var description: String { "\(scheme.rawValue):\(authority):\(instance)" }
    public var rawValue: String { description }

    init(uncheckedScheme scheme: Scheme, authority: String, instance: String) {
        self.scheme = scheme
        self.authority = authority
        self.instance = instance
    }

    /// Parses and validates an endpoint ID.
    public init(_ text: String, strictLength: Bool = true) throws(IdentityError) {
        guard let firstColon = text.firstIndex(of: ":") else {
            throw IdentityError("endpoint ID \"\(text)\" has no authority scheme (expected scheme:authority:instance)")
        }
        let schemeText = String(text[..<firstColon])
        guard let scheme = Scheme(rawValue: schemeText) else {
            throw IdentityError("unknown endpoint ID authority scheme \"\(schemeText)\"")
        }
        let rest = text[text.index(after: firstColon)...]
        guard let secondColon = rest.firstIndex(of: ":") else {
            throw IdentityError("endpoint ID \"\(text)\" lacks the second ':' (write \(schemeText)::instance when there is no authority-id)")
        }
        let authority = String(rest[..<secondColon])
        let instance = String(rest[rest.index(after: secondColon)...])
        try Self.validate(scheme: scheme, authority: authority, instance: instance, strictLength: strictLength)
        self.init(uncheckedScheme: scheme, authority: authority, instance: instance)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(text, strictLength: false) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    // MARK: Linking with CWMP identity

    /// For `os::` and `ops::` IDs, the OUI the instance starts with (upper-cased).
    public var derivedOUI: String? {
        guard scheme == .os || scheme == .ops else { return nil }
        let oui = instance.prefix(6)
        guard oui.count == 6, oui.allSatisfy(\.isHexDigit), instance.dropFirst(6).first == "-" else { return nil }
        return oui.uppercased()
    }

    /// For `os::` and `ops::` IDs, the percent-decoded text after `OUI-`: the SerialNumber for `os`,
    /// `ProductClass-SerialNumber` for `ops`.
    public var derivedTail: String? {
        guard derivedOUI != nil else { return nil }
        return try? PercentCoding.decode(String(instance.dropFirst(7)))
    }

    /// Whether this endpoint ID is the one TR-369 R-ARC.2a derives from the CWMP identity `device`.
    /// OUIs compare case-insensitively; the rest compares after percent-decoding.
    public func isDerived(from device: CWMPDeviceID) -> Bool {
        guard derivedOUI == device.oui, let rest = derivedTail else { return false }
        switch scheme {
        case .os: return rest == device.serialNumber
        case .ops: return !device.productClass.isEmpty && rest == "\(device.productClass)-\(device.serialNumber)"
        default: return false
        }
    }

    /// The canonical spelling used for lookups: `os::`/`ops::` instances re-encoded with the OUI
    /// upper-cased, so that `os::00d09e-1` and `os::00D09E-1` find the same device.
    public var lookupKey: String {
        guard let oui = derivedOUI else { return rawValue }
        return "\(scheme.rawValue)::\(oui)\(instance.dropFirst(6))"
    }

    // MARK: Validation

    private static func validate(scheme: Scheme, authority: String, instance: String, strictLength: Bool) throws(IdentityError) {
        guard !instance.isEmpty else { throw IdentityError("endpoint ID has an empty instance-id") }
        // R-ARC.5: instance-id = unreserved / pct-encoded
        var bytes = instance.utf8.makeIterator()
        while let byte = bytes.next() {
            if isUnreserved(byte) { continue }
            if byte == UInt8(ascii: "%"), let a = bytes.next(), let b = bytes.next(), isHex(a), isHex(b) { continue }
            throw IdentityError("instance-id \"\(instance)\" has a character outside ALPHA / DIGIT / - . _ / %HH (R-ARC.5)")
        }
        if strictLength && instance.count > 50 {
            throw IdentityError("instance-id is \(instance.count) characters, more than 50 (R-ARC.6)")
        }
        let authorityIsUnreserved = authority.utf8.allSatisfy(isUnreserved)
        switch scheme {
        case .oui, .cid:
            let allowed = scheme == .oui ? [6, 7, 9] : [6]
            guard allowed.contains(authority.count), authority.allSatisfy(\.isHexDigit) else {
                throw IdentityError("\(scheme.rawValue) endpoint IDs need a hexadecimal authority-id of \(allowed.map(String.init).joined(separator: ", ")) digits, got \"\(authority)\"")
            }
        case .pen:
            guard !authority.isEmpty, authority.allSatisfy(\.isASCIIDigit) else {
                throw IdentityError("pen endpoint IDs need a decimal Private Enterprise Number as authority-id, got \"\(authority)\"")
            }
        case .self, .user, .doc:
            guard authority.count <= 6, authorityIsUnreserved else {
                throw IdentityError("\(scheme.rawValue) authority-id must be 0 to 6 unreserved characters, got \"\(authority)\"")
            }
        case .proto:
            guard authority.count <= 6, authorityIsUnreserved, !authority.contains(".") else {
                throw IdentityError("proto authority-id must be 0 to 6 unreserved characters other than '.', got \"\(authority)\"")
            }
        case .os, .ops, .uuid, .imei, .imeisv, .fqdn:
            guard authority.isEmpty else {
                throw IdentityError("\(scheme.rawValue) endpoint IDs have an empty authority-id (\(scheme.rawValue)::instance)")
            }
        }
        switch scheme {
        case .os, .ops:
            let oui = instance.prefix(6)
            let rest = instance.dropFirst(6)
            var valid = oui.count == 6 && oui.allSatisfy(\.isHexDigit) && rest.first == "-" && rest.count > 1
            if valid && scheme == .ops {
                // ProductClass and SerialNumber both non-empty around a '-'.
                let tail = rest.dropFirst()
                valid = tail.dropFirst().dropLast().contains("-")
            }
            guard valid else {
                let form = scheme == .os ? "OUI-SerialNumber" : "OUI-ProductClass-SerialNumber"
                throw IdentityError("\(scheme.rawValue) instance-id must be \(form), got \"\(instance)\"")
            }
        case .uuid:
            let groups = instance.split(separator: "-", omittingEmptySubsequences: false).map(\.count)
            guard groups == [8, 4, 4, 4, 12], instance.allSatisfy({ $0 == "-" || $0.isHexDigit }) else {
                throw IdentityError("uuid instance-id must be an RFC 4122 UUID, got \"\(instance)\"")
            }
        case .imei, .imeisv:
            let length = scheme == .imei ? 15 : 16
            guard instance.count == length, instance.allSatisfy(\.isASCIIDigit) else {
                throw IdentityError("\(scheme.rawValue) instance-id must be \(length) decimal digits, got \"\(instance)\"")
            }
        case .fqdn:
            let labels = instance.split(separator: ".", omittingEmptySubsequences: false)
            guard labels.allSatisfy({ (1...63).contains($0.count) && !$0.hasPrefix("-") && !$0.hasSuffix("-") && !$0.contains("_") }) else {
                throw IdentityError("fqdn instance-id must be a DNS name, got \"\(instance)\"")
            }
        default:
            break
        }
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"):
            true
        default: false
        }
    }

    private static func isHex(_ byte: UInt8) -> Bool {
        Character(Unicode.Scalar(byte)).isHexDigit
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isWholeNumber }
}
