#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SwiftProtobuf

/// The one place that calls SwiftProtobuf's binary coder, so that every decode honours the limits
/// and every encode is deterministic (map entries sorted by key, as `protoc --deterministic_output`
/// writes them; without it, byte-exact round trips of messages with maps would be impossible).
enum ProtobufSupport {
    static func decode<M: SwiftProtobuf.Message>(
        _ type: M.Type, from bytes: [UInt8], limits: USPDecodingLimits, layer: USPDecodingError.Layer
    ) throws(USPDecodingError) -> M {
        var options = BinaryDecodingOptions()
        options.messageDepthLimit = limits.maxNestingDepth
        do {
            return try M(serializedBytes: bytes, options: options)
        } catch let error as BinaryDecodingError {
            let reason: USPDecodingError.Reason
            switch error {
            case .truncated: reason = .truncated
            case .invalidUTF8: reason = .malformed("a string field is not valid UTF-8")
            case .messageDepthLimit: reason = .malformed("messages nest deeper than \(limits.maxNestingDepth) levels")
            case .trailingGarbage: reason = .malformed("trailing bytes after the message")
            case .malformedProtobuf: reason = .malformed("invalid tag, wire type or varint")
            case .missingRequiredFields, .internalExtensionError: reason = .malformed("\(error)")
            }
            throw USPDecodingError(layer: layer, reason: reason)
        } catch {
            throw USPDecodingError(layer: layer, reason: .malformed("\(error)"))
        }
    }

    static func encode<M: SwiftProtobuf.Message>(_ message: M) throws(USPEncodingError) -> [UInt8] {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        do {
            return try message.serializedBytes(options: options)
        } catch {
            // proto3 messages without `Any` fail only above protobuf's 2 GiB ceiling.
            throw USPEncodingError("cannot serialize \(M.protoMessageName): \(error) (protobuf messages are limited to 2 GiB)")
        }
    }
}

extension Data {
    var bytes: [UInt8] { [UInt8](self) }
}

/// Reads fields out of raw protobuf bytes without a schema: used for the fields a 1.4 schema does
/// not know but a 1.5 peer sends (Record `originator_id` = 14, `destination_id` = 15), which
/// SwiftProtobuf keeps as unknown fields.
enum WireScanner {
    /// The last (proto3: winning) value of length-delimited field `number`, as UTF-8 text; nil when
    /// absent, not UTF-8, or when the bytes cannot be walked.
    static func string(field number: UInt64, in bytes: [UInt8]) -> String? {
        var index = 0
        var found: String?
        func varint() -> UInt64? {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while index < bytes.count, shift < 64 {
                let byte = bytes[index]
                index += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
            return nil
        }
        while index < bytes.count {
            guard let tag = varint() else { return found }
            switch tag & 7 {
            case 0:
                guard varint() != nil else { return found }
            case 1:
                index += 8
            case 2:
                guard let length = varint(), length <= UInt64(bytes.count - index) else { return found }
                let end = index + Int(length)
                if tag >> 3 == number {
                    // Valid UTF-8 survives a decode/encode round trip unchanged.
                    let text = String(decoding: bytes[index..<end], as: UTF8.self)
                    found = text.utf8.elementsEqual(bytes[index..<end]) ? text : nil
                }
                index = end
            case 5:
                index += 4
            default:
                return found  // groups (3, 4) and reserved wire types: stop walking
            }
        }
        return found
    }
}
