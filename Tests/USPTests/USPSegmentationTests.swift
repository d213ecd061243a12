import TandemCore
import Testing
import USP

@Suite("USP segmentation and reassembly")
struct USPSegmentationTests {
    let template = USPRecord(version: "1.4", toID: agentID, fromID: controllerID, kind: .webSocketConnect)

    func payload(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) } }

    @Test("segments fit the maximum Record size even with the largest counters, and the fit is tight")
    func segmentSizes() throws {
        let segmenter = try USPSegmenter(maxRecordBytes: 512, template: template)
        let data = payload(5000)
        let records = segmenter.records(for: data, sessionID: .max, firstSequenceID: .max - 40, expectedID: .max)
        #expect(records.count == (5000 + segmenter.maxSegmentBytes - 1) / segmenter.maxSegmentBytes)
        for record in records {
            let size = try record.serializedBytes().count
            #expect(size <= 512)
        }
        // One more payload byte would not fit with maximal counters.
        var bigger = template
        bigger.kind = .sessionContext(
            .init(
                sessionID: .max, sequenceID: .max, expectedID: .max, retransmitID: .max, payloadSARState: .inProcess,
                payloadrecSARState: .inProcess, payload: [payload(segmenter.maxSegmentBytes + 1)]))
        #expect(try bigger.serializedBytes().count > 512)

        let states = records.map { record -> USPRecord.SARState? in
            if case .sessionContext(let context) = record.kind { context.payloadSARState } else { nil }
        }
        #expect(states.first == .begin)
        #expect(states.last == .complete)
        #expect(states.dropFirst().dropLast().allSatisfy { $0 == .inProcess })
        let rejoined = records.flatMap { record -> [UInt8] in
            if case .sessionContext(let context) = record.kind { context.payload.flatMap { $0 } } else { [] }
        }
        #expect(rejoined == data)
    }

    @Test("a payload that fits goes in one Record with NONE (segmentation case 1)")
    func singleSegment() throws {
        let segmenter = try USPSegmenter(maxRecordBytes: 512, template: template)
        let segments = segmenter.segment(payload(100))
        #expect(segments == [USPSegmenter.Segment(payload: payload(100), payloadSARState: .none, payloadrecSARState: .none)])
    }

    @Test("a maximum size smaller than the header is refused")
    func tooSmall() {
        #expect {
            try USPSegmenter(maxRecordBytes: 40, template: template)
        } throws: { error in
            guard let failure = error as? USPSessionFailure, case .recordSizeTooSmall(40, _) = failure.reason else { return false }
            return true
        }
    }

    @Test("the segmented fixture Records reassemble into the GetResp they were cut from")
    func reassembleFixtures() throws {
        var reassembler = USPReassembler()
        var outputs: [[UInt8]?] = []
        for index in 1...3 {
            let record = try USPRecord(serializedBytes: Fixture.bytes("record-segment-\(index)"))
            guard case .sessionContext(let context) = record.kind else {
                Issue.record("record-segment-\(index) is not a session context")
                return
            }
            outputs.append(try reassembler.append(context))
        }
        #expect(outputs[0] == nil)
        #expect(outputs[1] == nil)
        let payload = try #require(outputs[2])
        #expect(payload == (try Fixture.bytes("msg-get-resp")))
        #expect(try USPMessage(serializedBytes: payload) == ExpectedMessages.getResponse)
        #expect(!reassembler.isInProgress)
    }

    @Test("SAR states out of order and oversized payloads are refused")
    func reassemblyErrors() throws {
        func context(_ sequence: UInt64, _ sar: USPRecord.SARState, _ rec: USPRecord.SARState, _ bytes: [UInt8] = [1, 2, 3])
            -> USPRecord.SessionContext
        {
            .init(sessionID: 5, sequenceID: sequence, expectedID: 1, payloadSARState: sar, payloadrecSARState: rec, payload: [bytes])
        }
        var reassembler = USPReassembler(maxPayloadBytes: 8)
        #expect(throws: USPSessionFailure.self) { try reassembler.append(context(1, .inProcess, .inProcess)) }
        #expect(throws: USPSessionFailure.self) { try reassembler.append(context(1, .complete, .complete)) }

        _ = try reassembler.append(context(1, .begin, .begin))
        #expect(throws: USPSessionFailure.self) { try reassembler.append(context(2, .begin, .begin)) }
        #expect(!reassembler.isInProgress)

        _ = try reassembler.append(context(1, .begin, .begin))
        #expect(throws: USPSessionFailure.self) { try reassembler.append(context(2, .none, .none)) }

        _ = try reassembler.append(context(1, .begin, .begin))
        #expect(throws: USPSessionFailure.self) { try reassembler.append(context(2, .complete, .inProcess)) }

        _ = try reassembler.append(context(1, .begin, .begin))
        #expect {
            try reassembler.append(context(2, .inProcess, .inProcess, [UInt8](repeating: 0, count: 6)))
        } throws: { error in
            (error as? USPSessionFailure)?.reason == .payloadTooLarge(size: 9, limit: 8)
        }

        // An empty Record (acknowledgement, retransmission request) between segments is harmless.
        _ = try reassembler.append(context(1, .begin, .begin, [1]))
        #expect(try reassembler.append(.init(sessionID: 5, sequenceID: 2, expectedID: 1, retransmitID: 3)) == nil)
        #expect(try reassembler.append(context(3, .complete, .complete, [2])) == [1, 2])
        // One TLS record per USP Record: payloadrec_sar_state stays NONE (case 6).
        _ = try reassembler.append(context(4, .begin, .none, [7]))
        #expect(try reassembler.append(context(5, .complete, .none, [8])) == [7, 8])
    }
}
