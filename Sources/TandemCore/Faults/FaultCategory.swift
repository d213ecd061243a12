/// The protocol-neutral family of a failure. CWMP fault codes (TR-069 A.5) and USP error codes
/// (TR-369 section 6.6) both map onto these, so that an operator, a policy or a script can react to
/// "the value was refused" without knowing which protocol refused it.
public enum FaultCategory: String, Hashable, Sendable, CaseIterable, Codable {
    /// The device does not implement the method or message.
    case notSupported
    /// The device refused without a more specific reason.
    case requestDenied
    /// The device (or Tandem) failed internally.
    case internalError
    /// Arguments were malformed or inconsistent.
    case invalidArguments
    /// The device ran out of resources.
    case resourcesExceeded
    /// The path does not exist or is not supported.
    case invalidPath
    /// The value has the wrong type.
    case invalidType
    /// The value is out of range or otherwise refused.
    case invalidValue
    /// The parameter is read-only.
    case notWritable
    /// Access control refused the request.
    case permissionDenied
    /// An object could not be created, updated or deleted.
    case objectFailure
    /// A command (USP Operate, CWMP diagnostics) failed.
    case commandFailure
    /// A file transfer failed.
    case transferFailure
    /// Software-module (deployment unit) management failed.
    case deploymentUnitFailure
    /// The device could not be reached or did not answer in time.
    case unreachable
    /// The request was cancelled before it completed.
    case cancelled
    /// Protocol-level breakage: a malformed message, a record error, a session problem.
    case protocolError
    /// A vendor-specific code.
    case vendor
    /// A code this version of Tandem does not know.
    case unknown
}
