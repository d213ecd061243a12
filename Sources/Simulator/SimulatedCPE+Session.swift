import AsyncHTTPClient
import CWMP
import Foundation
import Logging
import TandemCore

/// The CPE side of one CWMP session (TR-069 3.7; protocol digest A.3): Inform, the device's own
/// requests, the empty POST, then one response per ACS request until the ACS answers 204.
extension SimulatedCPE {
    /// The most ACS requests one session may carry; an ACS looping forever ends the session.
    static let maximumRequestsPerSession = 10_000

    func performSession(client: HTTPClient) async -> SessionRecord {
        phase = .inSession
        sessionNumber += 1
        refreshDynamicValues()
        var events = pendingEvents
        if !changedParameters.isEmpty, !events.contains(where: { $0.code == .valueChange }) {
            events.append(CWMPEvent(code: .valueChange))
        }
        var parameters = model.forcedInformParameters
        if configuration.profile.variant == .tr098 {
            for name in TR098Model.extraInformParameters {
                if let parameter = model.parameter(name) { parameters.append(CWMPParameterValue(name: name, value: DataModel.visibleValue(parameter))) }
            }
        }
        for name in changedParameters where !parameters.contains(where: { $0.name == name }) {
            if let parameter = model.parameter(name) { parameters.append(CWMPParameterValue(name: name, value: DataModel.visibleValue(parameter))) }
        }
        let inform = CPERequest.Inform(
            deviceID: deviceID, events: events, maxEnvelopes: 1, currentTime: CWMPTime(DateTimeValue(Date())), retryCount: retryCount,
            parameters: parameters)
        let url = model.value(root + "ManagementServer.URL")?.lexical ?? ""
        var record = SessionRecord(
            number: sessionNumber, events: events, retryCount: retryCount, informParameters: parameters, exchanges: [], outcome: .completed,
            startedAt: Date(), endedAt: Date(), acsURL: url, authenticationScheme: nil)
        var connection = ACSConnection(
            client: client, url: url, username: model.value(root + "ManagementServer.Username")?.lexical ?? "",
            password: model.value(root + "ManagementServer.Password")?.lexical ?? "", timeout: configuration.httpTimeout, userAgent: userAgent)
        logger.debug("session \(sessionNumber) starting", metadata: ["events": "\(events.map(\.code.rawValue))", "acs": "\(url)"])
        do throws(SessionFailure) {
            try await exchangeMessages(inform: inform, connection: &connection, record: &record)
            record.outcome = .completed
        } catch {
            record.outcome = .failed(error)
        }
        record.endedAt = Date()
        record.acsURL = connection.url
        record.authenticationScheme = connection.authenticationScheme
        return record
    }

    private func exchangeMessages(
        inform: CPERequest.Inform, connection: inout ACSConnection, record: inout SessionRecord
    ) async throws(SessionFailure) {
        // The Inform; re-sent as it was on fault 8005 (Retry request), at most three times.
        var holdRequests = false
        var attempts = 0
        informing: while true {
            attempts += 1
            switch try await connection.post(encode(.cpeRequest(.inform(inform)), isInform: true)) {
            case .envelope(let envelope):
                switch envelope.body {
                case .acsResponse(.inform):
                    holdRequests = envelope.holdRequests ?? false
                    break informing
                case .fault(let fault) where fault.code == .acsRetryRequest && attempts < 3:
                    continue
                case .fault(let fault):
                    throw SessionFailure("the ACS faulted the Inform: \(fault)")
                default:
                    throw SessionFailure("the ACS answered the Inform with \(envelope.body.methodName)")
                }
            case .empty:
                throw SessionFailure("the ACS answered the Inform with an empty response")
            case .undecodable(let error):
                throw SessionFailure("undecodable answer to the Inform: \(error)")
            }
        }

        // The device's own requests (unless held), then the empty POST, then the ACS's requests.
        var queue = undelivered
        var awaiting: CPERequest?
        var outgoing: [UInt8]?
        func nextOutgoing() {
            if !holdRequests, let request = queue.first {
                awaiting = request
                outgoing = encode(.cpeRequest(request))
            } else {
                awaiting = nil
                outgoing = nil
            }
        }
        func delivered(_ request: CPERequest, fault: CWMPFault?) {
            queue.removeFirst()
            if let index = undelivered.firstIndex(of: request) { undelivered.remove(at: index) }
            record.exchanges.append(.init(request: nil, method: request.methodName, response: nil, fault: fault, fromDevice: true))
        }
        nextOutgoing()
        var handled = 0
        while true {
            switch try await connection.post(outgoing) {
            case .empty:
                return
            case .undecodable(let error):
                // A request the device cannot read gets fault 9003 echoing its ID; anything else
                // ends the session.
                guard let method = error.method, ACSRequest.methodNames.contains(method) else {
                    throw SessionFailure("undecodable message from the ACS: \(error)")
                }
                let fault = CWMPFault(code: .invalidArguments, message: String(error.message.prefix(200)))
                record.exchanges.append(.init(request: nil, method: method, response: nil, fault: fault, fromDevice: false))
                outgoing = encode(.fault(fault), id: error.cwmpID, namespace: error.namespace)
                awaiting = nil
            case .envelope(let envelope):
                if let hold = envelope.holdRequests { holdRequests = hold }
                switch envelope.body {
                case .acsRequest(let request):
                    handled += 1
                    guard handled <= Self.maximumRequestsPerSession else {
                        throw SessionFailure("more than \(Self.maximumRequestsPerSession) ACS requests in one session")
                    }
                    let body: CWMPBody
                    switch handle(request) {
                    case .success(let response):
                        body = .cpeResponse(response)
                        record.exchanges.append(.init(request: request, method: request.methodName, response: response, fault: nil, fromDevice: false))
                    case .failure(let fault):
                        body = .fault(fault)
                        record.exchanges.append(.init(request: request, method: request.methodName, response: nil, fault: fault, fromDevice: false))
                    }
                    outgoing = encode(body, id: envelope.cwmpID, namespace: envelope.namespace)
                    awaiting = nil
                case .unknownMethod(let name):
                    let fault = CWMPFault(code: .methodNotSupported, message: "\(name) is not supported")
                    record.exchanges.append(.init(request: nil, method: name, response: nil, fault: fault, fromDevice: false))
                    outgoing = encode(.fault(fault), id: envelope.cwmpID, namespace: envelope.namespace)
                    awaiting = nil
                case .acsResponse(let response):
                    if let request = awaiting, request.isAnswered(by: response) { delivered(request, fault: nil) }
                    nextOutgoing()
                case .fault(let fault):
                    // 8005 asks for the same request again; any other fault drops it.
                    if let request = awaiting, fault.code != .acsRetryRequest { delivered(request, fault: fault) }
                    if fault.code != .acsRetryRequest || awaiting == nil { nextOutgoing() }
                case .cpeRequest, .cpeResponse:
                    nextOutgoing()
                }
            }
        }
    }

    /// Encodes a message of this device: a new `cwmp:ID` for its requests, the request's ID for a
    /// response, the device's namespace unless answering in the ACS's.
    func encode(_ body: CWMPBody, id: String? = nil, namespace: CWMPNamespace? = nil, isInform: Bool = false) -> [UInt8] {
        var cwmpID = id
        if cwmpID == nil, case .cpeRequest = body {
            cwmpID = "\(serialNumber)-\(nextMessageID)"
            nextMessageID += 1
        }
        var envelope = CWMPEnvelope(cwmpID: cwmpID, namespace: namespace ?? configuration.namespace, body: body)
        if isInform { envelope.supportedCWMPVersions = configuration.supportedCWMPVersions }
        return CWMPEncoder(options: configuration.encoderOptions).encode(envelope)
    }
}
