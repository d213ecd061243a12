import MTPSTOMP
import NIOCore
import NIOPosix
import Testing

/// `STOMPFrameDecoder` and `STOMPFrameEncoder` in a real NIO pipeline over loopback.
@Suite(.timeLimit(.minutes(1)))
struct STOMPFrameDecoderTests {
    /// Everything in one read comes up at once: ByteToMessageHandler calls the decoder again only when
    /// new bytes arrive, so a decoder that returned one packet per call would sit on the rest.
    @Test func deliversEveryPacketOfOneReadWithoutWaitingForMore() async throws {
        let reply = Array("RECEIPT\nreceipt-id:1\n\n\0\nRECEIPT\r\nreceipt-id:2\r\n\r\n\0".utf8)
        let server = try await CannedReplyServer(reply: reply)
        let packets = try await exchange(port: server.port, send: [.frame(STOMPFrame(.disconnect)), .heartBeat], expecting: 3)
        #expect(packets == [
            .frame(STOMPFrame(.receipt, headers: ["receipt-id": "1"])),
            .heartBeat,
            .frame(STOMPFrame(.receipt, headers: ["receipt-id": "2"])),
        ])
        await server.close()
    }

    @Test func aDecodingErrorEndsTheInboundStreamWithTheError() async throws {
        let server = try await CannedReplyServer(reply: Array("RECEIPT\nreceipt-id:1\n\n\0NOT-A-COMMAND\n\n\0".utf8))
        await #expect {
            _ = try await exchange(port: server.port, send: [.heartBeat], expecting: 3)
        } throws: { error in
            (error as? STOMPFrameError)?.code == .unknownCommand
        }
        await server.close()
    }

    /// Writes `send`, then reads until `count` packets arrived (or two seconds passed).
    private func exchange(port: Int, send: [STOMPPacket], expecting count: Int) async throws -> [STOMPPacket] {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(STOMPFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(STOMPFrameEncoder()))
                    return try NIOAsyncChannel<STOMPPacket, STOMPPacket>(wrappingChannelSynchronously: channel)
                }
            }
        let timeout = channel.channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.channel.close(promise: nil) }
        defer { timeout.cancel() }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(contentsOf: send)
            var packets: [STOMPPacket] = []
            for try await packet in inbound {
                packets.append(packet)
                if packets.count == count { break }
            }
            return packets
        }
    }
}
