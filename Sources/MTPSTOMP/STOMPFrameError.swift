/// A STOMP frame that cannot be decoded. The connection it came on is unusable afterwards: STOMP has
/// no way to resynchronise, so the reader closes it (and the transport reconnects).
public struct STOMPFrameError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of violation; `detail` says where.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The command line is not one of the STOMP 1.2 commands.
        public static let unknownCommand = Code("unknown command")
        /// A header line has no colon, or an empty name, or a CR not followed by LF.
        public static let malformedHeader = Code("malformed header")
        /// A backslash escape other than `\r \n \c \\` (a fatal error per STOMP 1.2 "Value Encoding").
        public static let invalidEscape = Code("invalid escape")
        /// A command, header name or value that is not UTF-8.
        public static let invalidUTF8 = Code("invalid UTF-8")
        /// `content-length` is not a decimal number of octets.
        public static let invalidContentLength = Code("invalid content-length")
        /// The octet after a `content-length` body is not the NUL terminator.
        public static let missingNUL = Code("missing NUL terminator")
        /// The frame is larger than `STOMPFrameLimits.maxFrameSize`.
        public static let frameTooLarge = Code("frame too large")
        /// More header lines than `STOMPFrameLimits.maxHeaderCount`.
        public static let tooManyHeaders = Code("too many headers")
        /// A command or header line longer than `STOMPFrameLimits.maxHeaderLineLength`.
        public static let headerLineTooLong = Code("header line too long")

        public var description: String { name }
    }

    public let code: Code
    /// A human-readable account of the violation, for logs.
    public let detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "STOMP frame error (\(code)): \(detail)" }
}
