import MTP
import NIOConcurrencyHelpers

/// One open WebSocket session, accepted or dialled. Small on purpose: tens of thousands of idle
/// agents each hold one (an address and a reference to the connection).
struct WebSocketSession: Sendable {
    /// The address the engine answers to; `destination` is the session id.
    let address: MTPAddress
    /// Writes frames on this session.
    let outbound: SessionOutbound

    var id: String { address.destination }
    var endpointID: String? { address.endpointID }
}

/// The open sessions of one transport, indexed by session id and by endpoint ID, and the transport's
/// event stream. Events are yielded while the lock is held so that their order matches the order of
/// the registry changes (a replaced session's `peerDisconnected` comes before its successor's
/// `peerConnected`).
final class SessionRegistry: Sendable {
    private struct State {
        var sessions: [String: WebSocketSession] = [:]
        var sessionIDByEndpoint: [String: String] = [:]
        var nextSessionNumber: UInt64 = 1
        var isShuttingDown = false
    }

    /// The outcome of ``register(endpointID:outbound:policy:)``.
    enum Registration {
        /// The session is registered; `replaced` was open for the same endpoint and is now removed
        /// (its owner still has to close it).
        case registered(WebSocketSession, replaced: WebSocketSession?)
        /// Another session for the endpoint is open and the policy keeps it.
        case duplicate
        /// The transport is shutting down.
        case shuttingDown
    }

    private let state = NIOLockedValueBox(State())
    private let continuation: AsyncStream<TransportEvent>.Continuation
    let transportName: String

    init(transportName: String, continuation: AsyncStream<TransportEvent>.Continuation) {
        self.transportName = transportName
        self.continuation = continuation
    }

    var isShuttingDown: Bool { state.withLockedValue { $0.isShuttingDown } }
    var count: Int { state.withLockedValue { $0.sessions.count } }

    /// Whether `endpointID` has an open session.
    func hasSession(endpointID: String) -> Bool {
        state.withLockedValue { $0.sessionIDByEndpoint[endpointID] != nil }
    }

    /// Registers a newly opened session and reports `peerConnected` (and `peerDisconnected` for a
    /// session it replaces).
    func register(
        endpointID: String?,
        outbound: SessionOutbound,
        policy: WebSocketTransportConfiguration.DuplicateSessionPolicy
    ) -> Registration {
        state.withLockedValue { state in
            guard !state.isShuttingDown else { return .shuttingDown }
            var replaced: WebSocketSession?
            if let endpointID, let existingID = state.sessionIDByEndpoint[endpointID] {
                switch policy {
                case .rejectNew:
                    return .duplicate
                case .replaceExisting:
                    replaced = state.sessions.removeValue(forKey: existingID)
                    state.sessionIDByEndpoint[endpointID] = nil
                    if let replaced { continuation.yield(.peerDisconnected(replaced.address)) }
                }
            }
            let id = String(state.nextSessionNumber)
            state.nextSessionNumber += 1
            let session = WebSocketSession(
                address: MTPAddress(transport: transportName, destination: id, endpointID: endpointID),
                outbound: outbound)
            state.sessions[id] = session
            if let endpointID { state.sessionIDByEndpoint[endpointID] = id }
            continuation.yield(.peerConnected(session.address))
            return .registered(session, replaced: replaced)
        }
    }

    /// Removes a closed session and reports `peerDisconnected`, unless it was already removed
    /// (replaced by a newer session of the same endpoint).
    func remove(_ session: WebSocketSession) {
        state.withLockedValue { state in
            guard state.sessions.removeValue(forKey: session.id) != nil else { return }
            if let endpointID = session.endpointID, state.sessionIDByEndpoint[endpointID] == session.id {
                state.sessionIDByEndpoint[endpointID] = nil
            }
            continuation.yield(.peerDisconnected(session.address))
        }
    }

    /// The session an address names: by `destination` (the session id) when it is set, otherwise by
    /// `endpointID`.
    func session(for address: MTPAddress) -> WebSocketSession? {
        state.withLockedValue { state in
            if !address.destination.isEmpty {
                return state.sessions[address.destination]
            }
            guard let endpointID = address.endpointID, let id = state.sessionIDByEndpoint[endpointID] else { return nil }
            return state.sessions[id]
        }
    }

    /// Stops registering sessions and returns the open ones, for closing.
    func beginShutdown() -> [WebSocketSession] {
        state.withLockedValue { state in
            state.isShuttingDown = true
            return Array(state.sessions.values)
        }
    }

    /// Reports an event that is not a registry change (a record, the link state).
    func yield(_ event: TransportEvent) {
        continuation.yield(event)
    }

    /// Ends the event stream; the transport has stopped.
    func finish() {
        continuation.finish()
    }
}

/// The bound address of the listener, for callers that configured port 0.
final class ListenerState: Sendable {
    private struct State {
        var port: Int?
        var failure: WebSocketTransportError?
        var waiters: [CheckedContinuation<Int, any Error>] = []
    }

    private let state = NIOLockedValueBox(State())

    /// Records the bound port and wakes everyone waiting for it.
    func listening(port: Int) {
        let waiters = state.withLockedValue { state in
            state.port = port
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: port) }
    }

    /// The listener will not come up (the transport stopped); wakes waiters with an error.
    func stopped() {
        let waiters = state.withLockedValue { state in
            state.port = nil
            state.failure = WebSocketTransportError(.shuttingDown)
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(throwing: WebSocketTransportError(.shuttingDown)) }
    }

    /// The bound port, waiting until the listener is up.
    func port() async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            let immediate: Result<Int, WebSocketTransportError>? = state.withLockedValue { state in
                if let port = state.port { return .success(port) }
                if let failure = state.failure { return .failure(failure) }
                state.waiters.append(continuation)
                return nil
            }
            if let immediate { continuation.resume(with: immediate) }
        }
    }
}
