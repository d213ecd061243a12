#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The identity a CWMP CPE reports in every Inform (`DeviceIdStruct`, TR-069 A.3.3.1).
///
/// The canonical string form is `OUI-ProductClass-SerialNumber` (or `OUI-SerialNumber` when the
/// CPE reports no ProductClass), the form TR-069 recommends as the CPE's username (TR-069 3.4.4) and
/// the form operators recognise. In that form `-`, `%` and every character outside the USP
/// instance-id set are percent-encoded, so the string parses back without ambiguity.
public struct CWMPDeviceID: Hashable, Sendable, Codable, CustomStringConvertible {
    /// Manufacturer name as reported; not part of the identity.
    public var manufacturer: String
    /// Organizationally Unique Identifier, normalised to six upper-case hexadecimal digits.
    public let oui: String
    /// ProductClass; may be empty (TR-069 allows an empty ProductClass).
    public let productClass: String
    /// SerialNumber; never empty.
    public let serialNumber: String

    /// Validates and normalises the four fields of a `DeviceIdStruct`.
    ///
    /// Lower-case OUIs (seen in the field) are accepted and upper-cased. Limits follow the schema:
    /// 64 characters for Manufacturer, ProductClass and SerialNumber; OUI exactly `[0-9A-F]{6}`.
    public init(manufacturer: String = "", oui: String, productClass: String = "", serialNumber: String) throws(IdentityError) {
        let trimmedOUI = oui.trimmingWhitespace()
        guard trimmedOUI.count == 6, trimmedOUI.allSatisfy(\.isHexDigit) else {
            throw IdentityError("OUI must be six hexadecimal digits, got \"\(oui)\"")
        }
        let serial = serialNumber.trimmingWhitespace()
        guard !serial.isEmpty else { throw IdentityError("SerialNumber must not be empty") }
        let product = productClass.trimmingWhitespace()
        try Self.checkLength("Manufacturer", manufacturer)
        try Self.checkLength("ProductClass", product)
        try Self.checkLength("SerialNumber", serial)
        try Self.checkNoControlCharacter("ProductClass", product)
        try Self.checkNoControlCharacter("SerialNumber", serial)
        self.manufacturer = manufacturer.trimmingWhitespace()
        self.oui = trimmedOUI.uppercased()
        self.productClass = product
        self.serialNumber = serial
    }

    private static func checkLength(_ name: String, _ value: String) throws(IdentityError) {
        // Every Character takes at least one UTF-8 byte: 64 bytes or fewer need no grapheme count.
        if value.utf8.count > 64, value.count > 64 { throw IdentityError("\(name) is longer than 64 characters") }
    }

    /// C0 controls and DEL are single bytes in UTF-8, and no byte below 0x80 is part of another
    /// scalar's encoding.
    private static func checkNoControlCharacter(_ name: String, _ value: String) throws(IdentityError) {
        if value.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) { throw IdentityError("\(name) contains a control character") }
    }

    /// Parses the canonical form `OUI-ProductClass-Serial` or `OUI-Serial`.
    public init(parsing text: String) throws(IdentityError) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        switch parts.count {
        case 2:
            try self.init(oui: parts[0], serialNumber: try PercentCoding.decode(parts[1]))
        case 3:
            try self.init(
                oui: parts[0],
                productClass: try PercentCoding.decode(parts[1]),
                serialNumber: try PercentCoding.decode(parts[2])
            )
        default:
            throw IdentityError("a CWMP DeviceId has the form OUI-ProductClass-SerialNumber, got \"\(text)\"")
        }
    }

    /// `OUI-ProductClass-SerialNumber`, percent-encoded so that it parses back.
    public var canonical: String {
        let serial = PercentCoding.encode(serialNumber)
        return productClass.isEmpty ? "\(oui)-\(serial)" : "\(oui)-\(PercentCoding.encode(productClass))-\(serial)"
    }

    public var description: String { canonical }

    /// The USP endpoint IDs an agent on this device would derive from the same identity
    /// (TR-369 R-ARC.2a: `os::OUI-SerialNumber` and `ops::OUI-ProductClass-SerialNumber`).
    /// `-` is an unreserved instance-id character (R-ARC.5), so it stays as it is; everything else
    /// outside ALPHA / DIGIT / `.` / `_` is percent-encoded.
    public var derivedEndpointIDs: [EndpointID] {
        let serial = PercentCoding.encode(serialNumber, keepDash: true)
        var ids = [EndpointID(uncheckedScheme: .os, authority: "", instance: "\(oui)-\(serial)")]
        if !productClass.isEmpty {
            ids.append(EndpointID(
                uncheckedScheme: .ops, authority: "", instance: "\(oui)-\(PercentCoding.encode(productClass, keepDash: true))-\(serial)"))
        }
        return ids
    }

    // Identity ignores the manufacturer's spelling.
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.oui == rhs.oui && lhs.productClass == rhs.productClass && lhs.serialNumber == rhs.serialNumber
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(oui)
        hasher.combine(productClass)
        hasher.combine(serialNumber)
    }
}

/// An identity that could not be parsed or validated.
public struct IdentityError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension String {
    func trimmingWhitespace() -> String {
        // The common case, text that starts and ends with a visible ASCII character, needs no
        // Unicode property lookups: such a first Character's first scalar is not whitespace, and a
        // last Character ending in one is that character or begins with a Prepend scalar.
        let visibleASCII: ClosedRange<UInt8> = 0x21...0x7E
        if let first = utf8.first, let last = utf8.last, visibleASCII.contains(first), visibleASCII.contains(last) { return self }
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
