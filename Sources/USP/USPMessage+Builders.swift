import TandemCore

/// Builders for the Messages a Controller sends, and accessors for what Agents send.
extension USPMessage {
    /// Get of `paths`; `maxDepth` 0 returns whole subtrees.
    public static func get(id: String, paths: [String], maxDepth: UInt32 = 0) -> USPMessage {
        USPMessage(id: id, request: .get(USPGet(paramPaths: paths, maxDepth: maxDepth)))
    }

    /// Set of parameters grouped by object.
    public static func set(id: String, allowPartial: Bool = false, objects: [USPSet.UpdateObject]) -> USPMessage {
        USPMessage(id: id, request: .set(USPSet(allowPartial: allowPartial, updateObjects: objects)))
    }

    /// Add of instances to tables.
    public static func add(id: String, allowPartial: Bool = false, objects: [USPAdd.CreateObject]) -> USPMessage {
        USPMessage(id: id, request: .add(USPAdd(allowPartial: allowPartial, createObjects: objects)))
    }

    /// Delete of object instances.
    public static func delete(id: String, allowPartial: Bool = false, objectPaths: [String]) -> USPMessage {
        USPMessage(id: id, request: .delete(USPDelete(allowPartial: allowPartial, objectPaths: objectPaths)))
    }

    /// Operate of a command such as `Device.Reboot()` or
    /// `Device.DeviceInfo.FirmwareImage.2.Download()`.
    public static func operate(
        id: String, command: String, commandKey: String = "", sendResponse: Bool = true, inputArguments: [String: String] = [:]
    ) -> USPMessage {
        USPMessage(
            id: id,
            request: .operate(USPOperate(command: command, commandKey: commandKey, sendResponse: sendResponse, inputArguments: inputArguments)))
    }

    /// GetSupportedDM of `objectPaths` (commands, events and parameters by default).
    public static func getSupportedDM(
        id: String, objectPaths: [String], firstLevelOnly: Bool = false, returnCommands: Bool = true, returnEvents: Bool = true,
        returnParameters: Bool = true, returnUniqueKeySets: Bool = false
    ) -> USPMessage {
        USPMessage(
            id: id,
            request: .getSupportedDM(
                USPGetSupportedDM(
                    objectPaths: objectPaths, firstLevelOnly: firstLevelOnly, returnCommands: returnCommands,
                    returnEvents: returnEvents, returnParameters: returnParameters, returnUniqueKeySets: returnUniqueKeySets)))
    }

    /// GetInstances of `objectPaths`.
    public static func getInstances(id: String, objectPaths: [String], firstLevelOnly: Bool = false) -> USPMessage {
        USPMessage(id: id, request: .getInstances(USPGetInstances(objectPaths: objectPaths, firstLevelOnly: firstLevelOnly)))
    }

    /// GetSupportedProtocol announcing the versions Tandem speaks.
    public static func getSupportedProtocol(id: String, versions: [String] = USPRecord.supportedProtocolVersions) -> USPMessage {
        USPMessage(id: id, request: .getSupportedProtocol(USPGetSupportedProtocol(controllerSupportedVersions: versions)))
    }

    /// The NotifyResp for a Notify: same `msg_id` (R-MSG.9), the Notify's `subscription_id`
    /// echoed (R-NOT.10). Nil when `notify` is not a Notify, or when its `send_resp` is false and
    /// the Controller should stay silent (R-NOT.8).
    public static func notifyResponse(answering notify: USPMessage) -> USPMessage? {
        guard case .request(.notify(let request)) = notify.body, request.sendResponse else { return nil }
        return USPMessage(id: notify.id, response: .notifyResponse(USPNotifyResponse(subscriptionID: request.subscriptionID)))
    }

    /// RegisterResp (Broker side, USP 1.3).
    public static func registerResponse(id: String, results: [USPRegisterResponse.RegisteredPathResult]) -> USPMessage {
        USPMessage(id: id, response: .registerResponse(USPRegisterResponse(results: results)))
    }

    /// DeregisterResp (Broker side); always sent, never an Error (R-DEREG.4).
    public static func deregisterResponse(id: String, results: [USPDeregisterResponse.DeregisteredPathResult]) -> USPMessage {
        USPMessage(id: id, response: .deregisterResponse(USPDeregisterResponse(results: results)))
    }

    /// An Error message answering the request with `id` (R-MSG.9, R-MTP.5).
    public static func error(id: String, code: USPErrorCode, message: String = "", parameterErrors: [USPPathError] = []) -> USPMessage {
        USPMessage(id: id, error: USPErrorMessage(code: code, message: message.isEmpty ? code.name : message, parameterErrors: parameterErrors))
    }

    /// The request, when the body is one.
    public var request: Request? {
        if case .request(let request) = body { request } else { nil }
    }

    /// The response, when the body is one.
    public var response: Response? {
        if case .response(let response) = body { response } else { nil }
    }

    /// The Error, when the body is one.
    public var error: USPErrorMessage? {
        if case .error(let error) = body { error } else { nil }
    }

    /// The Notify, when the body is one.
    public var notify: USPNotify? {
        if case .request(.notify(let notify)) = body { notify } else { nil }
    }
}
