/// Why a STOMP transport operation failed.
public struct STOMPError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure; `message` has the particulars.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The link to the broker is not up (connecting, reconnecting, or shutting down).
        public static let linkDown = Code("link down")
        /// The transport is not running (`run()` has not started or has returned).
        public static let notRunning = Code("not running")
        /// The broker did not acknowledge a frame with a RECEIPT in time.
        public static let receiptTimeout = Code("receipt timeout")
        /// The address is not a STOMP destination (wrong transport, empty destination).
        public static let invalidDestination = Code("invalid destination")
        /// The configuration cannot work (empty endpoint ID or destination, unreadable TLS files).
        public static let invalidConfiguration = Code("invalid configuration")

        public var description: String { name }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "STOMP \(code): \(message)" }
}
