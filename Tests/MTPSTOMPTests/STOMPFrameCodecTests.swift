import MTPSTOMP
import Testing

/// The STOMP 1.2 codec on exact bytes: serialization, parsing, escapes, binary bodies, EOL variants,
/// heart-beats, limits, truncation and garbage.
@Suite struct STOMPFrameCodecTests {
    // MARK: Serialization

    @Test func serializesAStompFrameWithEscapedEndpointID() {
        let frame = STOMPFrame(
            .stomp,
            headers: ["accept-version": "1.2", "host": "broker", "heart-beat": "0,0", "endpoint-id": "oui:00256D:my-id"])
        // R-STOMP.4: the colons of the endpoint ID travel as \c.
        #expect(bytes(frame.serialized()) == "STOMP\naccept-version:1.2\nhost:broker\nheart-beat:0,0\nendpoint-id:oui\\c00256D\\cmy-id\n\n\0")
    }

    @Test func serializationEscapesAllFourCharactersInNamesAndValues() {
        let frame = STOMPFrame(.send, headers: ["a:b": "line1\nline2\r\\end:"])
        #expect(bytes(frame.serialized()) == "SEND\na\\cb:line1\\nline2\\r\\\\end\\c\n\n\0")
    }

    @Test func connectAndConnectedFramesAreNotEscaped() {
        // STOMP 1.2 "Value Encoding": CONNECT and CONNECTED keep raw colons for STOMP 1.0 peers.
        let frame = STOMPFrame(.connect, headers: ["login": "a:b"])
        #expect(bytes(frame.serialized()) == "CONNECT\nlogin:a:b\n\n\0")
    }

    @Test func serializesBinaryBodiesVerbatim() {
        let body: [UInt8] = [0x00, 0x0A, 0x0D, 0xFF, 0x00]
        let frame = STOMPFrame(.send, headers: ["destination": "/queue/a", "content-length": "5"], body: body)
        #expect(frame.serialized() == Array("SEND\ndestination:/queue/a\ncontent-length:5\n\n".utf8) + body + [0])
    }

    @Test func heartBeatIsOneLineFeed() {
        #expect(STOMPPacket.heartBeat.serialized() == [0x0A])
    }

    // MARK: Parsing

    @Test func parsesAMessageFromActiveMQ() throws {
        // Captured from ActiveMQ 5.17.2 (the message-id's colons escaped, a trailing EOL after NUL).
        let headers = [
            "MESSAGE", "content-length:8", "expires:0", "destination:/queue/ctrl", "subscription:0", "priority:4",
            "message-id:ID\\cvm-1\\c3\\c-1\\c1\\c1", "content-type:application/vnd.bbf.usp.msg",
            "reply-to-dest:/queue/agent\\cx", "timestamp:1795597274707",
        ]
        let wire = Array((headers.joined(separator: "\n") + "\n\n").utf8) + [0x00, 0x01, 0x02, 0x0A, 0x61, 0x62, 0x63, 0x00, 0x00, 0x0A]
        let packets = try parseAll(wire)
        #expect(packets.count == 2)
        let frame = try #require(packets.first?.frame)
        #expect(frame.command == .message)
        #expect(frame.headers["message-id"] == "ID:vm-1:3:-1:1:1")
        #expect(frame.headers["reply-to-dest"] == "/queue/agent:x")
        #expect(frame.headers["content-type"] == "application/vnd.bbf.usp.msg")
        #expect(frame.body == [0x00, 0x01, 0x02, 0x0A, 0x61, 0x62, 0x63, 0x00])
        #expect(packets[1] == .heartBeat)
    }

    @Test func unescapesEveryDefinedEscape() throws {
        let packets = try parseAll(Array("MESSAGE\nk\\c\\\\:v\\r\\n\\c\\\\\n\n\0".utf8))
        let frame = try #require(packets.first?.frame)
        #expect(frame.headers["k:\\"] == "v\r\n:\\")
    }

    @Test func connectedFrameIsNotUnescaped() throws {
        let packets = try parseAll(Array("CONNECTED\nversion:1.2\nsession:a\\cb\n\n\0".utf8))
        #expect(packets.first?.frame?.headers["session"] == "a\\cb")
    }

    @Test func acceptsCRLFLineEndings() throws {
        let wire = Array("RECEIPT\r\nreceipt-id:77\r\n\r\n\0\r\n".utf8)
        let packets = try parseAll(wire)
        #expect(packets == [.frame(STOMPFrame(.receipt, headers: ["receipt-id": "77"])), .heartBeat])
    }

    @Test func heartBeatsBetweenFramesAreReported() throws {
        let wire = Array("\n\r\n\nRECEIPT\nreceipt-id:1\n\n\0\n\nERROR\nmessage:x\n\nbody\0".utf8)
        let packets = try parseAll(wire)
        #expect(packets.count == 7)
        #expect(packets.prefix(3).allSatisfy { $0 == .heartBeat })
        #expect(packets[3].frame?.command == .receipt)
        #expect(packets[4] == .heartBeat && packets[5] == .heartBeat)
        #expect(packets[6].frame == STOMPFrame(.error, headers: ["message": "x"], body: Array("body".utf8)))
    }

    @Test func bodyWithoutContentLengthEndsAtTheFirstNUL() throws {
        let packets = try parseAll(Array("MESSAGE\ndestination:/q\n\nhello\0world".utf8))
        #expect(packets.count == 1)
        #expect(packets[0].frame?.body == Array("hello".utf8))
    }

    @Test func contentLengthBodyMayContainNULs() throws {
        let body: [UInt8] = [0, 0, 0, 10, 13, 0]
        let frame = STOMPFrame(.message, headers: ["content-length": "6"], body: body)
        #expect(try parseAll(frame.serialized()) == [.frame(frame)])
    }

    @Test func repeatedHeadersKeepTheFirstValueAndAllEntries() throws {
        let packets = try parseAll(Array("MESSAGE\nfoo:World\nfoo:Hello\n\n\0".utf8))
        let frame = try #require(packets.first?.frame)
        #expect(frame.headers["foo"] == "World")
        #expect(frame.headers.count == 2)
        #expect(frame.headers[1] == STOMPHeaders.Entry(name: "foo", value: "Hello"))
    }

    @Test func valuesMayContainRawColonsAndBeEmpty() throws {
        let packets = try parseAll(Array("MESSAGE\nurl:tcp://x:1\nempty:\n\n\0".utf8))
        let frame = try #require(packets.first?.frame)
        #expect(frame.headers["url"] == "tcp://x:1")
        #expect(frame.headers["empty"] == "")
    }

    @Test func roundTripsEveryCommandWithAwkwardHeaders() throws {
        for command in STOMPCommand.allCases {
            var headers: STOMPHeaders = ["plain": "value", "content-length": "3"]
            if command.escapesHeaders { headers.append("tricky:name", "a\nb\rc:d\\e") }
            let frame = STOMPFrame(command, headers: headers, body: [0, 1, 2])
            #expect(try parseAll(frame.serialized()) == [.frame(frame)], "\(command)")
        }
    }

    @Test(arguments: [1, 2, 3, 7, 64])
    func parsesTheSameWhateverTheChunking(chunkSize: Int) throws {
        var wire: [UInt8] = []
        var expected: [STOMPPacket] = []
        for index in 0..<20 {
            let body = (0..<(index * 13)).map { UInt8(truncatingIfNeeded: $0 * 31 + index) }
            let frame = STOMPFrame(
                .message, headers: ["destination": "/queue/a:\(index)", "content-length": "\(body.count)"], body: body)
            wire += frame.serialized()
            expected.append(.frame(frame))
            if index % 3 == 0 {
                wire += [0x0D, 0x0A]
                expected.append(.heartBeat)
            }
        }
        var parser = STOMPFrameParser()
        var packets: [STOMPPacket] = []
        var offset = 0
        while offset < wire.count {
            parser.append(contentsOf: wire[offset..<min(offset + chunkSize, wire.count)])
            offset += chunkSize
            while let packet = try parser.next() { packets.append(packet) }
        }
        #expect(packets == expected)
        #expect(parser.bufferedByteCount == 0)
    }

    // MARK: Truncation

    @Test func everyTruncationWaitsForMoreBytesWithoutError() throws {
        let frame = STOMPFrame(.message, headers: ["destination": "/q", "content-length": "4"], body: [0, 1, 0, 2])
        let wire = frame.serialized()
        for length in 0..<wire.count {
            var parser = STOMPFrameParser()
            parser.append(contentsOf: wire.prefix(length))
            #expect(try parser.next() == nil, "prefix \(length)")
            parser.append(contentsOf: wire.dropFirst(length))
            #expect(try parser.next() == .frame(frame), "prefix \(length) then the rest")
        }
    }

    @Test func aLoneCRWaitsForItsLF() throws {
        var parser = STOMPFrameParser()
        parser.append(contentsOf: [0x0D])
        #expect(try parser.next() == nil)
        parser.append(contentsOf: [0x0A])
        #expect(try parser.next() == .heartBeat)
    }

    // MARK: Errors

    @Test(arguments: [
        ("HELLO\n\n\0", STOMPFrameError.Code.unknownCommand),
        ("send\n\n\0", .unknownCommand),
        ("\n\n", nil),
        ("MESSAGE\nno-colon\n\n\0", .malformedHeader),
        ("MESSAGE\n:value\n\n\0", .malformedHeader),
        ("MESSAGE\nk:v\rx\n\n\0", .malformedHeader),
        ("\rX", .malformedHeader),
        ("MESSAGE\nk:\\t\n\n\0", .invalidEscape),
        ("MESSAGE\nk:abc\\\n\n\0", .invalidEscape),
        ("MESSAGE\ncontent-length:abc\n\n\0", .invalidContentLength),
        ("MESSAGE\ncontent-length:-1\n\n\0", .invalidContentLength),
        ("MESSAGE\ncontent-length: 1\n\nx\0", .invalidContentLength),
        ("MESSAGE\ncontent-length:\n\n\0", .invalidContentLength),
        ("MESSAGE\ncontent-length:2\n\nabc\0", .missingNUL),
        ("MESSAGE\nk:v\0\n\n", .malformedHeader),
    ] as [(String, STOMPFrameError.Code?)])
    func rejectsMalformedFrames(wire: String, code: STOMPFrameError.Code?) {
        var parser = STOMPFrameParser()
        parser.append(contentsOf: Array(wire.utf8))
        do {
            while try parser.next() != nil {}
            #expect(code == nil, "accepted \(wire.debugDescription)")
        } catch {
            #expect(error.code == code, "\(wire.debugDescription): \(error)")
        }
    }

    @Test func rejectsInvalidUTF8InHeaders() {
        var parser = STOMPFrameParser()
        parser.append(contentsOf: Array("MESSAGE\nk:".utf8) + [0xC3, 0x28] + Array("\n\n\0".utf8))
        #expect(throws: STOMPFrameError.self) { try parser.next() }
    }

    @Test func keepsThrowingAfterAnError() throws {
        var parser = STOMPFrameParser()
        parser.append(contentsOf: Array("BOGUS\n\n\0".utf8))
        #expect(throws: STOMPFrameError.self) { try parser.next() }
        parser.append(contentsOf: STOMPFrame(.receipt).serialized())
        #expect(throws: STOMPFrameError.self) { try parser.next() }
    }

    @Test func rejectsAContentLengthBeyondTheFrameLimitBeforeBufferingTheBody() {
        var parser = STOMPFrameParser(limits: STOMPFrameLimits(maxFrameSize: 1000))
        parser.append(contentsOf: Array("MESSAGE\ncontent-length:5000\n\n".utf8))
        #expect { try parser.next() } throws: { ($0 as? STOMPFrameError)?.code == .frameTooLarge }
    }

    @Test func rejectsAnUnterminatedBodyBeyondTheFrameLimit() throws {
        var parser = STOMPFrameParser(limits: STOMPFrameLimits(maxFrameSize: 1000))
        parser.append(contentsOf: Array("MESSAGE\n\n".utf8))
        #expect(try parser.next() == nil)
        parser.append(contentsOf: [UInt8](repeating: 0x41, count: 1200))
        #expect { try parser.next() } throws: { ($0 as? STOMPFrameError)?.code == .frameTooLarge }
    }

    @Test func rejectsAFrameJustOverTheLimitAndAcceptsOneAtIt() throws {
        let header = Array("SEND\ncontent-length:".utf8)
        func frame(bodyLength: Int) -> [UInt8] {
            header + Array("\(bodyLength)\n\n".utf8) + [UInt8](repeating: 7, count: bodyLength) + [0]
        }
        let headerSize = header.count + 2 + 2  // "10" or "11", then two LFs
        let limits = STOMPFrameLimits(maxFrameSize: headerSize + 10)
        var accepting = STOMPFrameParser(limits: limits)
        accepting.append(contentsOf: frame(bodyLength: 10))
        #expect(try accepting.next()?.frame?.body.count == 10)
        var refusing = STOMPFrameParser(limits: limits)
        refusing.append(contentsOf: frame(bodyLength: 11))
        #expect { try refusing.next() } throws: { ($0 as? STOMPFrameError)?.code == .frameTooLarge }
    }

    @Test func rejectsTooManyHeaders() {
        var parser = STOMPFrameParser(limits: STOMPFrameLimits(maxHeaderCount: 3))
        parser.append(contentsOf: Array("MESSAGE\na:1\nb:2\nc:3\n\n\0".utf8))
        #expect(throws: Never.self) { _ = try parser.next() }
        var tooMany = STOMPFrameParser(limits: STOMPFrameLimits(maxHeaderCount: 3))
        tooMany.append(contentsOf: Array("MESSAGE\na:1\nb:2\nc:3\nd:4\n".utf8))
        #expect { try tooMany.next() } throws: { ($0 as? STOMPFrameError)?.code == .tooManyHeaders }
    }

    @Test func rejectsAnOverlongHeaderLineBeforeItEnds() {
        var parser = STOMPFrameParser(limits: STOMPFrameLimits(maxHeaderLineLength: 16))
        parser.append(contentsOf: Array("MESSAGE\nk:".utf8) + [UInt8](repeating: 0x61, count: 40))
        #expect { try parser.next() } throws: { ($0 as? STOMPFrameError)?.code == .headerLineTooLong }
    }

    @Test func rejectsAHeaderSectionThatNeverEnds() {
        var parser = STOMPFrameParser(limits: STOMPFrameLimits(maxFrameSize: 200, maxHeaderCount: 1000))
        parser.append(contentsOf: Array("MESSAGE\n".utf8) + Array(String(repeating: "k:v\n", count: 100).utf8))
        #expect { try parser.next() } throws: { ($0 as? STOMPFrameError)?.code == .frameTooLarge }
    }

    /// Random bytes, random frames with random corruption, in random chunks: the parser returns packets
    /// or throws STOMPFrameError, never traps, and never holds more than the limits allow.
    @Test func survivesGarbage() {
        var random = SplitMix64(seed: 0x5707_AB1E)
        let limits = STOMPFrameLimits(maxFrameSize: 4096, maxHeaderCount: 16, maxHeaderLineLength: 256)
        var outcomes = (packets: 0, errors: 0)
        for round in 0..<400 {
            var wire: [UInt8]
            if round % 2 == 0 {
                wire = (0..<Int.random(in: 1...3000, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            } else {
                let body = (0..<Int.random(in: 0...200, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                wire = STOMPFrame(.message, headers: ["content-length": "\(body.count)", "x": "a:b\n"], body: body).serialized()
                for _ in 0..<Int.random(in: 1...4, using: &random) {
                    wire[Int.random(in: 0..<wire.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
                }
            }
            var parser = STOMPFrameParser(limits: limits)
            var offset = 0
            do {
                while offset < wire.count {
                    let end = min(wire.count, offset + Int.random(in: 1...97, using: &random))
                    parser.append(contentsOf: wire[offset..<end])
                    offset = end
                    while try parser.next() != nil { outcomes.packets += 1 }
                    #expect(parser.bufferedByteCount <= limits.maxFrameSize + 97)
                }
            } catch {
                outcomes.errors += 1
            }
        }
        #expect(outcomes.errors > 0)
        #expect(outcomes.packets > 0)
    }

    // MARK: Helpers

    private func parseAll(_ wire: [UInt8]) throws -> [STOMPPacket] {
        var parser = STOMPFrameParser()
        parser.append(contentsOf: wire)
        var packets: [STOMPPacket] = []
        while let packet = try parser.next() { packets.append(packet) }
        return packets
    }

    private func bytes(_ wire: [UInt8]) -> String {
        String(decoding: wire, as: UTF8.self)
    }
}

extension STOMPPacket {
    var frame: STOMPFrame? {
        if case .frame(let frame) = self { frame } else { nil }
    }
}
