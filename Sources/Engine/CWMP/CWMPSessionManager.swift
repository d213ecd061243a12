import CWMP
import Foundation
import Logging
import Policy
import Registry
import Synchronization
import TandemCore

/// One HTTP POST from a CPE, as the front end hands it over.
public struct CWMPExchange: Sendable {
    /// The session cookie the CPE sent back, if any.
    public var sessionID: String?
    public var body: [UInt8]
    /// `charset` from Content-Type.
    public var charset: String?
    public var remoteAddress: String?
    /// The username the CPE authenticated as (nil in open mode).
    public var authenticatedUser: String?
    /// False when the front end skipped authentication because the cookie named an open session: if
    /// that session ended meanwhile (timed out), no new one may start from this request (TR-069
    /// 3.4.4: a CPE authenticates each session); the answer is then 401.
    public var mayOpenSession: Bool

    public init(
        sessionID: String?, body: [UInt8], charset: String? = nil, remoteAddress: String? = nil, authenticatedUser: String? = nil,
        mayOpenSession: Bool = true
    ) {
        self.sessionID = sessionID
        self.body = body
        self.charset = charset
        self.remoteAddress = remoteAddress
        self.authenticatedUser = authenticatedUser
        self.mayOpenSession = mayOpenSession
    }
}

/// The HTTP answer to a CWMP POST.
public struct CWMPReply: Sendable, Equatable {
    public var status: Int
    public var body: [UInt8]
    /// Set when a new session starts: the front end sends it as a cookie.
    public var newSessionID: String?
    /// Seconds, for 503 answers.
    public var retryAfter: Int?

    public init(status: Int, body: [UInt8] = [], newSessionID: String? = nil, retryAfter: Int? = nil) {
        self.status = status
        self.body = body
        self.newSessionID = newSessionID
        self.retryAfter = retryAfter
    }
}

/// Which step of which task an ACS request belongs to.
public struct TaskStep: Hashable, Sendable {
    public var taskID: Int64
    public var step: Int
}

/// Owns every CWMP session: the state machine per session cookie, the registry writes its actions
/// call for, and the tasks it runs. Sessions span several HTTP POSTs, so their state lives here,
/// between requests, not in a connection handler.
public actor CWMPSessionManager {
    public struct Configuration: Sendable {
        public var session = CWMPSession.Configuration()
        /// Above this many open sessions, new ones get 503 with Retry-After (overload).
        public var maxConcurrentSessions = 10_000
        /// The longest Retry-After of those 503 answers.
        public var retryAfterSeconds = 60
        /// Spread refused CPEs over the time the open sessions take to drain (``RetryAfterAdvisor``)
        /// instead of answering `retryAfterSeconds` to all.
        public var adaptiveRetryAfter = true
        public var decoder = CWMPDecoder.Configuration()
        public var planner = CWMPPlanner()
        /// Product classes whose CPEs reject the `<?xml ...?>` prolog.
        public var omitXMLDeclarationFor: Set<String> = []
        /// How long a queued task waits for its device, when the caller gives no expiry.
        public var defaultTaskLifetime: TimeInterval = 7 * 86_400

        public init() {}
    }

    typealias Machine = CWMPSession.StateMachine<TaskStep, ContinuousClock.Instant>

    /// A session the actor holds: a reference, so that reading or changing one field through
    /// `sessions[id]` neither copies the session out of the dictionary nor runs the dictionary's
    /// modify accessor (the session's size is only known at run time, since
    /// `ContinuousClock.Instant` is not frozen, and that accessor allocated a buffer on the heap for
    /// every access).
    final class Session {
        init(machine: Machine, lastSeen: ContinuousClock.Instant) {
            self.machine = machine
            self.lastSeen = lastSeen
        }

        var machine: Machine
        var deviceID: Int64?
        var productClass = ""
        /// `InternetGatewayDevice` for TR-098 CPEs: TR-181 paths go through `PathAliases`.
        var dataModelRoot = "Device"
        /// The protocol the device is managed over: when USP, only work pinned to CWMP runs here.
        var activeProtocol: ManagementProtocol?
        /// The session found no more work and is about to end: new work needs a Connection Request.
        var closing = false
        var lastSeen: ContinuousClock.Instant
        /// Tasks with requests in this session, and what their steps taught so far.
        var progress: [Int64: TaskProgress] = [:]
    }

    struct TaskProgress {
        var operation: TandemCore.Operation
        /// The operator wrote TR-181 paths for a TR-098 device: results are translated back.
        var aliased = false
        var outstanding: Int
        var result = OperationResult()
        var parameters: [StoredParameter] = []
        var removedObjects: [String] = []
        /// Subtrees the device listed in full (GetParameterNames with NextLevel false, refresh
        /// reads): what the registry holds under them and the answer lacks has vanished.
        var replacedSubtrees: [String] = []
        var awaitingTransfer = false
        /// Set while the first step reads these subtrees to expand wildcards and searches.
        var refreshing: [String]?
    }

    public let configuration: Configuration
    let registry: any RegistryStore
    let logger: Logger
    let clock = ContinuousClock()
    private let decoder: CWMPDecoder
    private var sessions: [String: Session] = [:]
    /// The keys of `sessions`, readable without the actor (``isOpen(_:)``); changed only with them.
    private nonisolated let openSessionIDs = Mutex<Set<String>>([])
    private var sessionByDevice: [Int64: String] = [:]
    private var retryAdvisor: RetryAfterAdvisor
    private var random = SystemRandomNumberGenerator()

    /// Told of contacts and idle devices (provisioning policies, migrations).
    let observers: DeviceContactObservers

    public init(
        configuration: Configuration = Configuration(), registry: any RegistryStore, observers: DeviceContactObservers = DeviceContactObservers(),
        logger: Logger
    ) {
        self.configuration = configuration
        self.registry = registry
        self.observers = observers
        self.logger = logger
        self.decoder = CWMPDecoder(configuration: configuration.decoder)
        self.retryAdvisor = RetryAfterAdvisor(maximumSeconds: configuration.retryAfterSeconds, adaptive: configuration.adaptiveRetryAfter)
    }

    /// Open sessions.
    public var sessionCount: Int { sessions.count }

    /// Whether `id` names an open session. The front end asks on every POST, before deciding to
    /// authenticate: a lock, not a hop onto the actor.
    public nonisolated func isOpen(_ id: String) -> Bool { openSessionIDs.withLock { $0.contains(id) } }

    /// Whether the device has a session open now (its tasks run without a connection request).
    public func hasSession(deviceID: Int64) -> Bool { sessionByDevice[deviceID] != nil }

    /// Devices with work queued while their session was looking for more.
    private var queuedWork: Set<Int64> = []

    /// Called after work is queued for the device: true when its open session will pick the work
    /// up; false when there is no session, or it is ending, and the device needs a Connection
    /// Request. (Without this, work queued while a session was deciding to end waited for the next
    /// contact.)
    public func acceptsQueuedWork(deviceID: Int64) -> Bool {
        guard let id = sessionByDevice[deviceID], let session = sessions[id], !session.closing, !session.machine.isEnded else { return false }
        queuedWork.insert(deviceID)
        return true
    }

    // MARK: HTTP

    /// What arrived in one POST, decoded before the actor sees it.
    enum Inbound: Sendable {
        case emptyPost
        case envelope(CWMPEnvelope)
        case undecodable(CWMPDecodingError)
    }

    /// A reply whose SOAP body is encoded after the actor has let go of it.
    struct PreparedReply: Sendable {
        var reply: CWMPReply
        var envelope: CWMPEnvelope?
        var encoderOptions = CWMPEncoder.Options()

        init(_ reply: CWMPReply) { self.reply = reply }

        init(status: Int, envelope: CWMPEnvelope, options: CWMPEncoder.Options) {
            reply = CWMPReply(status: status)
            self.envelope = envelope
            encoderOptions = options
        }
    }

    /// One HTTP exchange of a CPE. Decoding and encoding (libxml2) run outside the actor, so the
    /// sessions' shared state is held only for the state machine and the registry calls.
    public nonisolated func handle(_ exchange: CWMPExchange) async -> CWMPReply {
        let inbound: Inbound
        if CWMPDecoder.isEmptyBody(exchange.body) {
            inbound = .emptyPost
        } else {
            do {
                inbound = .envelope(try decoder.decode(exchange.body, from: .cpe, encoding: exchange.charset))
            } catch {
                inbound = .undecodable(error)
            }
        }
        var prepared = await process(exchange, inbound)
        if let envelope = prepared.envelope {
            prepared.reply.body = CWMPEncoder(options: prepared.encoderOptions).encode(envelope)
        }
        return prepared.reply
    }

    private func process(_ exchange: CWMPExchange, _ inbound: Inbound) async -> PreparedReply {
        let now = clock.now
        var sessionID = exchange.sessionID.flatMap { isOpenSession($0) ? $0 : nil }
        var isNew = false
        if sessionID == nil {
            // The session the cookie named ended after the front end let the request through
            // without authentication: authenticate first.
            guard exchange.mayOpenSession else { return PreparedReply(CWMPReply(status: 401)) }
            guard sessions.count < configuration.maxConcurrentSessions else {
                // Overload: refuse new sessions, never the ones already accepted (GenieACS does the same).
                let wait = retryAdvisor.advise(open: sessions.count, at: now, using: &random)
                return PreparedReply(CWMPReply(status: 503, retryAfter: wait))
            }
            let id = Self.makeSessionID()
            sessions[id] = Session(machine: Machine(configuration: configuration.session), lastSeen: now)
            openSessionIDs.withLock { _ = $0.insert(id) }
            sessionID = id
            isNew = true
        }
        let id = sessionID!
        sessions[id]?.lastSeen = now

        let action: Machine.Action
        switch inbound {
        case .emptyPost:
            action = mutate(id) { $0.receivedEmptyPost(at: now) } ?? .nothing
        case .envelope(let envelope):
            action = mutate(id) { $0.received(envelope, at: now) } ?? .nothing
        case .undecodable(let error):
            logger.notice("undecodable CWMP message", metadata: ["remote": "\(exchange.remoteAddress ?? "?")", "error": "\(error)"])
            try? await registry.appendEvent(DeviceEvent(
                deviceID: sessions[id]?.deviceID, at: Date(), kind: "protocolError",
                summary: "undecodable CWMP message: \(error)", actor: "device",
                detail: ["remoteAddress": exchange.remoteAddress ?? ""]))
            if sessions[id]?.deviceID == nil {
                // Nothing accepted yet: answer 400 and forget the half-opened session.
                removeSession(id)
                return PreparedReply(CWMPReply(status: 400))
            }
            action = mutate(id) { $0.receivedUndecodable(error, at: now) } ?? .nothing
        }
        var prepared = await drive(id, action, exchange: exchange)
        if isNew && isOpenSession(id) { prepared.reply.newSessionID = id }
        return prepared
    }

    /// Ends sessions idle past their deadline, requeueing what they held.
    public func expireIdleSessions() async {
        let now = clock.now
        for (id, session) in sessions {
            if let deadline = session.machine.deadline, deadline <= now {
                let action = mutate(id) { $0.timedOut(at: now) } ?? .nothing
                _ = await drive(id, action, exchange: nil)
            } else if session.machine.isEnded {
                removeSession(id)
            }
        }
    }

    // MARK: Driving the state machine

    private func drive(_ id: String, _ first: Machine.Action, exchange: CWMPExchange?) async -> PreparedReply {
        var action = first
        while true {
            switch action {
            case .send(let envelope):
                return PreparedReply(status: 200, envelope: envelope, options: encoderOptions(session: id))
            case .sendAndClose(let envelope, let reason, let abandoned):
                let options = encoderOptions(session: id)
                await requeue(abandoned, session: id, reason: "session closed: \(reason)")
                removeSession(id)
                return PreparedReply(status: 200, envelope: envelope, options: options)
            case .endSession:
                await finishSession(id)
                return PreparedReply(CWMPReply(status: 204))
            case .reject(let violation, let abandoned):
                logger.notice("CWMP protocol violation", metadata: ["violation": "\(violation)"])
                try? await registry.appendEvent(DeviceEvent(
                    deviceID: sessions[id]?.deviceID, at: Date(), kind: "protocolError", summary: "session rejected: \(violation)", actor: "device"))
                await requeue(abandoned, session: id, reason: "protocol violation")
                removeSession(id)
                return PreparedReply(CWMPReply(status: 400))
            case .expired(let abandoned):
                await requeue(abandoned, session: id, reason: "session timed out")
                removeSession(id)
                return PreparedReply(CWMPReply(status: 204))
            case .handleInform(let inform, let abandoned):
                await requeue(abandoned, session: id, reason: "CPE started a new session")
                action = await handleInform(inform, session: id, exchange: exchange)
            case .handleCPERequest(let request):
                action = await handleCPERequest(request, session: id)
            case .requestSucceeded(let tag, let request, let response):
                await recordSuccess(tag, request: request, response: response, session: id)
                action = mutate(id) { $0.resume(at: clock.now) } ?? .nothing
            case .requestFaulted(let tag, _, let fault):
                await recordFault(tag, fault: fault.fault, partial: OperationResult(fault: fault), session: id)
                action = mutate(id) { $0.resume(at: clock.now) } ?? .nothing
            case .responseUndecodable(let tag, let request, let error):
                await recordFault(
                    tag, fault: Fault(category: .protocolError, message: "\(request.methodName)Response could not be decoded: \(error)"),
                    partial: OperationResult(), session: id)
                action = mutate(id) { $0.resume(at: clock.now) } ?? .nothing
            case .needNextRequest:
                await enqueueNextTask(session: id)
                action = mutate(id) { $0.resume(at: clock.now) } ?? .nothing
            case .wait, .nothing:
                // Only timers produce these; an HTTP exchange always ends in a reply action.
                return PreparedReply(CWMPReply(status: 204))
            }
        }
    }

    private func handleInform(_ inform: CPERequest.Inform, session id: String, exchange: CWMPExchange?) async -> Machine.Action {
        let now = Date()
        if let user = exchange?.authenticatedUser, let stored = try? await registry.cpeCredentials(username: user),
            let device = try? await registry.device(.cwmp(inform.deviceID)), stored.deviceID != device.id
        {
            // Credentials of one device presenting another's identity.
            logger.warning("CPE authenticated as another device", metadata: ["user": "\(user)", "device": "\(inform.deviceID)"])
            return mutate(id) { $0.rejectInform(.acsRequestDenied, message: "credentials belong to another device", at: clock.now) } ?? .nothing
        }
        let record = InformRecord(inform, remoteAddress: exchange?.remoteAddress, at: now)
        do {
            let device = try await registry.recordInform(record, at: now)
            if let previous = sessionByDevice[device.id], previous != id, let old = sessions[previous] {
                // The CPE opened a new connection without the old cookie: the old session is over.
                for tag in old.progress.keys {
                    try? await registry.failTask(id: tag, fault: Fault(category: .unreachable, message: "CPE started a new session"), retry: true, at: now)
                }
                removeSession(previous)
            }
            // The session may have ended while the Inform was written (timed out, or replaced by a
            // newer one): then the device is not mapped to it, or it would look reachable without
            // a Connection Request until its next contact. The Inform stays recorded; the CPE gets
            // no InformResponse and retries (TR-069 3.2.1.1).
            guard let session = sessions[id] else { return .nothing }
            session.deviceID = device.id
            session.productClass = inform.deviceID.productClass
            session.dataModelRoot = inform.dataModelRoot ?? "Device"
            session.activeProtocol = device.activeProtocol
            sessionByDevice[device.id] = id
            await completeFinishedTransfers(inform, deviceID: device.id)
            await observers.active?.contactStarted(
                deviceID: device.id, over: .cwmp, triggers: PolicyTrigger.forInform(eventCodes: inform.events.map(\.code.rawValue)))
            return mutate(id) { $0.acceptInform(at: clock.now) } ?? .nothing
        } catch {
            logger.error("cannot record Inform", metadata: ["device": "\(inform.deviceID)", "error": "\(error)"])
            // 8002 tells the CPE to try again later; nothing was acknowledged.
            return mutate(id) { $0.rejectInform(.acsInternalError, message: "registry unavailable", at: clock.now) } ?? .nothing
        }
    }

    /// `M Reboot` with a Tandem CommandKey completes the reboot task (the device came back).
    private func completeFinishedTransfers(_ inform: CPERequest.Inform, deviceID: Int64) async {
        for event in inform.events where event.code.rawValue == "M Reboot" || event.code.rawValue == "M ScheduleInform" {
            guard let taskID = TaskCommandKey.taskID(in: event.commandKey),
                let task = try? await registry.task(id: taskID), task.deviceID == deviceID, task.state == .running
            else { continue }
            try? await registry.completeTask(id: taskID, result: OperationResult(), parameters: [], at: Date())
        }
    }

    private func handleCPERequest(_ request: CPERequest, session id: String) async -> Machine.Action {
        let deviceID = sessions[id]?.deviceID
        switch request {
        case .transferComplete(let complete):
            if let taskID = TaskCommandKey.taskID(in: complete.commandKey), let task = try? await registry.task(id: taskID),
                task.deviceID == deviceID, !task.state.isFinal
            {
                if complete.fault.code.rawValue == 0 {
                    let result = OperationResult(outputArguments: [
                        "StartTime": complete.startTime.text, "CompleteTime": complete.completeTime.text,
                    ])
                    try? await registry.completeTask(id: taskID, result: result, parameters: [], at: Date())
                } else {
                    try? await registry.failTask(id: taskID, fault: Fault(cwmp: complete.fault.code, message: complete.fault.message), retry: false, at: Date())
                }
            } else {
                try? await registry.appendEvent(DeviceEvent(
                    deviceID: deviceID, at: Date(), kind: "transfer", summary: "TransferComplete for unknown CommandKey \(complete.commandKey)",
                    actor: "device"))
            }
        case .duStateChangeComplete(let complete):
            await completeDUStateChange(complete, deviceID: deviceID)
        default:
            try? await registry.appendEvent(DeviceEvent(deviceID: deviceID, at: Date(), kind: "cpeRequest", summary: request.methodName, actor: "device"))
        }
        return mutate(id) { $0.answerCPERequest(request.defaultResponse(), at: clock.now) } ?? .nothing
    }

    // MARK: Tasks

    private func enqueueNextTask(session id: String) async {
        guard let deviceID = sessions[id]?.deviceID else { return }
        sessions[id]?.closing = false
        var observerRounds = 0
        while true {
            queuedWork.remove(deviceID)
            let task: DeviceTask?
            do {
                task = try await registry.claimNextTask(
                    deviceID: deviceID, at: Date(), over: .cwmp, includeUnpinned: sessions[id]?.activeProtocol != .usp)
            } catch {
                logger.error("cannot claim a task", metadata: ["device": "\(deviceID)", "error": "\(error)"])
                return
            }
            guard let task else {
                // Nothing queued: policies and migrations may want the open session (no extra
                // Connection Request); the observer bounds its own rounds, this bounds the loop.
                observerRounds += 1
                if observerRounds <= 16, let observer = observers.active, await observer.deviceIdle(deviceID: deviceID, over: .cwmp),
                    isOpenSession(id)
                {
                    continue
                }
                // Work queued meanwhile (acceptsQueuedWork) is claimed now; no await follows the
                // check, so nothing can slip in between it and the session's end.
                if queuedWork.remove(deviceID) != nil, isOpenSession(id) { continue }
                sessions[id]?.closing = true
                return
            }
            do {
                var operation = task.operation
                let aliased = sessions[id]?.dataModelRoot == "InternetGatewayDevice"
                if aliased { operation = try PathAliases.forTR098(operation) }
                let planned = try await plan(operation, taskID: task.id, deviceID: deviceID)
                guard !planned.requests.isEmpty else {
                    // Wildcards or searches that match nothing: the empty result USP would give.
                    try? await registry.completeTask(id: task.id, result: OperationResult(), parameters: [], at: Date())
                    continue
                }
                let requests = planned.requests
                sessions[id]?.progress[task.id] = TaskProgress(
                    operation: planned.operation, aliased: aliased, outstanding: requests.count, refreshing: planned.refreshing)
                for (index, request) in requests.enumerated() {
                    _ = mutate(id) { $0.enqueue(request, tag: TaskStep(taskID: task.id, step: index)) }
                }
                return
            } catch {
                try? await registry.failTask(id: task.id, fault: error, retry: false, at: Date())
            }
        }
    }

    private func recordSuccess(_ tag: TaskStep, request: ACSRequest, response: CPEResponse, session id: String) async {
        guard var progress = sessions[id]?.progress[tag.taskID] else { return }
        let now = Date()
        let followUps: [ACSRequest]
        if let prefixes = progress.refreshing {
            // The refresh read is not part of the result; it teaches the tree, then the real RPCs follow.
            progress.refreshing = nil
            guard case .getParameterValues(let values) = response else { return }
            progress.parameters += values.map { StoredParameter(path: $0.name, value: $0.value, updatedAt: now) }
            progress.replacedSubtrees += prefixes
            do throws(Fault) {
                switch try CWMPPlanner.expand(
                    progress.operation, names: Set(values.map(\.name)), values: Dictionary(values.map { ($0.name, $0.value) }) { _, last in last }, fresh: true)
                {
                case .concrete(let operation):
                    progress.operation = operation
                    followUps = try configuration.planner.plan(operation, taskID: tag.taskID)
                case .nothing, .refresh:
                    followUps = []
                }
            } catch {
                await recordFault(tag, fault: error, partial: OperationResult(), session: id)
                return
            }
        } else {
            let stepResult = OperationResult(request: request, response: response)
            progress.result.entries += stepResult.entries
            progress.result.pendingReboot = progress.result.pendingReboot || stepResult.pendingReboot
            progress.result.outputArguments.merge(stepResult.outputArguments) { _, new in new }
            if let created = stepResult.createdObject { progress.result.createdObject = created }
            followUps = configuration.planner.followUp(progress.operation, after: request, response: response)
        }
        switch (request, response) {
        case (_, .getParameterValues(let values)):
            progress.parameters += values.map { StoredParameter(path: $0.name, value: $0.value, updatedAt: now) }
        case (.getParameterNames(let path, let nextLevel), .getParameterNames(let names)):
            progress.parameters += names.filter { !$0.name.hasSuffix(".") }.map { StoredParameter(path: $0.name, value: nil, writable: $0.writable, updatedAt: now) }
            // A full listing of the subtree: instances the registry knows and the answer lacks are gone.
            if !nextLevel, path.hasSuffix(".") { progress.replacedSubtrees.append(path) }
        case (.setParameterValues(let values, _), _):
            progress.parameters += values.map { StoredParameter(path: $0.name, value: $0.value, updatedAt: now) }
        case (.deleteObject(let name, _), _):
            progress.removedObjects.append(name)
        default:
            break
        }
        progress.outstanding += followUps.count - 1
        for (index, next) in followUps.enumerated() {
            _ = mutate(id) { $0.enqueue(next, tag: TaskStep(taskID: tag.taskID, step: tag.step + 1 + index)) }
        }
        if CWMPPlanner.awaitsTransferComplete(response) { progress.awaitingTransfer = true }
        sessions[id]?.progress[tag.taskID] = progress
        guard progress.outstanding <= 0 else { return }
        sessions[id]?.progress[tag.taskID] = nil
        if progress.awaitingTransfer || isRebootLike(progress.operation) {
            // Completion comes later: TransferComplete, or the `M Reboot` Inform after the reboot.
            return
        }
        do {
            // What the responses taught (values, vanished instances, deleted objects) is stored in the
            // same transaction that completes the task.
            let result = progress.aliased ? PathAliases.toTR181(progress.result) : progress.result
            if case .cancelTransfer(let key) = progress.operation, let cancelled = TaskCommandKey.taskID(in: key),
                try await registry.task(id: cancelled)?.deviceID == sessions[id]?.deviceID
            {
                // The CPE dropped the transfer: its task will see no TransferComplete. Settled first,
                // so that whoever sees the cancel done sees the transfer's task cancelled.
                _ = try await registry.cancelTask(id: cancelled, actor: "task \(tag.taskID)", at: now)
            }
            try await registry.completeTask(
                id: tag.taskID, result: result, parameters: progress.parameters, replacingSubtrees: progress.replacedSubtrees,
                removingSubtrees: progress.removedObjects, at: now)
        } catch {
            logger.error("cannot complete task", metadata: ["task": "\(tag.taskID)", "error": "\(error)"])
        }
    }

    private func isRebootLike(_ operation: TandemCore.Operation) -> Bool {
        switch operation {
        case .reboot: true
        case .operate(let command, _, _): command.description == "Device.Reboot()"
        default: false
        }
    }

    private func recordFault(_ tag: TaskStep, fault: Fault, partial: OperationResult, session id: String) async {
        sessions[id]?.progress[tag.taskID] = nil
        // Other queued steps of the same task are dropped: the task failed.
        var removed = true
        var step = tag.step + 1
        while removed {
            removed = mutate(id) { $0.removeQueued(tag: TaskStep(taskID: tag.taskID, step: step)) } ?? false
            step += 1
        }
        // TR-069 A.3.2.1: a SetParameterValues fault (9003) carries the real cause per parameter.
        var fault = fault
        let causes = partial.entries.compactMap { entry -> String? in
            guard case .fault(let cause) = entry.outcome else { return nil }
            return "\(entry.path): \(cause)"
        }
        if !causes.isEmpty { fault = Fault(category: fault.category, code: fault.code, message: fault.message + "; " + causes.joined(separator: "; ")) }
        do {
            try await registry.failTask(id: tag.taskID, fault: fault, retry: false, at: Date())
            if !partial.entries.isEmpty {
                try await registry.appendEvent(DeviceEvent(
                    deviceID: sessions[id]?.deviceID, at: Date(), kind: "fault",
                    summary: "task \(tag.taskID): " + partial.faults.map(\.description).joined(separator: "; "), actor: "device",
                    detail: ["task": String(tag.taskID)]))
            }
        } catch {
            logger.error("cannot record a fault", metadata: ["task": "\(tag.taskID)", "error": "\(error)"])
        }
    }

    private func requeue(_ abandoned: Machine.Abandoned, session id: String, reason: String) async {
        let now = Date()
        for taskID in Set(abandoned.all.map(\.taskID)) {
            // The CPE may or may not have executed an in-flight request; a retry is what GenieACS does too.
            try? await registry.failTask(id: taskID, fault: Fault(category: .unreachable, message: reason), retry: true, at: now)
            sessions[id]?.progress[taskID] = nil
        }
    }

    private func finishSession(_ id: String) async {
        if let session = sessions[id] {
            for (taskID, progress) in session.progress where !progress.awaitingTransfer {
                try? await registry.failTask(id: taskID, fault: Fault(category: .unreachable, message: "session ended"), retry: true, at: Date())
            }
        }
        removeSession(id)
    }

    // MARK: Helpers

    private func mutate<T>(_ id: String, _ body: (inout Machine) -> T) -> T? {
        // In place, through the reference: no copy of the machine's buffers.
        guard let session = sessions[id] else { return nil }
        return body(&session.machine)
    }

    /// Whether the actor holds session `id`.
    private func isOpenSession(_ id: String) -> Bool { sessions[id] != nil }

    private func removeSession(_ id: String) {
        if let deviceID = sessions[id]?.deviceID, sessionByDevice[deviceID] == id { sessionByDevice[deviceID] = nil }
        if sessions.removeValue(forKey: id) != nil {
            openSessionIDs.withLock { _ = $0.remove(id) }
            retryAdvisor.sessionEnded(at: clock.now)
        }
    }

    private func encoderOptions(session id: String) -> CWMPEncoder.Options {
        let productClass = sessions[id]?.productClass ?? ""
        return CWMPEncoder.Options(xmlDeclaration: !configuration.omitXMLDeclarationFor.contains(productClass))
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// 128 random bits as 32 hex digits.
    static func makeSessionID() -> String {
        var generator = SystemRandomNumberGenerator()
        let words = (generator.next() as UInt64, generator.next() as UInt64)
        let digits = hexDigits
        return String(unsafeUninitializedCapacity: 32) { buffer in
            for index in 0..<32 {
                let word = index < 16 ? words.0 : words.1
                buffer[index] = digits[Int(truncatingIfNeeded: word >> UInt64(60 - (index % 16) * 4)) & 0xF]
            }
            return 32
        }
    }
}
