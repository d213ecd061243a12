/// A STOMP 1.2 frame command (STOMP 1.2 "Augmented BNF": `client-command` and `server-command`).
///
/// The set is closed by the specification, so an unknown command on the wire is a protocol error
/// (`STOMPFrameError.Code.unknownCommand`), not a new case.
public enum STOMPCommand: String, Hashable, Sendable, CaseIterable {
    // Client frames.
    case connect = "CONNECT"
    case stomp = "STOMP"
    case send = "SEND"
    case subscribe = "SUBSCRIBE"
    case unsubscribe = "UNSUBSCRIBE"
    case ack = "ACK"
    case nack = "NACK"
    case begin = "BEGIN"
    case commit = "COMMIT"
    case abort = "ABORT"
    case disconnect = "DISCONNECT"
    // Server frames.
    case connected = "CONNECTED"
    case message = "MESSAGE"
    case receipt = "RECEIPT"
    case error = "ERROR"

    /// Whether header names and values of this frame use the STOMP 1.2 escapes (`\r \n \c \\`).
    /// CONNECT and CONNECTED do not, for backward compatibility with STOMP 1.0 ("Value Encoding");
    /// the `STOMP` frame does, which is why TR-369 escapes the colons of the endpoint ID (R-STOMP.4).
    public var escapesHeaders: Bool {
        self != .connect && self != .connected
    }
}
