import Foundation
import Logging
import Registry
import TandemCore

/// Submits neutral operations to devices: queues the task and wakes the device. For a CWMP device
/// without an open session that means a Connection Request (TR-069 3.2.2); the task then runs in the
/// session the request triggers, or stays queued (until its expiry) for the device's next contact.
public struct DeviceOperations: Sendable {
    let registry: any RegistryStore
    let cwmpSessions: CWMPSessionManager
    let connectionRequests: ConnectionRequestClient
    /// The USP controller, when the server runs one.
    public var usp: USPController?
    let logger: Logger
    /// Expiry of tasks submitted without one.
    public var defaultLifetime: TimeInterval = 7 * 86_400
    /// Connection Request credentials for a device without stored ones (configured templates).
    public var connectionRequestFallback: (@Sendable (Device) -> ConnectionRequestCredentials?)?

    public init(registry: any RegistryStore, cwmpSessions: CWMPSessionManager, connectionRequests: ConnectionRequestClient, logger: Logger) {
        self.registry = registry
        self.cwmpSessions = cwmpSessions
        self.connectionRequests = connectionRequests
        self.logger = logger
    }

    /// What a submission did.
    public struct Submission: Sendable {
        public var task: DeviceTask
        /// The Connection Request sent to wake the device, when one was needed.
        public var connectionRequest: ConnectionRequestOutcome?
    }

    public func submit(_ operation: TandemCore.Operation, to device: Device, expiresAt: Date? = nil, actor: String) async throws -> Submission {
        try operation.validate()
        let task = try await registry.enqueueTask(
            deviceID: device.id, operation: operation, expiresAt: expiresAt ?? Date().addingTimeInterval(defaultLifetime), actor: actor)
        var outcome: ConnectionRequestOutcome?
        switch device.activeProtocol {
        case .cwmp?:
            if !(await cwmpSessions.acceptsQueuedWork(deviceID: device.id)) { outcome = await wake(device) }
        case .usp?:
            // An online agent gets the message at once; an offline one keeps the task queued for its
            // next connection.
            await usp?.wake(deviceID: device.id)
        case nil:
            break
        }
        return Submission(task: task, connectionRequest: outcome)
    }

    /// Reaches a device so that it runs work queued outside `submit` (policies, migrations): a
    /// Connection Request for a CWMP device without a session, the agent for a USP device.
    public func wakeForQueuedWork(_ device: Device) async -> ConnectionRequestOutcome? {
        switch device.activeProtocol {
        case .usp?:
            await usp?.wake(deviceID: device.id)
            return nil
        case .cwmp?:
            return await cwmpSessions.acceptsQueuedWork(deviceID: device.id) ? nil : await wake(device)
        case nil:
            return nil
        }
    }

    /// Waits before the second and third Connection Request when the CPE answered 503 (busy).
    static let busyRetryDelays: [Duration] = [.milliseconds(300), .seconds(1)]

    /// Sends a Connection Request with the device's stored credentials and logs the outcome.
    public func wake(_ device: Device) async -> ConnectionRequestOutcome {
        var outcome: ConnectionRequestOutcome
        if let url = device.connectionRequestURL, !url.isEmpty {
            let stored = try? await registry.credentials(deviceID: device.id, purpose: .connectionRequest)
            let credentials = stored.map { ConnectionRequestCredentials(username: $0.username, password: $0.password) } ?? connectionRequestFallback?(device)
            outcome = await connectionRequests.send(to: url, credentials: credentials)
            // TR-069 3.2.2: a CPE answers 503 while it is in a session. Right after the ACS ends one
            // (its final 204 written), the CPE may not have read that answer yet, and work queued in
            // that moment would wait for the next periodic Inform: two more tries, shortly after.
            for delay in Self.busyRetryDelays {
                guard case .busy = outcome else { break }
                try? await Task.sleep(for: delay)
                outcome = await connectionRequests.send(to: url, credentials: credentials)
            }
        } else {
            outcome = .unreachable("the device has not reported a ConnectionRequestURL")
        }
        try? await registry.appendEvent(DeviceEvent(
            deviceID: device.id, at: Date(), kind: "connectionRequest", summary: "connection request: \(outcome)", actor: "system"))
        if !outcome.isAccepted {
            logger.info("connection request not accepted", metadata: ["device": "\(device.id)", "outcome": "\(outcome)"])
        }
        return outcome
    }

    /// Waits until the task is final or `timeout` passes; returns its latest state either way.
    ///
    /// The registry signals each committed change of a task (``TaskChangeSignals``), so the task is
    /// read again when it changed, not on a timer; `pollInterval` only bounds how long a change the
    /// registry does not signal (the device deleted with its tasks) goes unseen.
    ///
    /// - Parameter justSubmitted: the caller queued the task itself a moment ago (``submit(_:to:expiresAt:actor:)``):
    ///   the first look needs no read, since the registry remembers its latest signals
    ///   (``TaskChangeSignals/registerAfterSubmitting(_:)``) and a task that finished meanwhile fires at once.
    public func wait(
        forTask id: Int64, timeout: Duration, pollInterval: Duration = .seconds(1), justSubmitted: Bool = false
    ) async throws -> DeviceTask {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        let signals = registry.taskChanges
        if justSubmitted, timeout > .zero {
            await signals.wait(signals.registerAfterSubmitting(id), upTo: min(pollInterval, timeout))
        }
        // Without that first look, the first read is of the state alone: a task submitted a moment
        // ago is usually still queued, and its operation need not be decoded to learn that. Later
        // reads (after a change, or a poll) read the whole task.
        var first = !justSubmitted
        while true {
            // Registered before the read: a change committed after the read still wakes this wait.
            // Every way out of this round releases it (after `signals.wait`, which released it
            // already, that does nothing).
            let ticket = signals.register(id)
            defer { signals.release(ticket) }
            let now: ContinuousClock.Instant
            if first {
                first = false
                guard let state = try await registry.taskState(id: id) else { throw RegistryError.taskNotFound(id) }
                now = clock.now
                if state.isFinal || now >= deadline { continue }
            } else {
                guard let task = try await registry.task(id: id) else { throw RegistryError.taskNotFound(id) }
                now = clock.now
                if task.state.isFinal || now >= deadline { return task }
            }
            try Task.checkCancellation()
            await signals.wait(ticket, upTo: min(pollInterval, now.duration(to: deadline)))
        }
    }
}
