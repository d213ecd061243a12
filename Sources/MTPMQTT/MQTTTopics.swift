/// The USP MQTT binding's topic rules: the MQTT 3.1.1 "reply to" carried in the topic name
/// (R-MQTT.24/25) and the checks a topic from the network must pass before anything is published to it.
public enum MQTTTopics {
    /// What separates a PUBLISH topic name from the sender's encoded "reply to" topic under MQTT 3.1.1.
    public static let replyToMarker = "/reply-to="

    /// R-MQTT.24: the "reply to" topic with every `/` written `%2F`.
    public static func encodeReplyTo(_ topic: String) -> String {
        topic.replacing("/", with: "%2F")
    }

    /// R-MQTT.25: `%2F` back to `/` (`%2f` too; nothing else is unescaped).
    public static func decodeReplyTo(_ encoded: String) -> String {
        encoded.replacing("%2F", with: "/").replacing("%2f", with: "/")
    }

    /// R-MQTT.24: the topic name an MQTT 3.1.1 endpoint publishes to, `destination` with the
    /// sender's own "reply to" topic appended: `usp/agents/a/reply-to=usp%2Fcontrollers%2Fc`.
    public static func topic(_ destination: String, withReplyTo replyTo: String) -> String {
        destination + replyToMarker + encodeReplyTo(replyTo)
    }

    /// R-MQTT.25: the decoded "reply to" topic after the last `/reply-to=` of a received topic name,
    /// or nil when there is none (or it is empty).
    public static func replyTo(inTopic topic: String) -> String? {
        guard let range = topic.ranges(of: replyToMarker).last else { return nil }
        let encoded = topic[range.upperBound...]
        guard !encoded.isEmpty else { return nil }
        return decodeReplyTo(String(encoded))
    }

    /// Why a topic from the network is refused as a destination, or nil when it is acceptable: a
    /// concrete topic name (no `+` or `#` wildcards), no NUL or control characters, no empty levels
    /// (leading, trailing or doubled `/`), not a broker-reserved `$` topic, at most `maximumBytes`
    /// bytes of UTF-8, and not one of `ownTopics` or below them (that would loop back to the sender).
    public static func problem(withDestination topic: String, maximumBytes: Int = 1024, ownTopics: [String] = []) -> MQTTTopicProblem? {
        let bytes = topic.utf8
        if bytes.isEmpty { return .empty }
        if bytes.count > maximumBytes { return .tooLong(bytes: bytes.count, limit: maximumBytes) }
        for scalar in topic.unicodeScalars {
            switch scalar.value {
            case 0: return .nul
            case 0x2B, 0x23: return .wildcard  // + #
            case 0x01...0x1F, 0x7F...0x9F: return .controlCharacter
            default: continue
            }
        }
        if bytes.first == UInt8(ascii: "$") { return .reserved }
        if bytes.first == UInt8(ascii: "/") || bytes.last == UInt8(ascii: "/") || topic.contains("//") { return .emptyLevel }
        for own in ownTopics where topic == own || topic.hasPrefix(own + "/") {
            return .ownTopic
        }
        return nil
    }
}

/// Why a topic is refused (`MQTTTopics.problem(withDestination:maximumBytes:ownTopics:)`).
public enum MQTTTopicProblem: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case tooLong(bytes: Int, limit: Int)
    case nul
    case wildcard
    case controlCharacter
    case emptyLevel
    case reserved
    case ownTopic

    public var description: String {
        switch self {
        case .empty: "the topic is empty"
        case .tooLong(let bytes, let limit): "the topic is \(bytes) bytes long (limit \(limit))"
        case .nul: "the topic contains NUL"
        case .wildcard: "the topic contains a wildcard (+ or #)"
        case .controlCharacter: "the topic contains a control character"
        case .emptyLevel: "the topic has an empty level (leading, trailing or doubled /)"
        case .reserved: "the topic is a broker-reserved $ topic"
        case .ownTopic: "the topic is the controller's own topic (it would loop back)"
        }
    }
}
