/// Bounds applied while decoding bytes received from an MTP, before any allocation that depends on
/// what the peer claims.
///
/// TR-369 lets each side advertise `Device.LocalAgent.Controller.{i}.E2ESession.MaxUSPRecordSize`,
/// and MTP brokers impose their own frame limits; a controller still has to refuse oversized input
/// on its own so that one misbehaving agent cannot exhaust memory.
public struct USPDecodingLimits: Hashable, Sendable {
    /// Largest serialized USP Record accepted, in bytes. Larger input is refused with
    /// ``USPDecodingError/Reason/tooLarge(size:limit:)`` and code 7100 before it is parsed.
    public var maxRecordBytes: Int
    /// Largest serialized USP Message accepted, in bytes: the payload of a
    /// `NoSessionContextRecord`, or the reassembled payload of segmented `SessionContextRecord`s.
    /// Larger input is refused with code 7005.
    public var maxMessageBytes: Int
    /// Deepest nesting of protobuf messages accepted. The USP schemas nest at most six levels
    /// (`Record`/`Msg` → … → `OperationStatus.OperationFailure`), so anything deeper is hostile.
    public var maxNestingDepth: Int

    /// 1 MiB records and messages, nesting depth 32.
    public static let `default` = USPDecodingLimits()

    public init(maxRecordBytes: Int = 1 << 20, maxMessageBytes: Int = 1 << 20, maxNestingDepth: Int = 32) {
        self.maxRecordBytes = maxRecordBytes
        self.maxMessageBytes = maxMessageBytes
        self.maxNestingDepth = maxNestingDepth
    }
}
