/// One STOMP 1.2 frame: a command, headers and a body of raw bytes.
///
/// The body is bytes, never text: USP Records are binary protobuf and may contain NUL octets, so a
/// frame that carries one must have a `content-length` header (STOMP 1.2 "Header content-length";
/// R-STOMP.19). `serialized()` writes exactly the headers given; it adds none.
public struct STOMPFrame: Hashable, Sendable, CustomStringConvertible {
    public var command: STOMPCommand
    public var headers: STOMPHeaders
    public var body: [UInt8]

    public init(_ command: STOMPCommand, headers: STOMPHeaders = [:], body: [UInt8] = []) {
        self.command = command
        self.headers = headers
        self.body = body
    }

    /// The frame on the wire: command EOL, `name:value` EOL per header (escaped unless CONNECT or
    /// CONNECTED), EOL, body, NUL. Lines end in LF, which every STOMP 1.2 peer accepts.
    public func serialized() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(command.rawValue.utf8.count + 64 * headers.count + body.count + 2)
        bytes.append(contentsOf: command.rawValue.utf8)
        bytes.append(ASCII.lf)
        let escape = command.escapesHeaders
        for entry in headers {
            Self.appendHeaderText(entry.name, escape: escape, to: &bytes)
            bytes.append(ASCII.colon)
            Self.appendHeaderText(entry.value, escape: escape, to: &bytes)
            bytes.append(ASCII.lf)
        }
        bytes.append(ASCII.lf)
        bytes.append(contentsOf: body)
        bytes.append(ASCII.nul)
        return bytes
    }

    /// STOMP 1.2 "Value Encoding": `\r`, `\n`, `:` and `\` become `\r`, `\n`, `\c` and `\\`.
    private static func appendHeaderText(_ text: String, escape: Bool, to bytes: inout [UInt8]) {
        guard escape else {
            bytes.append(contentsOf: text.utf8)
            return
        }
        for byte in text.utf8 {
            switch byte {
            case ASCII.cr: bytes.append(contentsOf: [ASCII.backslash, UInt8(ascii: "r")])
            case ASCII.lf: bytes.append(contentsOf: [ASCII.backslash, UInt8(ascii: "n")])
            case ASCII.colon: bytes.append(contentsOf: [ASCII.backslash, UInt8(ascii: "c")])
            case ASCII.backslash: bytes.append(contentsOf: [ASCII.backslash, ASCII.backslash])
            default: bytes.append(byte)
            }
        }
    }

    public var description: String {
        let names = headers.map(\.name).joined(separator: ",")
        return "\(command.rawValue) [\(names)] \(body.count) bytes"
    }
}

/// What travels on a STOMP connection: a frame, or a heart-beat (a lone EOL between frames,
/// STOMP 1.2 "Heart-beating").
public enum STOMPPacket: Hashable, Sendable {
    case frame(STOMPFrame)
    case heartBeat

    /// The bytes on the wire; a heart-beat is one LF.
    public func serialized() -> [UInt8] {
        switch self {
        case .frame(let frame): frame.serialized()
        case .heartBeat: [ASCII.lf]
        }
    }
}

/// The octets the STOMP grammar names.
enum ASCII {
    static let nul: UInt8 = 0
    static let lf: UInt8 = 0x0A
    static let cr: UInt8 = 0x0D
    static let colon: UInt8 = UInt8(ascii: ":")
    static let backslash: UInt8 = UInt8(ascii: "\\")
}
