import TandemCore

/// An `xsd:dateTime` field of an RPC (Inform CurrentTime, TransferComplete StartTime, ...), kept
/// with the text as received.
///
/// CPEs send zone-less times, times with odd fractions and outright garbage here; none of that may
/// fail the message (an Inform must never be refused for its clock). `text` is always what was on
/// the wire and `value` is its parse, nil when it does not parse.
public struct CWMPTime: Hashable, Sendable, CustomStringConvertible {
    /// The lexical form, exactly as received (trimmed of surrounding whitespace) or as constructed.
    public let text: String
    /// The parsed value; nil when `text` is not a valid dateTime.
    public let value: DateTimeValue?

    /// Wraps a received text; never fails.
    public init(text: String) {
        self.text = text
        self.value = try? DateTimeValue(parsing: text)
    }

    public init(_ value: DateTimeValue) {
        self.text = value.lexical
        self.value = value
    }

    /// `0001-01-01T00:00:00Z`, the TR-106 Unknown Time (TR-106 3.2.1; TR-069 A.3.2.8 StartTime and
    /// CompleteTime when a transfer has not completed).
    public static let unknown = CWMPTime(.unknown)

    /// True when the text parsed and carries no zone designator (local or relative time).
    public var isZoneless: Bool { value?.zone == DateTimeValue.Zone.none }

    public var description: String { text }
}
