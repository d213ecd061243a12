import Foundation
import MTP
import ServiceLifecycle

/// The link of each USP MTP (to its broker, or its listener) as the transport last reported it, for
/// `/metrics` and `GET /api/v1/status` (`tandem status`).
public final class MTPLinkStates: @unchecked Sendable {
    public struct Link: Sendable, Encodable, Equatable {
        public var name: String
        public var up: Bool
        /// When the link last changed (or was first seen).
        public var since: Date
        /// Why it went down, while it is down.
        public var reason: String?
        /// How often it went down since the server started.
        public var failures: Int
    }

    private let lock = NSLock()
    private var links: [String: Link] = [:]

    public init() {}

    func register(_ name: String) {
        lock.withLock {
            if links[name] == nil { links[name] = Link(name: name, up: false, since: Date(), reason: "not connected yet", failures: 0) }
        }
    }

    func record(_ event: TransportEvent, on name: String) {
        lock.withLock {
            var link = links[name] ?? Link(name: name, up: false, since: Date(), reason: nil, failures: 0)
            switch event {
            case .linkUp:
                if !link.up { link.since = Date() }
                link.up = true
                link.reason = nil
            case .linkDown(let reason):
                if link.up { link.failures += 1 }
                link.since = link.up ? Date() : link.since
                link.up = false
                link.reason = reason
            default:
                return
            }
            links[name] = link
        }
    }

    /// Every link, by name.
    public var snapshot: [Link] { lock.withLock { links.values.sorted { $0.name < $1.name } } }

    /// Prometheus text: `tandem_mtp_link_up` and `tandem_mtp_link_failures_total` per MTP.
    func prometheusText() -> String {
        let links = snapshot
        guard !links.isEmpty else { return "" }
        var text = "# HELP tandem_mtp_link_up Whether the USP MTP's link (broker connection or listener) is up.\n# TYPE tandem_mtp_link_up gauge\n"
        for link in links { text += "tandem_mtp_link_up{mtp=\"\(link.name)\"} \(link.up ? 1 : 0)\n" }
        text += "# HELP tandem_mtp_link_failures_total Times the USP MTP's link went down.\n# TYPE tandem_mtp_link_failures_total counter\n"
        for link in links { text += "tandem_mtp_link_failures_total{mtp=\"\(link.name)\"} \(link.failures)\n" }
        return text
    }
}

/// A transport whose link events are also recorded in `MTPLinkStates`; everything else passes through.
struct LinkTrackingTransport: MessageTransport {
    let base: any MessageTransport
    let states: MTPLinkStates
    let events: AsyncStream<TransportEvent>
    private let continuation: AsyncStream<TransportEvent>.Continuation

    init(_ base: any MessageTransport, states: MTPLinkStates) {
        self.base = base
        self.states = states
        (events, continuation) = AsyncStream.makeStream(of: TransportEvent.self)
        states.register(base.name)
    }

    var name: String { base.name }

    func run() async throws {
        defer { continuation.finish() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [base, states, continuation] in
                for await event in base.events {
                    states.record(event, on: base.name)
                    continuation.yield(event)
                }
            }
            try await base.run()
            group.cancelAll()
        }
    }

    func send(_ record: [UInt8], to destination: MTPAddress) async throws {
        try await base.send(record, to: destination)
    }

    func rejectUnparseableRecord(from peer: MTPAddress) async {
        await base.rejectUnparseableRecord(from: peer)
    }
}
