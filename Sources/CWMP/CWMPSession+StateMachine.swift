import TandemCore

extension CWMPSession {
    /// The protocol logic of one CPE's CWMP sessions, as a pure value: events are mutating methods
    /// that return an `Action`; time comes in as an instant; nothing is read from a clock and no I/O
    /// happens. The owner (an actor keyed by session cookie) feeds it decoded messages and performs
    /// the actions.
    ///
    /// Every HTTP POST ends in exactly one reply action:
    /// - `.send(envelope)`: HTTP 200 with the encoded envelope; the session continues.
    /// - `.sendAndClose(envelope, ...)`: HTTP 200 with the envelope (a fault); the session is over.
    /// - `.endSession`: HTTP 204, the ACS has nothing more (TR-069 3.7.1.4: an empty response
    ///   answering an empty POST ends the session).
    /// - `.reject(...)`: HTTP 400; the session is over.
    ///
    /// The other actions ask the owner to do something and then call back before replying:
    /// - `.handleInform`: record the Inform, then `acceptInform(at:)` or `rejectInform(_:message:at:)`.
    /// - `.handleCPERequest`: process it, then `answerCPERequest(_:at:)` or
    ///   `faultCPERequest(_:message:at:)`.
    /// - `.requestSucceeded` / `.requestFaulted` / `.responseUndecodable`: record the outcome for the
    ///   tag, then `resume(at:)`.
    /// - `.needNextRequest`: `enqueue(_:tag:)` zero or more requests, then `resume(at:)`.
    ///
    /// After `.sendAndClose`, `.reject` and `.expired` the machine is ended and every request it still
    /// held (sent or queued) is listed in `abandoned` for the owner to requeue. A new Inform starts
    /// a new session on the same machine; when it interrupts an open session, the request the CPE
    /// never answered is reported in `.handleInform`'s `abandoned` and queued requests carry over.
    public struct StateMachine<Tag: Hashable & Sendable, Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
        /// Requests the session gave up; the owner requeues or fails them.
        public struct Abandoned: Hashable, Sendable {
            /// The request sent to the CPE and never answered: the CPE may or may not have executed it.
            public var inFlight: Tag?
            /// Requests queued and never sent.
            public var queued: [Tag]

            public init(inFlight: Tag? = nil, queued: [Tag] = []) {
                self.inFlight = inFlight
                self.queued = queued
            }

            public static var none: Abandoned { Abandoned() }

            public var isEmpty: Bool { inFlight == nil && queued.isEmpty }

            /// In-flight first, then the queue in order.
            public var all: [Tag] { (inFlight.map { [$0] } ?? []) + queued }
        }

        public enum Action: Hashable, Sendable {
            /// Reply HTTP 200 with this envelope; the session continues.
            case send(CWMPEnvelope)
            /// Reply HTTP 200 with this envelope (a fault); the session is over.
            case sendAndClose(CWMPEnvelope, reason: EndReason, abandoned: Abandoned)
            /// Reply HTTP 204: no more requests, the session ends (TR-069 3.7.1.4).
            case endSession
            /// Reply HTTP 400; the session is over.
            case reject(Violation, abandoned: Abandoned)
            /// A new session's Inform: record it, then call `acceptInform(at:)` or
            /// `rejectInform(_:message:at:)`. `abandoned` holds the request an interrupted earlier
            /// session left unanswered.
            case handleInform(CPERequest.Inform, abandoned: Abandoned)
            /// A CPE request: process it, then call `answerCPERequest(_:at:)` or
            /// `faultCPERequest(_:message:at:)`.
            case handleCPERequest(CPERequest)
            /// The CPE answered the request tagged `tag`; record it, then call `resume(at:)`.
            case requestSucceeded(tag: Tag, request: ACSRequest, response: CPEResponse)
            /// The CPE faulted the request tagged `tag` (9000-9899); record it, then call `resume(at:)`.
            case requestFaulted(tag: Tag, request: ACSRequest, fault: CWMPFault)
            /// The CPE answered the request tagged `tag` with a response that did not decode (for
            /// example an invalid number); record the failure, then call `resume(at:)`. Reported
            /// rather than breaking the session, so that one bad response cannot make a request loop
            /// forever.
            case responseUndecodable(tag: Tag, request: ACSRequest, error: CWMPDecodingError)
            /// The queue is empty: enqueue the next requests (or none), then call `resume(at:)`.
            case needNextRequest
            /// The session timed out; it is over.
            case expired(abandoned: Abandoned)
            /// The deadline has not passed; call `timedOut(at:)` again at this instant.
            case wait(until: Instant)
            /// Nothing to do.
            case nothing
        }

        // MARK: State

        struct Context: Sendable {
            var info: Info
            var cpeRequests = 0
        }

        struct PendingInform: Sendable {
            var id: String?
            var info: Info
        }

        struct PendingCPERequest: Sendable {
            var id: String?
            var request: CPERequest
        }

        struct InFlight: Sendable {
            var id: String
            var tag: Tag
            var request: ACSRequest
        }

        enum State: Sendable {
            /// No session, or the CPE was told to retry its Inform (8005).
            case awaitingInform
            /// The owner is handling the Inform.
            case informReceived(PendingInform)
            /// InformResponse sent: the CPE may send requests or an empty POST.
            case cpeTurn(Context)
            /// The owner is handling a CPE request.
            case handlingCPERequest(Context, PendingCPERequest)
            /// The owner is recording an outcome (`asked` false) or choosing the next request
            /// (`asked` true).
            case awaitingOwner(Context, asked: Bool)
            /// An ACS request is outstanding.
            case awaitingResponse(Context, InFlight)
            /// The ACS replied 204. The CPE normally closes, but may still send requests (TR-069
            /// 3.7.1.4: the CPE ends the session only when it has no requests left either).
            case finished(Context)
            case ended(EndReason)
        }

        public let configuration: Configuration
        private var state: State = .awaitingInform
        private var queue: [(tag: Tag, request: ACSRequest)] = []
        private var lastActivity: Instant?
        private var requestCounter: UInt64 = 0
        /// Whether `cwmp:HoldRequests` true goes out with the ACS's messages.
        public private(set) var holdRequests: Bool
        /// Times the current Inform was answered with 8005.
        public private(set) var informRetries = 0

        public init(configuration: Configuration = Configuration()) {
            self.configuration = configuration
            self.holdRequests = configuration.holdRequests
        }

        /// The current session's device and parameters, once an Inform arrived.
        public var info: Info? {
            switch state {
            case .informReceived(let pending): pending.info
            case .cpeTurn(let context), .handlingCPERequest(let context, _), .awaitingOwner(let context, _),
                .awaitingResponse(let context, _), .finished(let context):
                context.info
            case .awaitingInform, .ended: nil
            }
        }

        /// When the session expires unless the CPE posts again; nil when there is no session.
        public var deadline: Instant? {
            if case .ended = state { return nil }
            return lastActivity?.advanced(by: configuration.sessionTimeout)
        }

        /// True once the session is over (the owner should discard the machine).
        public var isEnded: Bool {
            if case .ended = state { true } else { false }
        }

        /// Why the session ended, once it has.
        public var endReason: EndReason? {
            if case .ended(let reason) = state { reason } else { nil }
        }

        /// True while an ACS request is outstanding.
        public var isAwaitingResponse: Bool {
            if case .awaitingResponse = state { true } else { false }
        }

        /// Tags of the queued (unsent) requests, in order.
        public var queuedTags: [Tag] { queue.map(\.tag) }

        // MARK: Owner events

        /// Queues a request; it is sent when the CPE's turn ends (empty POST) or the previous request
        /// completes. `tag` comes back with its outcome.
        public mutating func enqueue(_ request: ACSRequest, tag: Tag) {
            queue.append((tag, request))
        }

        /// Removes a queued request that was not sent yet; false when it is not queued.
        @discardableResult
        public mutating func removeQueued(tag: Tag) -> Bool {
            guard let index = queue.firstIndex(where: { $0.tag == tag }) else { return false }
            queue.remove(at: index)
            return true
        }

        /// Turns `cwmp:HoldRequests` on or off for the ACS's following messages (TR-069 A.2.1).
        public mutating func setHoldRequests(_ hold: Bool) {
            holdRequests = hold
        }

        // MARK: CPE events

        /// The CPE posted a decoded envelope.
        public mutating func received(_ envelope: CWMPEnvelope, at now: Instant) -> Action {
            lastActivity = now
            switch envelope.body {
            case .cpeRequest(.inform(let inform)):
                return receivedInform(inform, envelope: envelope)
            case .cpeRequest(let request):
                return receivedCPERequest(request, envelope: envelope)
            case .cpeResponse(let response):
                return receivedOutcome(.success(response), envelope: envelope)
            case .fault(let fault):
                return receivedOutcome(.failure(fault), envelope: envelope)
            case .unknownMethod(let name):
                return receivedUnknownMethod(name, envelope: envelope)
            case .acsRequest, .acsResponse:
                return violation(.wrongDirection(envelope.body.methodName))
            }
        }

        /// The CPE posted an empty body (TR-069 3.7.1.4: it has no more requests).
        public mutating func receivedEmptyPost(at now: Instant) -> Action {
            lastActivity = now
            switch state {
            case .awaitingInform, .ended:
                return violation(.messageBeforeInform("an empty POST"))
            case .cpeTurn(let context), .finished(let context):
                return nextRequest(context, asked: false)
            case .awaitingResponse(_, let inFlight):
                return violation(.responseMissing(expected: inFlight.request.methodName + "Response", received: "an empty POST"))
            case .informReceived, .handlingCPERequest, .awaitingOwner:
                return violation(.concurrentMessage("an empty POST"))
            }
        }

        /// The CPE posted a body that did not decode. A malformed CPE request is answered with fault
        /// 8003 (a malformed Inform also ends the session); a malformed response to the outstanding
        /// request is reported against it; anything else breaks the session.
        public mutating func receivedUndecodable(_ error: CWMPDecodingError, at now: Instant) -> Action {
            lastActivity = now
            let namespace = error.namespace ?? info?.namespace ?? .v1_0
            if error.method == "Inform" {
                let reply = faultEnvelope(.acsInvalidArguments, error.description, id: error.cwmpID, namespace: namespace)
                return close(reply, reason: .informRejected(.acsInvalidArguments))
            }
            if let method = error.method, CPERequest.methodNames.contains(method) {
                switch state {
                case .cpeTurn, .finished:
                    return .send(faultEnvelope(.acsInvalidArguments, error.description, id: error.cwmpID, namespace: namespace))
                default:
                    break
                }
            }
            if case .awaitingResponse(let context, let inFlight) = state, let method = error.method,
                method == inFlight.request.methodName + "Response" || method == "Fault",
                error.cwmpID == nil || error.cwmpID == inFlight.id
            {
                state = .awaitingOwner(context, asked: false)
                return .responseUndecodable(tag: inFlight.tag, request: inFlight.request, error: error)
            }
            return violation(.undecodable(error))
        }

        /// The owner's timer fired. Ends the session when its deadline has passed.
        public mutating func timedOut(at now: Instant) -> Action {
            guard let deadline else { return .nothing }
            guard now >= deadline else { return .wait(until: deadline) }
            let abandoned = abandonAll()
            state = .ended(.expired)
            return .expired(abandoned: abandoned)
        }

        // MARK: Inform (TR-069 A.3.3.1)

        private mutating func receivedInform(_ inform: CPERequest.Inform, envelope: CWMPEnvelope) -> Action {
            // A new Inform while a session is open: the CPE gave up on it (reconnected). The request
            // it never answered is abandoned; queued requests carry over to the new session.
            var abandoned = Abandoned.none
            switch state {
            case .awaitingResponse(_, let inFlight):
                abandoned.inFlight = inFlight.tag
                informRetries = 0
            case .cpeTurn, .handlingCPERequest, .awaitingOwner, .finished, .ended:
                informRetries = 0
            case .awaitingInform, .informReceived:
                break
            }

            var version: String?
            if let offered = envelope.supportedCWMPVersions {
                // CWMP 1.4: the ACS picks a version both support, or faults 8006.
                guard let common = Self.highestCommonVersion(offered, configuration.supportedVersions) else {
                    let reply = faultEnvelope(
                        .acsVersionIncompatible, "no common CWMP version (CPE supports \(offered.joined(separator: ",")))",
                        id: envelope.cwmpID, namespace: envelope.namespace)
                    return close(reply, reason: .versionIncompatible)
                }
                version = common
            }
            let info = Info(
                deviceID: inform.deviceID, namespace: envelope.namespace, cwmpVersion: version, cpeSessionTimeout: envelope.sessionTimeout,
                events: inform.events, retryCount: inform.retryCount)
            state = .informReceived(PendingInform(id: envelope.cwmpID, info: info))
            return .handleInform(inform, abandoned: abandoned)
        }

        /// Answers the Inform with InformResponse (MaxEnvelopes 1, TR-069 A.3.3.1), echoing its ID, in
        /// its namespace, with UseCWMPVersion when negotiated and HoldRequests when on.
        public mutating func acceptInform(at now: Instant) -> Action {
            guard case .informReceived(let pending) = state else { return invalidCall("acceptInform without a pending Inform") }
            informRetries = 0
            var reply = CWMPEnvelope(
                cwmpID: pending.id, useCWMPVersion: pending.info.cwmpVersion, namespace: pending.info.namespace,
                body: .acsResponse(.inform(maxEnvelopes: 1)))
            if holdRequests { reply.holdRequests = true }
            state = .cpeTurn(Context(info: pending.info))
            return .send(reply)
        }

        /// Faults the Inform. With 8005 (Retry request) the CPE retries the same Inform and the
        /// session waits for it; any other fault ends the session (TR-069 3.7.1.x, A.5).
        public mutating func rejectInform(_ code: CWMPFaultCode, message: String? = nil, at now: Instant) -> Action {
            guard case .informReceived(let pending) = state else { return invalidCall("rejectInform without a pending Inform") }
            let reply = faultEnvelope(code, message, id: pending.id, namespace: pending.info.namespace)
            if code == .acsRetryRequest {
                informRetries += 1
                state = .awaitingInform
                return .send(reply)
            }
            return close(reply, reason: .informRejected(code))
        }

        // MARK: CPE requests (TR-069 A.3.3, A.4.2)

        private mutating func receivedCPERequest(_ request: CPERequest, envelope: CWMPEnvelope) -> Action {
            switch state {
            case .awaitingInform, .ended:
                let reply = faultEnvelope(
                    .acsRequestDenied, "a session begins with an Inform", id: envelope.cwmpID, namespace: envelope.namespace)
                return close(reply, reason: .noInform)
            case .cpeTurn(var context), .finished(var context):
                if holdRequests {
                    // HoldRequests true forbids CPE requests (TR-069 A.2.1); the CPE keeps the request
                    // for a later POST.
                    return .send(faultEnvelope(.acsRequestDenied, "HoldRequests is in effect", id: envelope.cwmpID, namespace: context.info.namespace))
                }
                guard context.cpeRequests < configuration.maximumCPERequests else {
                    return .send(faultEnvelope(
                        .acsResourcesExceeded, "too many requests in one session", id: envelope.cwmpID, namespace: context.info.namespace))
                }
                context.cpeRequests += 1
                state = .handlingCPERequest(context, PendingCPERequest(id: envelope.cwmpID, request: request))
                return .handleCPERequest(request)
            case .awaitingResponse(_, let inFlight):
                return violation(.responseMissing(expected: inFlight.request.methodName + "Response", received: request.methodName))
            case .informReceived, .handlingCPERequest, .awaitingOwner:
                return violation(.concurrentMessage(request.methodName))
            }
        }

        /// Answers the CPE request being handled. A response of the wrong kind is an owner bug; the CPE
        /// gets fault 8002 instead.
        public mutating func answerCPERequest(_ response: ACSResponse, at now: Instant) -> Action {
            guard case .handlingCPERequest(let context, let pending) = state else {
                return invalidCall("answerCPERequest without a pending CPE request")
            }
            state = .cpeTurn(context)
            guard pending.request.isAnswered(by: response) else {
                return .send(faultEnvelope(
                    .acsInternalError, "\(response.methodName) does not answer \(pending.request.methodName)", id: pending.id,
                    namespace: context.info.namespace))
            }
            var reply = CWMPEnvelope(cwmpID: pending.id, namespace: context.info.namespace, body: .acsResponse(response))
            if holdRequests { reply.holdRequests = true }
            return .send(reply)
        }

        /// Faults the CPE request being handled (8000-8004, or 8005 to make the CPE retry it later).
        /// The session continues (TR-069 3.7.1.x: only a faulted Inform ends it).
        public mutating func faultCPERequest(_ code: CWMPFaultCode, message: String? = nil, at now: Instant) -> Action {
            guard case .handlingCPERequest(let context, let pending) = state else {
                return invalidCall("faultCPERequest without a pending CPE request")
            }
            state = .cpeTurn(context)
            return .send(faultEnvelope(code, message, id: pending.id, namespace: context.info.namespace))
        }

        private mutating func receivedUnknownMethod(_ name: String, envelope: CWMPEnvelope) -> Action {
            switch state {
            case .cpeTurn(let context), .finished(let context):
                return .send(faultEnvelope(.acsMethodNotSupported, "\(name) is not supported", id: envelope.cwmpID, namespace: context.info.namespace))
            case .awaitingInform, .ended:
                let reply = faultEnvelope(.acsMethodNotSupported, "\(name) is not supported", id: envelope.cwmpID, namespace: envelope.namespace)
                return close(reply, reason: .noInform)
            case .awaitingResponse(_, let inFlight):
                return violation(.wrongResponseType(expected: inFlight.request.methodName + "Response", received: name))
            case .informReceived, .handlingCPERequest, .awaitingOwner:
                return violation(.concurrentMessage(name))
            }
        }

        // MARK: ACS requests and their responses

        /// Continues after `.requestSucceeded`, `.requestFaulted` or `.needNextRequest`: sends the next
        /// queued request, asks for one, or ends the session with 204.
        public mutating func resume(at now: Instant) -> Action {
            guard case .awaitingOwner(let context, let asked) = state else { return invalidCall("resume while not waiting for the owner") }
            return nextRequest(context, asked: asked)
        }

        private mutating func nextRequest(_ context: Context, asked: Bool) -> Action {
            if !queue.isEmpty {
                let next = queue.removeFirst()
                requestCounter += 1
                let id = "\(configuration.idPrefix)-\(requestCounter)"
                state = .awaitingResponse(context, InFlight(id: id, tag: next.tag, request: next.request))
                var envelope = CWMPEnvelope(cwmpID: id, namespace: context.info.namespace, body: .acsRequest(next.request))
                if holdRequests { envelope.holdRequests = true }
                return .send(envelope)
            }
            if !asked {
                state = .awaitingOwner(context, asked: true)
                return .needNextRequest
            }
            state = .finished(context)
            return .endSession
        }

        private mutating func receivedOutcome(_ outcome: Result<CPEResponse, CWMPFault>, envelope: CWMPEnvelope) -> Action {
            let name = envelope.body.methodName
            switch state {
            case .awaitingResponse(let context, let inFlight):
                if let received = envelope.cwmpID {
                    guard received == inFlight.id else { return violation(.wrongResponseID(expected: inFlight.id, received: received)) }
                } else if configuration.requireResponseID {
                    return violation(.wrongResponseID(expected: inFlight.id, received: nil))
                }
                switch outcome {
                case .success(let response):
                    guard inFlight.request.isAnswered(by: response) else {
                        return violation(.wrongResponseType(expected: inFlight.request.methodName + "Response", received: name))
                    }
                    state = .awaitingOwner(context, asked: false)
                    return .requestSucceeded(tag: inFlight.tag, request: inFlight.request, response: response)
                case .failure(let fault):
                    state = .awaitingOwner(context, asked: false)
                    return .requestFaulted(tag: inFlight.tag, request: inFlight.request, fault: fault)
                }
            case .awaitingInform, .ended:
                return violation(.messageBeforeInform(name))
            case .cpeTurn, .finished:
                // TR-069 A.3.1: a response or fault only ever answers a request.
                return violation(.unexpectedResponse(name))
            case .informReceived, .handlingCPERequest, .awaitingOwner:
                return violation(.concurrentMessage(name))
            }
        }

        // MARK: Helpers

        private mutating func abandonAll() -> Abandoned {
            var abandoned = Abandoned(queued: queue.map(\.tag))
            if case .awaitingResponse(_, let inFlight) = state { abandoned.inFlight = inFlight.tag }
            queue.removeAll()
            return abandoned
        }

        private mutating func close(_ reply: CWMPEnvelope, reason: EndReason) -> Action {
            let abandoned = abandonAll()
            state = .ended(reason)
            return .sendAndClose(reply, reason: reason, abandoned: abandoned)
        }

        private mutating func violation(_ violation: Violation) -> Action {
            let abandoned = abandonAll()
            state = .ended(.violation(violation))
            return .reject(violation, abandoned: abandoned)
        }

        /// An owner call that does not fit the state changes nothing.
        private func invalidCall(_ what: String) -> Action {
            .reject(.invalidCall(what), abandoned: .none)
        }

        private func faultEnvelope(_ code: CWMPFaultCode, _ message: String?, id: String?, namespace: CWMPNamespace) -> CWMPEnvelope {
            CWMPEnvelope(cwmpID: id, namespace: namespace, body: .fault(CWMPFault(code: code, message: message)))
        }

        /// The highest version in both lists, compared numerically (`1.10` > `1.4`).
        public static func highestCommonVersion(_ offered: [String], _ supported: [String]) -> String? {
            func key(_ version: String) -> [Int] { version.split(separator: ".").map { Int($0) ?? -1 } }
            let common = offered.filter { candidate in supported.contains { key($0) == key(candidate) } }
            return common.max { key($0).lexicographicallyPrecedes(key($1)) }
        }
    }
}
