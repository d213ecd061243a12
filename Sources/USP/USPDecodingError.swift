import TandemCore

/// Why bytes received from a peer could not be turned into a ``USPRecord`` or a ``USPMessage``.
///
/// Every error carries the TR-369 error code to report: a Record error (7100-7106) for the Record
/// layer, a Message error for the Message layer. Per R-MTP.5 the receiver answers a broken Record with
/// an Error Message only when it can still tell who sent it and which request it was (``messageID``);
/// otherwise it drops the input silently.
public struct USPDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The layer that failed.
    public enum Layer: String, Hashable, Sendable {
        /// The USP Record (`usp-record-1-4.proto`).
        case record
        /// The USP Message (`usp-msg-1-4.proto`).
        case message
    }

    /// What went wrong.
    public enum Reason: Hashable, Sendable {
        /// The input is larger than the configured ``USPDecodingLimits``; nothing was parsed.
        case tooLarge(size: Int, limit: Int)
        /// The bytes end inside a field: a tag, a length or a value runs past the end, or a length
        /// prefix claims more bytes than there are.
        case truncated
        /// The bytes are not a valid protobuf encoding (bad tag or wire type, overlong varint,
        /// invalid UTF-8 in a string, nesting deeper than the limit).
        case malformed(String)
        /// A field TR-369 requires is absent or empty, or a `oneof` has no member (R-ENC.3).
        case missingField(String)
        /// A field holds a value the schema or TR-369 forbids (unknown enumeration value, R-ENC.2;
        /// empty payload, R-E2E.26; ...).
        case invalidValue(field: String, detail: String)
        /// The input decoded but is not what the caller asked for (a Connect Record where a Message
        /// was expected).
        case unexpectedKind(String)
    }

    public let layer: Layer
    public let reason: Reason
    /// The code to report in an Error Message (`err_code`) or a DisconnectRecord (`reason_code`).
    public let code: USPErrorCode
    /// The `msg_id` of the Message, when its header could be read (R-MTP.5 needs it to answer).
    public let messageID: String?

    public init(layer: Layer, reason: Reason, code: USPErrorCode? = nil, messageID: String? = nil) {
        self.layer = layer
        self.reason = reason
        self.code = code ?? Self.defaultCode(layer: layer, reason: reason)
        self.messageID = messageID
    }

    /// Record errors (TR-369 "USP Record Errors"): what cannot be parsed is 7100, a parsed Record
    /// with a bad field is 7104. Message errors: what cannot be parsed is 7001 ("the attempted
    /// message was not understood"), a `oneof` or required-field violation is 7004 (R-ENC.5), an
    /// oversized Message is 7005.
    static func defaultCode(layer: Layer, reason: Reason) -> USPErrorCode {
        switch (layer, reason) {
        case (.record, .tooLarge), (.record, .truncated), (.record, .malformed): .recordNotParsed
        case (.record, _): .invalidRecordValue
        case (.message, .tooLarge): .resourcesExceeded
        case (.message, .truncated), (.message, .malformed): .messageNotSupported
        case (.message, _): .invalidArguments
        }
    }

    /// The same error, tagged with the `msg_id` it belongs to.
    func with(messageID: String?) -> USPDecodingError {
        USPDecodingError(layer: layer, reason: reason, code: code, messageID: messageID)
    }

    /// The error as a neutral fault (category from the USP code).
    public var fault: Fault { Fault(usp: code, message: description) }

    public var description: String {
        let what: String
        switch reason {
        case .tooLarge(let size, let limit): what = "\(size) bytes exceed the limit of \(limit)"
        case .truncated: what = "the bytes end inside a field (truncated input or a length that runs past the end)"
        case .malformed(let detail): what = "malformed protobuf: \(detail)"
        case .missingField(let field): what = "required field \(field) is missing"
        case .invalidValue(let field, let detail): what = "invalid \(field): \(detail)"
        case .unexpectedKind(let detail): what = detail
        }
        let id = messageID.map { " (msg_id \"\($0)\")" } ?? ""
        return "USP \(layer.rawValue) rejected\(id), \(code.rawValue) \(code.name): \(what)"
    }
}

/// Why a ``USPRecord`` or ``USPMessage`` could not be serialized: it lacks a field TR-369 requires
/// the sender to fill (R-MTP.4b), or it exceeds protobuf's 2 GiB limit.
public struct USPEncodingError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
