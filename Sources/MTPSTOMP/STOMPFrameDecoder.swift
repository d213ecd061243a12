import NIOCore

/// Decodes STOMP packets (frames and heart-beats) from bytes, for `ByteToMessageHandler`.
///
/// The parsing is `STOMPFrameParser`'s; this only moves bytes from NIO's buffer into it. A decoding
/// error reaches the pipeline as an error, and the channel must be closed.
public struct STOMPFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = STOMPPacket

    private var parser: STOMPFrameParser

    public init(limits: STOMPFrameLimits = STOMPFrameLimits()) {
        parser = STOMPFrameParser(limits: limits)
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if buffer.readableBytes > 0 {
            parser.append(contentsOf: buffer.readableBytesView)
            buffer.moveReaderIndex(to: buffer.writerIndex)
        }
        // Everything complete goes up now: ByteToMessageHandler calls again only when new bytes
        // arrive, and the parser holds the rest of what it was given.
        while let packet = try parser.next() {
            context.fireChannelRead(Self.wrapInboundOut(packet))
        }
        return .needMoreData
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // Complete packets still go up; a partial frame at EOF dies with the connection.
        try decode(context: context, buffer: &buffer)
    }
}

/// Encodes STOMP packets to bytes, for `MessageToByteHandler`.
public struct STOMPFrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = STOMPPacket

    public init() {}

    public func encode(data: STOMPPacket, out: inout ByteBuffer) throws {
        out.writeBytes(data.serialized())
    }
}
