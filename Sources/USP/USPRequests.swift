import TandemCore

/// Get (Controller → Agent): read parameters of objects, partial paths and search paths.
public struct USPGet: Hashable, Sendable {
    public var paramPaths: [String]
    /// Levels below each path to return; 0 returns the whole subtree (USP 1.2).
    public var maxDepth: UInt32

    public init(paramPaths: [String], maxDepth: UInt32 = 0) {
        self.paramPaths = paramPaths
        self.maxDepth = maxDepth
    }
}

/// Set (Controller → Agent): write parameters, grouped by object.
public struct USPSet: Hashable, Sendable {
    /// False: all objects succeed or the Agent answers with an Error and changes nothing; true: each
    /// object stands alone (R-SET.2).
    public var allowPartial: Bool
    public var updateObjects: [UpdateObject]

    /// `Set.UpdateObject`: one object (or search path) and its parameters.
    public struct UpdateObject: Hashable, Sendable {
        public var objectPath: String
        public var settings: [USPParameterSetting]

        public init(objectPath: String, settings: [USPParameterSetting]) {
            self.objectPath = objectPath
            self.settings = settings
        }
    }

    public init(allowPartial: Bool = false, updateObjects: [UpdateObject]) {
        self.allowPartial = allowPartial
        self.updateObjects = updateObjects
    }
}

/// Add (Controller → Agent): create table instances with initial values.
public struct USPAdd: Hashable, Sendable {
    public var allowPartial: Bool
    public var createObjects: [CreateObject]

    /// `Add.CreateObject`: the table path (`Device.WiFi.SSID.`) and the new instance's parameters.
    public struct CreateObject: Hashable, Sendable {
        public var objectPath: String
        public var settings: [USPParameterSetting]

        public init(objectPath: String, settings: [USPParameterSetting] = []) {
            self.objectPath = objectPath
            self.settings = settings
        }
    }

    public init(allowPartial: Bool = false, createObjects: [CreateObject]) {
        self.allowPartial = allowPartial
        self.createObjects = createObjects
    }
}

/// Delete (Controller → Agent): remove object instances.
public struct USPDelete: Hashable, Sendable {
    public var allowPartial: Bool
    public var objectPaths: [String]

    public init(allowPartial: Bool = false, objectPaths: [String]) {
        self.allowPartial = allowPartial
        self.objectPaths = objectPaths
    }
}

/// Operate (Controller → Agent): run a command (`Device.Reboot()`).
public struct USPOperate: Hashable, Sendable {
    public var command: String
    /// Echoed in the OperationComplete notification of an asynchronous command.
    public var commandKey: String
    /// Whether the Agent should answer with OperateResp (R-OPR.4).
    public var sendResponse: Bool
    public var inputArguments: [String: String]

    public init(command: String, commandKey: String = "", sendResponse: Bool = true, inputArguments: [String: String] = [:]) {
        self.command = command
        self.commandKey = commandKey
        self.sendResponse = sendResponse
        self.inputArguments = inputArguments
    }
}

/// GetSupportedDM (Controller → Agent): read the supported data model (schema, not instances).
public struct USPGetSupportedDM: Hashable, Sendable {
    public var objectPaths: [String]
    public var firstLevelOnly: Bool
    public var returnCommands: Bool
    public var returnEvents: Bool
    public var returnParameters: Bool
    /// USP 1.4.
    public var returnUniqueKeySets: Bool

    public init(
        objectPaths: [String], firstLevelOnly: Bool = false, returnCommands: Bool = true, returnEvents: Bool = true,
        returnParameters: Bool = true, returnUniqueKeySets: Bool = false
    ) {
        self.objectPaths = objectPaths
        self.firstLevelOnly = firstLevelOnly
        self.returnCommands = returnCommands
        self.returnEvents = returnEvents
        self.returnParameters = returnParameters
        self.returnUniqueKeySets = returnUniqueKeySets
    }
}

/// GetInstances (Controller → Agent): list the instances of tables, with their unique keys.
public struct USPGetInstances: Hashable, Sendable {
    public var objectPaths: [String]
    public var firstLevelOnly: Bool

    public init(objectPaths: [String], firstLevelOnly: Bool = false) {
        self.objectPaths = objectPaths
        self.firstLevelOnly = firstLevelOnly
    }
}

/// GetSupportedProtocol (Controller → Agent): exchange the USP versions each side speaks.
public struct USPGetSupportedProtocol: Hashable, Sendable {
    /// `controller_supported_protocol_versions`, a comma-separated list on the wire.
    public var controllerSupportedVersions: [String]

    public init(controllerSupportedVersions: [String] = USPRecord.supportedProtocolVersions) {
        self.controllerSupportedVersions = controllerSupportedVersions
    }
}

/// Notify (Agent → Controller): a subscribed event, value change, object creation or deletion,
/// asynchronous command completion, or an OnBoardRequest.
public struct USPNotify: Hashable, Sendable {
    /// `Device.LocalAgent.Subscription.{i}.ID`; empty for OnBoardRequest. The NotifyResp echoes it
    /// (R-NOT.10).
    public var subscriptionID: String
    /// Whether the Agent wants a NotifyResp; when false the Controller does not answer (R-NOT.8).
    public var sendResponse: Bool
    public var notification: Notification

    /// `Notify.notification`.
    public enum Notification: Hashable, Sendable {
        case event(Event)
        case valueChange(ValueChange)
        case objectCreation(ObjectCreation)
        case objectDeletion(objectPath: String)
        case operationComplete(OperationComplete)
        case onBoardRequest(OnBoardRequest)
    }

    /// `Notify.Event`, e.g. `Device.` / `Boot!` with `CommandKey`, `Cause`, `FirmwareUpdated`,
    /// `ParameterMap`.
    public struct Event: Hashable, Sendable {
        public var objectPath: String
        public var eventName: String
        /// The proto field is `params` (3); TR-369 prose calls it "parameters".
        public var parameters: [String: String]

        public init(objectPath: String, eventName: String, parameters: [String: String] = [:]) {
            self.objectPath = objectPath
            self.eventName = eventName
            self.parameters = parameters
        }
    }

    /// `Notify.ValueChange`.
    public struct ValueChange: Hashable, Sendable {
        public var parameterPath: String
        public var value: String

        public init(parameterPath: String, value: String) {
            self.parameterPath = parameterPath
            self.value = value
        }
    }

    /// `Notify.ObjectCreation`.
    public struct ObjectCreation: Hashable, Sendable {
        public var objectPath: String
        public var uniqueKeys: [String: String]

        public init(objectPath: String, uniqueKeys: [String: String] = [:]) {
            self.objectPath = objectPath
            self.uniqueKeys = uniqueKeys
        }
    }

    /// `Notify.OperationComplete`: the end of an asynchronous Operate.
    public struct OperationComplete: Hashable, Sendable {
        public var objectPath: String
        public var commandName: String
        public var commandKey: String
        public var outcome: Outcome

        /// `OperationComplete.operation_resp`.
        public enum Outcome: Hashable, Sendable {
            case outputArguments([String: String])
            case failure(USPFailure)
        }

        public init(objectPath: String, commandName: String, commandKey: String, outcome: Outcome) {
            self.objectPath = objectPath
            self.commandName = commandName
            self.commandKey = commandKey
            self.outcome = outcome
        }

        /// The full command path (`Device.DeviceInfo.FirmwareImage.2.Download()`).
        public var commandPath: String { objectPath + commandName }
    }

    /// `Notify.OnBoardRequest`: always sent with `send_resp` true and retried until answered
    /// (R-NOT.6, R-NOT.6a).
    public struct OnBoardRequest: Hashable, Sendable {
        public var oui: String
        public var productClass: String
        public var serialNumber: String
        /// `agent_supported_protocol_versions`, comma-separated on the wire.
        public var agentSupportedVersions: [String]

        public init(oui: String, productClass: String, serialNumber: String, agentSupportedVersions: [String]) {
            self.oui = oui
            self.productClass = productClass
            self.serialNumber = serialNumber
            self.agentSupportedVersions = agentSupportedVersions
        }
    }

    public init(subscriptionID: String, sendResponse: Bool, notification: Notification) {
        self.subscriptionID = subscriptionID
        self.sendResponse = sendResponse
        self.notification = notification
    }
}

/// Register (USP Service → Broker, USP 1.3): claim data model paths.
public struct USPRegister: Hashable, Sendable {
    public var allowPartial: Bool
    /// Object, command, event or parameter paths without instance numbers (R-REG.2).
    public var paths: [String]

    public init(allowPartial: Bool = false, paths: [String]) {
        self.allowPartial = allowPartial
        self.paths = paths
    }
}

/// Deregister (USP Service → Broker, USP 1.3): give paths back; an empty path means all
/// (R-DEREG.2).
public struct USPDeregister: Hashable, Sendable {
    public var paths: [String]

    public init(paths: [String]) {
        self.paths = paths
    }
}
