/// Size limits for received frames. A peer that exceeds one gets its connection closed, never a crash
/// or unbounded buffering.
public struct STOMPFrameLimits: Hashable, Sendable {
    /// The largest frame, header section and body together, in octets.
    public var maxFrameSize: Int
    /// The most header entries in one frame.
    public var maxHeaderCount: Int
    /// The longest command or header line, in octets (escapes counted as sent).
    public var maxHeaderLineLength: Int

    /// 4 MiB frames (a USP Record with a large Get response fits comfortably; a broker's own limit is
    /// usually 10 MiB or more), 128 headers, 8 KiB header lines.
    public init(maxFrameSize: Int = 4 << 20, maxHeaderCount: Int = 128, maxHeaderLineLength: Int = 8 << 10) {
        self.maxFrameSize = maxFrameSize
        self.maxHeaderCount = maxHeaderCount
        self.maxHeaderLineLength = maxHeaderLineLength
    }
}

/// An incremental STOMP 1.2 frame parser: a value with no I/O. Feed it bytes with `append(contentsOf:)`
/// as they arrive, in any split, and take packets with `next()` until it returns nil.
///
/// It follows the STOMP 1.2 grammar: EOL is LF or CR LF; EOLs between frames are heart-beats; a frame
/// with `content-length` has exactly that many body octets (NULs included) followed by NUL, a frame
/// without one ends at the first NUL. After it throws, the stream cannot be resynchronised and the
/// parser keeps throwing the same error.
public struct STOMPFrameParser: Sendable {
    public let limits: STOMPFrameLimits

    /// Received bytes; `start` is the first one not yet consumed.
    private var buffer: [UInt8] = []
    private var start = 0
    /// Progress through the header section of the frame at `start`.
    private var scanIndex = 0
    private var lineStart = 0
    private var lineCount = 0
    /// The frame whose header section is parsed and whose body is awaited.
    private var pending: PendingFrame?
    private var failure: STOMPFrameError?

    private struct PendingFrame: Sendable {
        var command: STOMPCommand
        var headers: STOMPHeaders
        var bodyStart: Int
        var contentLength: Int?
        /// Without content-length: how far the search for the NUL got.
        var nulSearchIndex: Int
        var headerSectionSize: Int
    }

    public init(limits: STOMPFrameLimits = STOMPFrameLimits()) {
        self.limits = limits
    }

    /// Octets received and not yet returned as packets.
    public var bufferedByteCount: Int { buffer.count - start }

    public mutating func append(contentsOf bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// The next complete packet, or nil when more bytes are needed.
    public mutating func next() throws(STOMPFrameError) -> STOMPPacket? {
        if let failure { throw failure }
        do {
            return try parseNext()
        } catch {
            failure = error
            throw error
        }
    }

    private mutating func parseNext() throws(STOMPFrameError) -> STOMPPacket? {
        if pending == nil {
            guard start < buffer.count else {
                compact()
                return nil
            }
            // EOLs before a frame are heart-beats (and the optional EOLs after a frame's NUL).
            switch buffer[start] {
            case ASCII.lf:
                start += 1
                return .heartBeat
            case ASCII.cr:
                guard start + 1 < buffer.count else { return nil }
                guard buffer[start + 1] == ASCII.lf else {
                    throw STOMPFrameError(.malformedHeader, "CR not followed by LF before a frame")
                }
                start += 2
                return .heartBeat
            default:
                break
            }
            guard let headerEnd = try scanHeaderSection() else { return nil }
            pending = try parseHeaderSection(upTo: headerEnd.lineStart, bodyStart: headerEnd.bodyStart)
        }
        return try takeBody()
    }

    /// Scans for the empty line that ends the header section, enforcing the line limits as it goes.
    /// Returns where that empty line starts and where the body starts, or nil when not yet received.
    private mutating func scanHeaderSection() throws(STOMPFrameError) -> (lineStart: Int, bodyStart: Int)? {
        if scanIndex < start {
            scanIndex = start
            lineStart = start
            lineCount = 0
        }
        while scanIndex < buffer.count {
            let byte = buffer[scanIndex]
            if byte == ASCII.lf {
                var contentEnd = scanIndex
                if contentEnd > lineStart, buffer[contentEnd - 1] == ASCII.cr { contentEnd -= 1 }
                if contentEnd == lineStart {
                    let end = (lineStart, scanIndex + 1)
                    scanIndex = scanIndex + 1
                    return end
                }
                lineCount += 1
                // The first line is the command; the rest are headers.
                if lineCount - 1 > limits.maxHeaderCount {
                    throw STOMPFrameError(.tooManyHeaders, "more than \(limits.maxHeaderCount) headers")
                }
                lineStart = scanIndex + 1
            } else if byte == ASCII.nul {
                throw STOMPFrameError(.malformedHeader, "NUL octet before the end of the header section")
            } else if scanIndex - lineStart >= limits.maxHeaderLineLength {
                throw STOMPFrameError(.headerLineTooLong, "a line longer than \(limits.maxHeaderLineLength) octets")
            }
            scanIndex += 1
            if scanIndex - start > limits.maxFrameSize {
                throw STOMPFrameError(.frameTooLarge, "header section longer than \(limits.maxFrameSize) octets")
            }
        }
        return nil
    }

    private func parseHeaderSection(upTo end: Int, bodyStart: Int) throws(STOMPFrameError) -> PendingFrame {
        var lines: [ArraySlice<UInt8>] = []
        var lineBegin = start
        var index = start
        while index < end {
            if buffer[index] == ASCII.lf {
                var lineEnd = index
                if lineEnd > lineBegin, buffer[lineEnd - 1] == ASCII.cr { lineEnd -= 1 }
                lines.append(buffer[lineBegin..<lineEnd])
                lineBegin = index + 1
            }
            index += 1
        }
        guard let commandLine = lines.first else {
            throw STOMPFrameError(.unknownCommand, "empty command line")
        }
        guard let commandText = Self.validUTF8(commandLine) else {
            throw STOMPFrameError(.invalidUTF8, "command line")
        }
        guard let command = STOMPCommand(rawValue: commandText) else {
            throw STOMPFrameError(.unknownCommand, "\(String(commandText.prefix(40)).debugDescription)")
        }
        var headers = STOMPHeaders()
        for line in lines.dropFirst() {
            guard !line.contains(ASCII.cr) else {
                throw STOMPFrameError(.malformedHeader, "CR inside a header line")
            }
            guard let colon = line.firstIndex(of: ASCII.colon) else {
                throw STOMPFrameError(.malformedHeader, "header line without a colon")
            }
            let name = try Self.decodeHeaderText(line[line.startIndex..<colon], unescape: command.escapesHeaders)
            // Values should not contain a raw colon, but lenient peers send them: everything after
            // the first colon is the value.
            let value = try Self.decodeHeaderText(line[(colon + 1)...], unescape: command.escapesHeaders)
            guard !name.isEmpty else {
                throw STOMPFrameError(.malformedHeader, "header with an empty name")
            }
            headers.append(name, value)
        }
        let headerSectionSize = bodyStart - start
        var contentLength: Int?
        if let text = headers["content-length"] {
            guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let length = Int(text) else {
                throw STOMPFrameError(.invalidContentLength, "content-length \(String(text.prefix(40)).debugDescription)")
            }
            guard length <= limits.maxFrameSize - headerSectionSize else {
                throw STOMPFrameError(.frameTooLarge, "content-length \(length) exceeds the \(limits.maxFrameSize)-octet frame limit")
            }
            contentLength = length
        }
        return PendingFrame(
            command: command, headers: headers, bodyStart: bodyStart, contentLength: contentLength,
            nulSearchIndex: bodyStart, headerSectionSize: headerSectionSize)
    }

    private mutating func takeBody() throws(STOMPFrameError) -> STOMPPacket? {
        guard var frame = pending else { return nil }
        let bodyEnd: Int
        if let length = frame.contentLength {
            guard buffer.count > frame.bodyStart + length else { return nil }
            bodyEnd = frame.bodyStart + length
            guard buffer[bodyEnd] == ASCII.nul else {
                throw STOMPFrameError(.missingNUL, "octet \(buffer[bodyEnd]) after a \(length)-octet body")
            }
        } else {
            guard let nul = buffer[frame.nulSearchIndex...].firstIndex(of: ASCII.nul) else {
                frame.nulSearchIndex = buffer.count
                pending = frame
                if buffer.count - start > limits.maxFrameSize {
                    throw STOMPFrameError(.frameTooLarge, "no NUL within \(limits.maxFrameSize) octets")
                }
                return nil
            }
            guard nul - start <= limits.maxFrameSize else {
                throw STOMPFrameError(.frameTooLarge, "frame longer than \(limits.maxFrameSize) octets")
            }
            bodyEnd = nul
        }
        let result = STOMPFrame(frame.command, headers: frame.headers, body: Array(buffer[frame.bodyStart..<bodyEnd]))
        start = bodyEnd + 1
        pending = nil
        scanIndex = start
        lineStart = start
        lineCount = 0
        compact()
        return .frame(result)
    }

    /// Drops consumed bytes once they dominate the buffer, so memory stays bounded by the limits.
    private mutating func compact() {
        guard pending == nil, start > 0 else { return }
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 16)
            start = 0
            scanIndex = 0
            lineStart = 0
        } else if start >= 4096, start * 2 >= buffer.count {
            let offset = start
            buffer.removeFirst(offset)
            start = 0
            scanIndex -= offset
            lineStart -= offset
        }
    }

    /// Undoes the STOMP 1.2 escapes and checks UTF-8.
    private static func decodeHeaderText(_ bytes: ArraySlice<UInt8>, unescape: Bool) throws(STOMPFrameError) -> String {
        guard unescape, bytes.contains(ASCII.backslash) else {
            guard let text = Self.validUTF8(bytes) else {
                throw STOMPFrameError(.invalidUTF8, "header text")
            }
            return text
        }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            guard byte == ASCII.backslash else {
                decoded.append(byte)
                index += 1
                continue
            }
            let next = index + 1
            guard next < bytes.endIndex else {
                throw STOMPFrameError(.invalidEscape, "a header ends with a lone backslash")
            }
            switch bytes[next] {
            case UInt8(ascii: "r"): decoded.append(ASCII.cr)
            case UInt8(ascii: "n"): decoded.append(ASCII.lf)
            case UInt8(ascii: "c"): decoded.append(ASCII.colon)
            case ASCII.backslash: decoded.append(ASCII.backslash)
            default:
                throw STOMPFrameError(.invalidEscape, "\\\(Character(Unicode.Scalar(bytes[next]))) in a header")
            }
            index += 2
        }
        guard let text = Self.validUTF8(decoded[...]) else {
            throw STOMPFrameError(.invalidUTF8, "header text")
        }
        return text
    }

    /// The text of `bytes` if they are well-formed UTF-8 (no repair: a bad header is an error).
    private static func validUTF8(_ bytes: ArraySlice<UInt8>) -> String? {
        var iterator = bytes.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid: continue
            case .emptyInput: return String(decoding: bytes, as: UTF8.self)
            case .error: return nil
            }
        }
    }
}
