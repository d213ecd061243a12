#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A parameter value with its TR-106 type.
///
/// Both protocols carry values as text (CWMP in XML with `xsi:type`, USP as protobuf strings), so the
/// lexical form is the wire form. Parsing validates it; `lexical` renders the canonical form, and
/// `TypedValue(parsing: v.lexical, as: v.type) == v` holds for every value.
public enum TypedValue: Hashable, Sendable {
    case string(String)
    case int(Int32)
    case unsignedInt(UInt32)
    case long(Int64)
    case unsignedLong(UInt64)
    case boolean(Bool)
    case dateTime(DateTimeValue)
    case base64([UInt8])
    case hexBinary([UInt8])
    case decimal(DecimalValue)

    public var type: ValueType {
        switch self {
        case .string: .string
        case .int: .int
        case .unsignedInt: .unsignedInt
        case .long: .long
        case .unsignedLong: .unsignedLong
        case .boolean: .boolean
        case .dateTime: .dateTime
        case .base64: .base64
        case .hexBinary: .hexBinary
        case .decimal: .decimal
        }
    }

    /// Parses a wire value. Integers accept surrounding whitespace and a leading `+`; booleans accept
    /// `true`/`false`/`1`/`0` in any case (TR-069 A.2); base64 ignores line breaks.
    public init(parsing text: String, as type: ValueType) throws(ValueError) {
        func integer<T: FixedWidthInteger>(_: T.Type) throws(ValueError) -> T {
            var trimmed = text.trimmingWhitespace()
            if trimmed.hasPrefix("+") { trimmed.removeFirst() }
            guard let value = T(trimmed, radix: 10) else {
                throw ValueError("\"\(text)\" is not a valid \(type.rawValue) (range \(T.min)...\(T.max))")
            }
            return value
        }
        switch type {
        case .string: self = .string(text)
        case .int: self = .int(try integer(Int32.self))
        case .unsignedInt: self = .unsignedInt(try integer(UInt32.self))
        case .long: self = .long(try integer(Int64.self))
        case .unsignedLong: self = .unsignedLong(try integer(UInt64.self))
        case .boolean:
            switch text.trimmingWhitespace().lowercased() {
            case "true", "1": self = .boolean(true)
            case "false", "0": self = .boolean(false)
            default: throw ValueError("\"\(text)\" is not a boolean (true, false, 1 or 0)")
            }
        case .dateTime: self = .dateTime(try DateTimeValue(parsing: text.trimmingWhitespace()))
        case .base64:
            let compact = text.filter { !$0.isWhitespace }
            guard let data = Data(base64Encoded: compact) else { throw ValueError("\"\(text)\" is not valid base64") }
            self = .base64(Array(data))
        case .hexBinary:
            let compact = text.trimmingWhitespace()
            guard compact.count.isMultiple(of: 2) else { throw ValueError("hexBinary \"\(text)\" has an odd number of digits") }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(compact.count / 2)
            var index = compact.startIndex
            while index < compact.endIndex {
                let next = compact.index(index, offsetBy: 2)
                guard let byte = UInt8(compact[index..<next], radix: 16) else {
                    throw ValueError("\"\(text)\" is not valid hexBinary")
                }
                bytes.append(byte)
                index = next
            }
            self = .hexBinary(bytes)
        case .decimal: self = .decimal(try DecimalValue(parsing: text.trimmingWhitespace()))
        }
    }

    /// Parses `text` as `type`, or keeps it as a string when `type` is nil or the text does not
    /// parse. For values received from devices, which must never be dropped.
    public static func lenient(_ text: String, type: ValueType?) -> TypedValue {
        guard let type else { return .string(text) }
        return (try? TypedValue(parsing: text, as: type)) ?? .string(text)
    }

    /// The canonical wire form.
    public var lexical: String {
        switch self {
        case .string(let s): s
        case .int(let v): String(v)
        case .unsignedInt(let v): String(v)
        case .long(let v): String(v)
        case .unsignedLong(let v): String(v)
        case .boolean(let v): v ? "true" : "false"
        case .dateTime(let v): v.lexical
        case .base64(let bytes): Data(bytes).base64EncodedString()
        case .hexBinary(let bytes): bytes.map { byte in
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
        }.joined()
        case .decimal(let v): v.lexical
        }
    }
}

extension TypedValue: CustomStringConvertible {
    public var description: String { lexical }
}

extension TypedValue: Codable {
    private enum CodingKeys: String, CodingKey { case type, value }

    /// Encoded as `{"type": "unsignedInt", "value": "42"}`, the shape the REST API and the event
    /// log use.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let type = try container.decode(ValueType.self, forKey: .type)
        let text = try container.decode(String.self, forKey: .value)
        do { self = try TypedValue(parsing: text, as: type) } catch {
            throw DecodingError.dataCorruptedError(forKey: .value, in: container, debugDescription: error.message)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(type, forKey: .type)
        try container.encode(lexical, forKey: .value)
    }
}

/// A value that does not fit its declared type.
public struct ValueError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
