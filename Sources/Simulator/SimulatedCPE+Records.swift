import CWMP
import Foundation
import TandemCore

/// One CWMP session of a simulated device, as the device saw it.
public struct SessionRecord: Sendable, Hashable {
    /// How the session ended.
    public enum Outcome: Sendable, Hashable, CustomStringConvertible {
        /// The ACS ended it with an empty response (HTTP 204) to the empty POST.
        case completed
        /// HTTP failure, authentication refused, Inform faulted, timeout, ...
        case failed(SessionFailure)

        public var description: String {
            switch self {
            case .completed: "completed"
            case .failed(let failure): "failed: \(failure.message)"
            }
        }
    }

    /// One message exchange inside the session.
    public struct Exchange: Sendable, Hashable {
        /// The ACS request (nil for a CPE request or an unknown method).
        public var request: ACSRequest?
        /// The ACS request's method name, or the CPE request's (`TransferComplete`).
        public var method: String
        /// What the device answered; nil for a CPE request.
        public var response: CPEResponse?
        /// The fault the device answered with.
        public var fault: CWMPFault?
        /// True for a request the device sent (TransferComplete, DUStateChangeComplete).
        public var fromDevice: Bool
    }

    /// Counts from 1 over the device's life.
    public var number: Int
    public var events: [CWMPEvent]
    public var retryCount: UInt32
    /// The Inform's ParameterList.
    public var informParameters: [CWMPParameterValue]
    public var exchanges: [Exchange]
    public var outcome: Outcome
    public var startedAt: Date
    public var endedAt: Date
    /// The ACS URL the session ended at (after redirects).
    public var acsURL: String
    /// `Digest`, `Basic`, or nil when the ACS did not challenge.
    public var authenticationScheme: String?

    /// The ACS requests in order.
    public var acsRequests: [ACSRequest] { exchanges.compactMap(\.request) }

    /// The method names of the ACS requests, in order (`["GetParameterValues", "Reboot"]`).
    public var acsMethods: [String] { exchanges.filter { !$0.fromDevice }.map(\.method) }

    public var isCompleted: Bool { outcome == .completed }

    /// True when the Inform carried `code`.
    public func has(_ code: CWMPEventCode) -> Bool { events.contains { $0.code == code } }
}

extension SimulatedCPE {
    /// What the device is doing.
    public enum Phase: String, Sendable, Hashable {
        /// Not started, or its run ended.
        case stopped
        case idle
        case inSession
        /// The last session failed; waiting to retry (TR-069 3.2.1.1).
        case waitingToRetry
        /// Fetching or sending a file.
        case transferring
        case rebooting
    }

    /// A snapshot of a device's state and counters.
    public struct Status: Sendable, Hashable {
        public var serialNumber: String
        public var deviceID: CWMPDeviceID
        public var phase: Phase
        public var sessionsCompleted: Int
        public var sessionsFailed: Int
        /// Power-ons: 1 after start, +1 per reboot, firmware upgrade or factory reset.
        public var bootCount: Int
        /// False until a session carrying `0 BOOTSTRAP` completed (and again after a factory reset
        /// or an ACS URL change).
        public var bootstrapped: Bool
        /// Events waiting for the next session.
        public var pendingEvents: [CWMPEvent]
        public var softwareVersion: String
        public var parameterKey: String
        public var connectionRequestURL: String
        public var connectionRequestsAccepted: Int
        public var connectionRequestsRefused: Int
        /// The ACS request method names of the last completed session.
        public var lastACSMethods: [String]
        /// The last session failure, if the last session failed.
        public var lastFailure: String?
        /// Downloads and uploads queued or in progress.
        public var queuedTransfers: Int
        /// TransferComplete / DUStateChangeComplete requests waiting to be delivered.
        public var undeliveredRequests: Int
        /// `ManagementServer.EnableCWMP`: false means no Informs and no connection requests.
        public var cwmpEnabled: Bool
        /// The dual-stack device's USP agent (`.off` for a CWMP-only device).
        public var uspAgentState: USPAgentState
    }
}
