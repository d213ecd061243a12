import CLibXML2
import CWMP
import Foundation

extension BenchRun {
    /// `cwmp-decode`: the Inform of `cwmp-sessions` decoded over and over on one core, by the
    /// streaming reader and by the tree reader. The floor is libxml2 tokenising the same bytes with
    /// no callbacks at all (nothing built): the least any libxml2-based decoder can do. Rounds of the
    /// three alternate so that a slow spell of the machine hits all of them; the medians are reported.
    func cwmpDecode() async throws -> [Measurement] {
        let name = "cwmp-decode"
        let bytes = Array(InformTemplate.xml(serial: "BENCH00000001", events: ["2 PERIODIC"], uptime: 42).utf8)
        let streaming = CWMPDecoder()
        let tree = CWMPDecoder(configuration: .init(streamsInform: false))
        // Both readers must agree, and the streaming one must take this message, or the figures
        // compare nothing.
        let viaTree = try tree.decode(bytes, from: .cpe)
        guard let viaStream = bytes.withUnsafeBytes({ streaming.streamedInform($0) }), viaStream == viaTree,
            viaStream.inform?.parameters.count == 20
        else { throw BenchError("\(name): the streaming reader does not give the tree's envelope for the benchmark Inform") }

        let rounds = quick ? 5 : 15
        let roundTime: Duration = quick ? .milliseconds(200) : .milliseconds(500)
        var floorRates = Samples()
        var streamRates = Samples()
        var treeRates = Samples()
        for _ in 0..<rounds {
            floorRates.add(try Self.rate(for: roundTime) { try Self.tokenise(bytes) })
            streamRates.add(try Self.rate(for: roundTime) { try streaming.decode(bytes, from: .cpe).inform?.parameters.count ?? 0 })
            treeRates.add(try Self.rate(for: roundTime) { try tree.decode(bytes, from: .cpe).inform?.parameters.count ?? 0 })
        }
        progress("\(name): \(rounds) rounds of \(roundTime) each, \(bytes.count) bytes per Inform")
        let floor = floorRates.percentile(50)
        return [
            Measurement(name, "Informs/s, streaming (1 core)", streamRates.percentile(50), "1/s", floor: floor),
            Measurement(name, "Informs/s, tree (1 core)", treeRates.percentile(50), "1/s", floor: floor),
            Measurement(name, "Inform size", Double(bytes.count), "bytes"),
        ]
    }

    /// Calls `body` back to back for `duration`; calls per second. The sum of what it returns is
    /// kept so that the work cannot be optimised away.
    private static func rate(for duration: Duration, _ body: () throws -> Int) throws -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        var calls = 0
        var sum = 0
        repeat {
            for _ in 0..<64 { sum &+= try body() }
            calls += 64
        } while clock.now - start < duration
        let elapsed = (clock.now - start).seconds
        if sum == Int.min { print(sum) }
        return Double(calls) / elapsed
    }

    /// libxml2 parses `bytes` with the decoder's options and a SAX handler that does nothing.
    private static func tokenise(_ bytes: [UInt8]) throws -> Int {
        guard let context = xmlNewParserCtxt() else { throw BenchError("libxml2 could not allocate a parser context") }
        defer { xmlFreeParserCtxt(context) }
        var handler = xmlSAXHandler()
        handler.initialized = XML_SAX2_MAGIC
        handler.serror = { _, _ in }
        context.pointee.sax.pointee = handler
        let options = Int32(bitPattern: XML_PARSE_NONET.rawValue | XML_PARSE_NOCDATA.rawValue | XML_PARSE_COMPACT.rawValue)
        let document = bytes.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                xmlCtxtReadMemory(context, $0, Int32(buffer.count), nil, nil, options)
            }
        }
        if let document { xmlFreeDoc(document) }
        guard context.pointee.wellFormed != 0 else { throw BenchError("the benchmark Inform is not well-formed") }
        return bytes.count
    }
}
