@testable import Engine
import MTP
import Synchronization
import Testing

/// The controller's per-peer lanes: in order per peer, a lane only while events are queued.
@Suite struct PeerLanesTests {
    /// The events a lane handled, in order.
    private final class Handled: Sendable {
        private let labels = Mutex<[String]>([])
        var all: [String] { labels.withLock { $0 } }
        func append(_ event: TransportEvent) { labels.withLock { $0.append(PeerLanesTests.label(event)) } }
    }

    private static func record(_ peer: String, _ byte: UInt8) -> TransportEvent {
        .record(InboundRecord(bytes: [byte], replyTo: MTPAddress(transport: "websocket", destination: peer)))
    }

    fileprivate static func label(_ event: TransportEvent) -> String {
        switch event {
        case .record(let inbound): "\(inbound.replyTo.destination):\(inbound.bytes.first ?? 0)"
        case .peerDisconnected(let address): "\(address.destination):gone"
        default: "other"
        }
    }

    @Test func aLaneEndsWhenItsQueueIsEmptyAndTheNextEventOpensANewOne() async {
        let lanes = PeerLanes()
        #expect(lanes.enqueue(Self.record("1", 1), for: "1", limit: 8) == .startLane)
        #expect(lanes.count == 1)
        let handled = Handled()
        await lanes.drain("1") { event in handled.append(event) }
        #expect(handled.all == ["1:1"])
        #expect(lanes.count == 0)
        #expect(!lanes.enqueueIfRunning(.peerDisconnected(MTPAddress(transport: "websocket", destination: "1")), for: "1"))
        #expect(lanes.enqueue(Self.record("1", 2), for: "1", limit: 8) == .startLane)
    }

    @Test func eventsQueuedWhileTheLaneWorksAreHandledByItInOrder() async {
        let lanes = PeerLanes()
        let handled = Handled()
        let (started, startedContinuation) = AsyncStream<Void>.makeStream()
        let (release, releaseContinuation) = AsyncStream<Void>.makeStream()
        #expect(lanes.enqueue(Self.record("7", 1), for: "7", limit: 8) == .startLane)
        await withDiscardingTaskGroup { group in
            group.addTask {
                await lanes.drain("7") { event in
                    if handled.all.isEmpty {
                        startedContinuation.yield()
                        for await _ in release { break }  // held inside the first event
                    }
                    handled.append(event)
                }
            }
            for await _ in started { break }
            #expect(lanes.enqueue(Self.record("7", 2), for: "7", limit: 8) == .queued)
            #expect(lanes.enqueue(Self.record("7", 3), for: "7", limit: 8) == .queued)
            #expect(lanes.enqueueIfRunning(.peerDisconnected(MTPAddress(transport: "websocket", destination: "7")), for: "7"))
            releaseContinuation.yield()
        }
        #expect(handled.all == ["7:1", "7:2", "7:3", "7:gone"])
        #expect(lanes.count == 0)
    }

    @Test func pastTheLimitANewPeerIsRefusedButRunningLanesStillQueue() {
        let lanes = PeerLanes()
        #expect(lanes.enqueue(Self.record("a", 1), for: "a", limit: 1) == .startLane)
        #expect(lanes.enqueue(Self.record("b", 1), for: "b", limit: 1) == .full)
        #expect(lanes.enqueue(Self.record("a", 2), for: "a", limit: 1) == .queued)
        #expect(lanes.count == 1)
    }
}
