import TandemCore

/// GetResp: per requested path, an error or the objects it resolved to with their parameters.
public struct USPGetResponse: Hashable, Sendable {
    public var results: [RequestedPathResult]

    /// `GetResp.RequestedPathResult`.
    public struct RequestedPathResult: Hashable, Sendable {
        public var requestedPath: String
        /// Set when `err_code` is non-zero (for example 7026 for an unknown path, R-GET.0).
        public var failure: USPFailure?
        /// One entry per object instance; a search path matching nothing gives none (R-MSG.4a).
        public var resolvedPaths: [ResolvedPathResult]

        public init(requestedPath: String, failure: USPFailure? = nil, resolvedPaths: [ResolvedPathResult] = []) {
            self.requestedPath = requestedPath
            self.failure = failure
            self.resolvedPaths = resolvedPaths
        }
    }

    /// `GetResp.ResolvedPathResult`: an object path and its parameters, by name relative to it.
    public struct ResolvedPathResult: Hashable, Sendable {
        public var resolvedPath: String
        public var parameters: [String: String]

        public init(resolvedPath: String, parameters: [String: String]) {
            self.resolvedPath = resolvedPath
            self.parameters = parameters
        }
    }

    public init(results: [RequestedPathResult]) {
        self.results = results
    }
}

/// SetResp: per object of the request, the instances updated or the failure.
public struct USPSetResponse: Hashable, Sendable {
    public var results: [UpdatedObjectResult]

    /// `SetResp.UpdatedObjectResult`.
    public struct UpdatedObjectResult: Hashable, Sendable {
        public var requestedPath: String
        public var status: Status

        public init(requestedPath: String, status: Status) {
            self.requestedPath = requestedPath
            self.status = status
        }
    }

    /// `OperationStatus.oper_status`.
    public enum Status: Hashable, Sendable {
        case success([UpdatedInstance])
        case failure(USPFailure, instanceFailures: [InstanceFailure])
    }

    /// `SetResp.UpdatedInstanceResult`: the parameters written, and the non-required ones that
    /// failed.
    public struct UpdatedInstance: Hashable, Sendable {
        public var affectedPath: String
        public var parameterErrors: [USPPathError]
        public var updatedParameters: [String: String]

        public init(affectedPath: String, parameterErrors: [USPPathError] = [], updatedParameters: [String: String]) {
            self.affectedPath = affectedPath
            self.parameterErrors = parameterErrors
            self.updatedParameters = updatedParameters
        }
    }

    /// `SetResp.UpdatedInstanceFailure`.
    public struct InstanceFailure: Hashable, Sendable {
        public var affectedPath: String
        public var parameterErrors: [USPPathError]

        public init(affectedPath: String, parameterErrors: [USPPathError]) {
            self.affectedPath = affectedPath
            self.parameterErrors = parameterErrors
        }
    }

    public init(results: [UpdatedObjectResult]) {
        self.results = results
    }
}

/// AddResp: per object of the request, the instance created or the failure.
public struct USPAddResponse: Hashable, Sendable {
    public var results: [CreatedObjectResult]

    /// `AddResp.CreatedObjectResult`.
    public struct CreatedObjectResult: Hashable, Sendable {
        public var requestedPath: String
        public var status: Status

        public init(requestedPath: String, status: Status) {
            self.requestedPath = requestedPath
            self.status = status
        }
    }

    public enum Status: Hashable, Sendable {
        case success(Created)
        case failure(USPFailure)
    }

    /// `OperationStatus.OperationSuccess`.
    public struct Created: Hashable, Sendable {
        /// `Device.WiFi.SSID.3.`
        public var instantiatedPath: String
        public var parameterErrors: [USPPathError]
        /// Including the keys the Agent chose itself (R-ADD.5).
        public var uniqueKeys: [String: String]

        public init(instantiatedPath: String, parameterErrors: [USPPathError] = [], uniqueKeys: [String: String] = [:]) {
            self.instantiatedPath = instantiatedPath
            self.parameterErrors = parameterErrors
            self.uniqueKeys = uniqueKeys
        }
    }

    public init(results: [CreatedObjectResult]) {
        self.results = results
    }
}

/// DeleteResp: per path of the request, the instances removed or the failure.
public struct USPDeleteResponse: Hashable, Sendable {
    public var results: [DeletedObjectResult]

    /// `DeleteResp.DeletedObjectResult`.
    public struct DeletedObjectResult: Hashable, Sendable {
        public var requestedPath: String
        public var status: Status

        public init(requestedPath: String, status: Status) {
            self.requestedPath = requestedPath
            self.status = status
        }
    }

    public enum Status: Hashable, Sendable {
        case success(affectedPaths: [String], unaffectedPathErrors: [USPPathError])
        case failure(USPFailure)
    }

    public init(results: [DeletedObjectResult]) {
        self.results = results
    }
}

/// OperateResp: per command executed, its output, its failure, or the Request object tracking
/// an asynchronous run.
public struct USPOperateResponse: Hashable, Sendable {
    public var results: [CommandResult]

    /// `OperateResp.OperationResult`.
    public struct CommandResult: Hashable, Sendable {
        public var executedCommand: String
        public var outcome: Outcome

        public init(executedCommand: String, outcome: Outcome) {
            self.executedCommand = executedCommand
            self.outcome = outcome
        }
    }

    /// `OperationResult.operation_resp`.
    public enum Outcome: Hashable, Sendable {
        /// Asynchronous: `Device.LocalAgent.Request.{i}.`, removed on completion; the result comes
        /// in a Notify OperationComplete (R-OPR.0).
        case requestObject(String)
        /// Synchronous completion with output arguments.
        case outputArguments([String: String])
        /// `cmd_failure` (R-OPR.1, R-OPR.5).
        case failure(USPFailure)
    }

    public init(results: [CommandResult]) {
        self.results = results
    }
}

/// GetSupportedDMResp: the supported data model under each requested path.
public struct USPGetSupportedDMResponse: Hashable, Sendable {
    public var results: [RequestedObjectResult]

    /// `GetSupportedDMResp.RequestedObjectResult`.
    public struct RequestedObjectResult: Hashable, Sendable {
        public var requestedPath: String
        public var failure: USPFailure?
        /// URI of the data model the Agent implements under this path.
        public var dataModelInstanceURI: String
        public var supportedObjects: [SupportedObject]

        public init(requestedPath: String, failure: USPFailure? = nil, dataModelInstanceURI: String = "", supportedObjects: [SupportedObject] = []) {
            self.requestedPath = requestedPath
            self.failure = failure
            self.dataModelInstanceURI = dataModelInstanceURI
            self.supportedObjects = supportedObjects
        }
    }

    /// `GetSupportedDMResp.SupportedObjectResult`; `path` uses `{i}` for instances.
    public struct SupportedObject: Hashable, Sendable {
        public var path: String
        public var access: ObjectAccess
        public var isMultiInstance: Bool
        public var commands: [SupportedCommand]
        public var events: [SupportedEvent]
        public var parameters: [SupportedParameter]
        /// Paths below this object whose supported model differs per instance (USP 1.2).
        public var divergentPaths: [String]
        /// USP 1.4: the unique key sets of a table.
        public var uniqueKeySets: [[String]]

        public init(
            path: String, access: ObjectAccess = .readOnly, isMultiInstance: Bool = false, commands: [SupportedCommand] = [],
            events: [SupportedEvent] = [], parameters: [SupportedParameter] = [], divergentPaths: [String] = [],
            uniqueKeySets: [[String]] = []
        ) {
            self.path = path
            self.access = access
            self.isMultiInstance = isMultiInstance
            self.commands = commands
            self.events = events
            self.parameters = parameters
            self.divergentPaths = divergentPaths
            self.uniqueKeySets = uniqueKeySets
        }
    }

    /// `SupportedParamResult`.
    public struct SupportedParameter: Hashable, Sendable {
        public var name: String
        public var access: ParameterAccess
        /// Nil for `PARAM_UNKNOWN`, which pre-1.2 Agents send.
        public var valueType: ValueType?
        public var valueChange: ValueChangeSupport

        public init(name: String, access: ParameterAccess = .readOnly, valueType: ValueType? = nil, valueChange: ValueChangeSupport = .unknown) {
            self.name = name
            self.access = access
            self.valueType = valueType
            self.valueChange = valueChange
        }
    }

    /// `SupportedCommandResult`.
    public struct SupportedCommand: Hashable, Sendable {
        /// `Reboot()`
        public var name: String
        public var inputArgumentNames: [String]
        public var outputArgumentNames: [String]
        public var type: CommandType

        public init(name: String, inputArgumentNames: [String] = [], outputArgumentNames: [String] = [], type: CommandType = .unknown) {
            self.name = name
            self.inputArgumentNames = inputArgumentNames
            self.outputArgumentNames = outputArgumentNames
            self.type = type
        }
    }

    /// `SupportedEventResult`.
    public struct SupportedEvent: Hashable, Sendable {
        /// `Boot!`
        public var name: String
        public var argumentNames: [String]

        public init(name: String, argumentNames: [String] = []) {
            self.name = name
            self.argumentNames = argumentNames
        }
    }

    /// `ObjAccessType`.
    public enum ObjectAccess: Int, Hashable, Sendable, CaseIterable {
        case readOnly = 0
        case addDelete = 1
        case addOnly = 2
        case deleteOnly = 3
    }

    /// `ParamAccessType`.
    public enum ParameterAccess: Int, Hashable, Sendable, CaseIterable {
        case readOnly = 0
        case readWrite = 1
        case writeOnly = 2

        public var isWritable: Bool { self != .readOnly }
    }

    /// `ValueChangeType`: whether a ValueChange subscription on the parameter works.
    public enum ValueChangeSupport: Int, Hashable, Sendable, CaseIterable {
        case unknown = 0
        case allowed = 1
        case willIgnore = 2
    }

    /// `CmdType`.
    public enum CommandType: Int, Hashable, Sendable, CaseIterable {
        case unknown = 0
        case sync = 1
        case async = 2
    }

    public init(results: [RequestedObjectResult]) {
        self.results = results
    }
}

/// GetInstancesResp: the instances under each requested path.
public struct USPGetInstancesResponse: Hashable, Sendable {
    public var results: [RequestedPathResult]

    /// `GetInstancesResp.RequestedPathResult`.
    public struct RequestedPathResult: Hashable, Sendable {
        public var requestedPath: String
        public var failure: USPFailure?
        public var instances: [Instance]

        public init(requestedPath: String, failure: USPFailure? = nil, instances: [Instance] = []) {
            self.requestedPath = requestedPath
            self.failure = failure
            self.instances = instances
        }
    }

    /// `GetInstancesResp.CurrInstance`.
    public struct Instance: Hashable, Sendable {
        public var path: String
        public var uniqueKeys: [String: String]

        public init(path: String, uniqueKeys: [String: String] = [:]) {
            self.path = path
            self.uniqueKeys = uniqueKeys
        }
    }

    public init(results: [RequestedPathResult]) {
        self.results = results
    }
}

/// GetSupportedProtocolResp.
public struct USPGetSupportedProtocolResponse: Hashable, Sendable {
    /// `agent_supported_protocol_versions`, comma-separated on the wire.
    public var agentSupportedVersions: [String]

    public init(agentSupportedVersions: [String]) {
        self.agentSupportedVersions = agentSupportedVersions
    }
}

/// NotifyResp (Controller → Agent).
public struct USPNotifyResponse: Hashable, Sendable {
    /// The Notify's `subscription_id`, echoed (R-NOT.10).
    public var subscriptionID: String

    public init(subscriptionID: String) {
        self.subscriptionID = subscriptionID
    }
}

/// RegisterResp (Broker → USP Service).
public struct USPRegisterResponse: Hashable, Sendable {
    public var results: [RegisteredPathResult]

    /// `RegisterResp.RegisteredPathResult`.
    public struct RegisteredPathResult: Hashable, Sendable {
        public var requestedPath: String
        public var status: Status

        public init(requestedPath: String, status: Status) {
            self.requestedPath = requestedPath
            self.status = status
        }
    }

    public enum Status: Hashable, Sendable {
        case success(registeredPath: String)
        case failure(USPFailure)
    }

    public init(results: [RegisteredPathResult]) {
        self.results = results
    }
}

/// DeregisterResp (Broker → USP Service); always sent, never an Error (R-DEREG.4).
public struct USPDeregisterResponse: Hashable, Sendable {
    public var results: [DeregisteredPathResult]

    /// `DeregisterResp.DeregisteredPathResult`.
    public struct DeregisteredPathResult: Hashable, Sendable {
        public var requestedPath: String
        public var status: Status

        public init(requestedPath: String, status: Status) {
            self.requestedPath = requestedPath
            self.status = status
        }
    }

    public enum Status: Hashable, Sendable {
        case success(deregisteredPaths: [String])
        case failure(USPFailure)
    }

    public init(results: [DeregisteredPathResult]) {
        self.results = results
    }
}

/// The Error message: the request failed as a whole (for example a holistic Set with
/// `allow_partial` false), with per-parameter detail.
public struct USPErrorMessage: Hashable, Sendable, CustomStringConvertible {
    public var code: USPErrorCode
    public var message: String
    public var parameterErrors: [USPPathError]

    public init(code: USPErrorCode, message: String = "", parameterErrors: [USPPathError] = []) {
        self.code = code
        self.message = message
        self.parameterErrors = parameterErrors
    }

    /// The failure of the whole request, in the neutral shape.
    public var fault: Fault {
        var text = message.isEmpty ? code.name : message
        if !parameterErrors.isEmpty {
            text += " [" + parameterErrors.map(\.description).joined(separator: "; ") + "]"
        }
        return Fault(usp: code, message: text)
    }

    /// The per-parameter errors as path results.
    public var pathResults: [PathResult] {
        parameterErrors.map { PathResult(path: $0.path, outcome: .fault($0.fault)) }
    }

    public var description: String { fault.description }
}
