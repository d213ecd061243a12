import SwiftProtobuf
import TandemCore

extension USPMessage {
    /// Decodes a Message: the payload of a `NoSessionContextRecord`, or a reassembled Session
    /// Context payload.
    ///
    /// Refuses, with a ``USPDecodingError`` and never a trap: input above
    /// ``USPDecodingLimits/maxMessageBytes`` (7005, before parsing); truncated or malformed
    /// protobuf (7001); a missing header or `msg_id`, or a `oneof` without a member (R-ENC.3; 7004,
    /// with ``USPDecodingError/messageID`` set when the header was readable, so that the caller
    /// can answer with an Error per R-MTP.5); an unknown enumeration value (R-ENC.2, 7004).
    /// `msg_type` is informational and not checked against the body (R-MSG.10).
    public init(serializedBytes bytes: [UInt8], limits: USPDecodingLimits = .default) throws(USPDecodingError) {
        guard bytes.count <= limits.maxMessageBytes else {
            throw USPDecodingError(layer: .message, reason: .tooLarge(size: bytes.count, limit: limits.maxMessageBytes))
        }
        let proto = try ProtobufSupport.decode(Usp_Msg.self, from: bytes, limits: limits, layer: .message)
        guard proto.hasHeader else { throw missing("header") }
        let id = proto.header.msgID
        guard !id.isEmpty else { throw missing("header.msg_id") }
        do throws(USPDecodingError) {
            guard proto.hasBody, let body = proto.body.msgBody else { throw missing("body.msg_body") }
            switch body {
            case .request(let request): self.init(id: id, request: try Request(proto: request))
            case .response(let response): self.init(id: id, response: try Response(proto: response))
            case .error(let error): self.init(id: id, error: USPErrorMessage(proto: error))
            }
        } catch {
            throw error.with(messageID: id)
        }
    }

    /// Serializes the Message, with a `msg_type` matching the body and map entries sorted by key.
    /// - Throws: ``USPEncodingError`` when ``id`` is empty.
    public func serializedBytes() throws(USPEncodingError) -> [UInt8] {
        guard !id.isEmpty else { throw USPEncodingError("USP Message needs a msg_id") }
        return try ProtobufSupport.encode(proto)
    }

    var proto: Usp_Msg {
        var proto = Usp_Msg()
        proto.header.msgID = id
        proto.header.msgType = Usp_Header.MsgType(rawValue: type.rawValue) ?? .error
        switch body {
        case .request(let request): proto.body.request = request.proto
        case .response(let response): proto.body.response = response.proto
        case .error(let error): proto.body.error = error.proto
        }
        return proto
    }
}

private func missing(_ field: String) -> USPDecodingError {
    USPDecodingError(layer: .message, reason: .missingField(field))
}

private func unknownEnum(_ field: String, _ value: Int) -> USPDecodingError {
    USPDecodingError(layer: .message, reason: .invalidValue(field: field, detail: "unknown enumeration value \(value) (R-ENC.2)"))
}

/// `err_code` / `err_msg` pairs where 0 means success.
private func optionalFailure(code: UInt32, message: String) -> USPFailure? {
    code == 0 ? nil : USPFailure(code: USPErrorCode(code), message: message)
}

// MARK: Request / Response dispatch

extension USPMessage.Request {
    init(proto: Usp_Request) throws(USPDecodingError) {
        guard let type = proto.reqType else { throw missing("request.req_type") }
        switch type {
        case .get(let m): self = .get(USPGet(paramPaths: m.paramPaths, maxDepth: m.maxDepth))
        case .getSupportedDm(let m):
            self = .getSupportedDM(
                USPGetSupportedDM(
                    objectPaths: m.objPaths, firstLevelOnly: m.firstLevelOnly, returnCommands: m.returnCommands,
                    returnEvents: m.returnEvents, returnParameters: m.returnParams, returnUniqueKeySets: m.returnUniqueKeySets))
        case .getInstances(let m): self = .getInstances(USPGetInstances(objectPaths: m.objPaths, firstLevelOnly: m.firstLevelOnly))
        case .set(let m):
            self = .set(
                USPSet(
                    allowPartial: m.allowPartial,
                    updateObjects: m.updateObjs.map { object in
                        USPSet.UpdateObject(
                            objectPath: object.objPath,
                            settings: object.paramSettings.map { USPParameterSetting(name: $0.param, value: $0.value, required: $0.required) })
                    }))
        case .add(let m):
            self = .add(
                USPAdd(
                    allowPartial: m.allowPartial,
                    createObjects: m.createObjs.map { object in
                        USPAdd.CreateObject(
                            objectPath: object.objPath,
                            settings: object.paramSettings.map { USPParameterSetting(name: $0.param, value: $0.value, required: $0.required) })
                    }))
        case .delete(let m): self = .delete(USPDelete(allowPartial: m.allowPartial, objectPaths: m.objPaths))
        case .operate(let m):
            self = .operate(
                USPOperate(command: m.command, commandKey: m.commandKey, sendResponse: m.sendResp, inputArguments: m.inputArgs))
        case .notify(let m): self = .notify(try USPNotify(proto: m))
        case .getSupportedProtocol(let m):
            self = .getSupportedProtocol(
                USPGetSupportedProtocol(controllerSupportedVersions: VersionList.parse(m.controllerSupportedProtocolVersions)))
        case .register(let m): self = .register(USPRegister(allowPartial: m.allowPartial, paths: m.regPaths.map(\.path)))
        case .deregister(let m): self = .deregister(USPDeregister(paths: m.paths))
        }
    }

    var proto: Usp_Request {
        var proto = Usp_Request()
        switch self {
        case .get(let get):
            var m = Usp_Get()
            m.paramPaths = get.paramPaths
            m.maxDepth = get.maxDepth
            proto.get = m
        case .getSupportedDM(let request):
            var m = Usp_GetSupportedDM()
            m.objPaths = request.objectPaths
            m.firstLevelOnly = request.firstLevelOnly
            m.returnCommands = request.returnCommands
            m.returnEvents = request.returnEvents
            m.returnParams = request.returnParameters
            m.returnUniqueKeySets = request.returnUniqueKeySets
            proto.getSupportedDm = m
        case .getInstances(let request):
            var m = Usp_GetInstances()
            m.objPaths = request.objectPaths
            m.firstLevelOnly = request.firstLevelOnly
            proto.getInstances = m
        case .set(let set):
            var m = Usp_Set()
            m.allowPartial = set.allowPartial
            m.updateObjs = set.updateObjects.map { object in
                var o = Usp_Set.UpdateObject()
                o.objPath = object.objectPath
                o.paramSettings = object.settings.map { setting in
                    var s = Usp_Set.UpdateParamSetting()
                    s.param = setting.name
                    s.value = setting.value
                    s.required = setting.required
                    return s
                }
                return o
            }
            proto.set = m
        case .add(let add):
            var m = Usp_Add()
            m.allowPartial = add.allowPartial
            m.createObjs = add.createObjects.map { object in
                var o = Usp_Add.CreateObject()
                o.objPath = object.objectPath
                o.paramSettings = object.settings.map { setting in
                    var s = Usp_Add.CreateParamSetting()
                    s.param = setting.name
                    s.value = setting.value
                    s.required = setting.required
                    return s
                }
                return o
            }
            proto.add = m
        case .delete(let delete):
            var m = Usp_Delete()
            m.allowPartial = delete.allowPartial
            m.objPaths = delete.objectPaths
            proto.delete = m
        case .operate(let operate):
            var m = Usp_Operate()
            m.command = operate.command
            m.commandKey = operate.commandKey
            m.sendResp = operate.sendResponse
            m.inputArgs = operate.inputArguments
            proto.operate = m
        case .notify(let notify):
            proto.notify = notify.proto
        case .getSupportedProtocol(let request):
            var m = Usp_GetSupportedProtocol()
            m.controllerSupportedProtocolVersions = VersionList.render(request.controllerSupportedVersions)
            proto.getSupportedProtocol = m
        case .register(let register):
            var m = Usp_Register()
            m.allowPartial = register.allowPartial
            m.regPaths = register.paths.map { path in
                var p = Usp_Register.RegistrationPath()
                p.path = path
                return p
            }
            proto.register = m
        case .deregister(let deregister):
            var m = Usp_Deregister()
            m.paths = deregister.paths
            proto.deregister = m
        }
        return proto
    }
}

extension USPMessage.Response {
    init(proto: Usp_Response) throws(USPDecodingError) {
        guard let type = proto.respType else { throw missing("response.resp_type") }
        switch type {
        case .getResp(let m): self = .getResponse(USPGetResponse(proto: m))
        case .getSupportedDmResp(let m): self = .getSupportedDMResponse(try USPGetSupportedDMResponse(proto: m))
        case .getInstancesResp(let m): self = .getInstancesResponse(USPGetInstancesResponse(proto: m))
        case .setResp(let m): self = .setResponse(try USPSetResponse(proto: m))
        case .addResp(let m): self = .addResponse(try USPAddResponse(proto: m))
        case .deleteResp(let m): self = .deleteResponse(try USPDeleteResponse(proto: m))
        case .operateResp(let m): self = .operateResponse(try USPOperateResponse(proto: m))
        case .notifyResp(let m): self = .notifyResponse(USPNotifyResponse(subscriptionID: m.subscriptionID))
        case .getSupportedProtocolResp(let m):
            self = .getSupportedProtocolResponse(
                USPGetSupportedProtocolResponse(agentSupportedVersions: VersionList.parse(m.agentSupportedProtocolVersions)))
        case .registerResp(let m): self = .registerResponse(try USPRegisterResponse(proto: m))
        case .deregisterResp(let m): self = .deregisterResponse(try USPDeregisterResponse(proto: m))
        }
    }

    var proto: Usp_Response {
        var proto = Usp_Response()
        switch self {
        case .getResponse(let r): proto.getResp = r.proto
        case .getSupportedDMResponse(let r): proto.getSupportedDmResp = r.proto
        case .getInstancesResponse(let r): proto.getInstancesResp = r.proto
        case .setResponse(let r): proto.setResp = r.proto
        case .addResponse(let r): proto.addResp = r.proto
        case .deleteResponse(let r): proto.deleteResp = r.proto
        case .operateResponse(let r): proto.operateResp = r.proto
        case .notifyResponse(let r):
            var m = Usp_NotifyResp()
            m.subscriptionID = r.subscriptionID
            proto.notifyResp = m
        case .getSupportedProtocolResponse(let r):
            var m = Usp_GetSupportedProtocolResp()
            m.agentSupportedProtocolVersions = VersionList.render(r.agentSupportedVersions)
            proto.getSupportedProtocolResp = m
        case .registerResponse(let r): proto.registerResp = r.proto
        case .deregisterResponse(let r): proto.deregisterResp = r.proto
        }
        return proto
    }
}

// MARK: Notify

extension USPNotify {
    init(proto: Usp_Notify) throws(USPDecodingError) {
        guard let notification = proto.notification else { throw missing("notify.notification") }
        let typed: Notification
        switch notification {
        case .event(let m):
            typed = .event(Event(objectPath: m.objPath, eventName: m.eventName, parameters: m.params))
        case .valueChange(let m):
            typed = .valueChange(ValueChange(parameterPath: m.paramPath, value: m.paramValue))
        case .objCreation(let m):
            typed = .objectCreation(ObjectCreation(objectPath: m.objPath, uniqueKeys: m.uniqueKeys))
        case .objDeletion(let m):
            typed = .objectDeletion(objectPath: m.objPath)
        case .operComplete(let m):
            let outcome: OperationComplete.Outcome
            switch m.operationResp {
            case .reqOutputArgs(let args)?: outcome = .outputArguments(args.outputArgs)
            case .cmdFailure(let f)?: outcome = .failure(USPFailure(code: USPErrorCode(f.errCode), message: f.errMsg))
            case nil: throw missing("notify.oper_complete.operation_resp")
            }
            typed = .operationComplete(
                OperationComplete(objectPath: m.objPath, commandName: m.commandName, commandKey: m.commandKey, outcome: outcome))
        case .onBoardReq(let m):
            typed = .onBoardRequest(
                OnBoardRequest(
                    oui: m.oui, productClass: m.productClass, serialNumber: m.serialNumber,
                    agentSupportedVersions: VersionList.parse(m.agentSupportedProtocolVersions)))
        }
        self.init(subscriptionID: proto.subscriptionID, sendResponse: proto.sendResp, notification: typed)
    }

    var proto: Usp_Notify {
        var proto = Usp_Notify()
        proto.subscriptionID = subscriptionID
        proto.sendResp = sendResponse
        switch notification {
        case .event(let event):
            var m = Usp_Notify.Event()
            m.objPath = event.objectPath
            m.eventName = event.eventName
            m.params = event.parameters
            proto.event = m
        case .valueChange(let change):
            var m = Usp_Notify.ValueChange()
            m.paramPath = change.parameterPath
            m.paramValue = change.value
            proto.valueChange = m
        case .objectCreation(let creation):
            var m = Usp_Notify.ObjectCreation()
            m.objPath = creation.objectPath
            m.uniqueKeys = creation.uniqueKeys
            proto.objCreation = m
        case .objectDeletion(let path):
            var m = Usp_Notify.ObjectDeletion()
            m.objPath = path
            proto.objDeletion = m
        case .operationComplete(let complete):
            var m = Usp_Notify.OperationComplete()
            m.objPath = complete.objectPath
            m.commandName = complete.commandName
            m.commandKey = complete.commandKey
            switch complete.outcome {
            case .outputArguments(let args):
                var o = Usp_Notify.OperationComplete.OutputArgs()
                o.outputArgs = args
                m.reqOutputArgs = o
            case .failure(let failure):
                var f = Usp_Notify.OperationComplete.CommandFailure()
                f.errCode = failure.code.rawValue
                f.errMsg = failure.message
                m.cmdFailure = f
            }
            proto.operComplete = m
        case .onBoardRequest(let request):
            var m = Usp_Notify.OnBoardRequest()
            m.oui = request.oui
            m.productClass = request.productClass
            m.serialNumber = request.serialNumber
            m.agentSupportedProtocolVersions = VersionList.render(request.agentSupportedVersions)
            proto.onBoardReq = m
        }
        return proto
    }
}

// MARK: Error

extension USPErrorMessage {
    init(proto: Usp_Error) {
        self.init(
            code: USPErrorCode(proto.errCode), message: proto.errMsg,
            parameterErrors: proto.paramErrs.map { USPPathError(path: $0.paramPath, code: USPErrorCode($0.errCode), message: $0.errMsg) })
    }

    var proto: Usp_Error {
        var proto = Usp_Error()
        proto.errCode = code.rawValue
        proto.errMsg = message
        proto.paramErrs = parameterErrors.map { error in
            var e = Usp_Error.ParamError()
            e.paramPath = error.path
            e.errCode = error.code.rawValue
            e.errMsg = error.message
            return e
        }
        return proto
    }
}

// MARK: Responses

extension USPGetResponse {
    init(proto: Usp_GetResp) {
        self.init(
            results: proto.reqPathResults.map { result in
                RequestedPathResult(
                    requestedPath: result.requestedPath, failure: optionalFailure(code: result.errCode, message: result.errMsg),
                    resolvedPaths: result.resolvedPathResults.map {
                        ResolvedPathResult(resolvedPath: $0.resolvedPath, parameters: $0.resultParams)
                    })
            })
    }

    var proto: Usp_GetResp {
        var proto = Usp_GetResp()
        proto.reqPathResults = results.map { result in
            var r = Usp_GetResp.RequestedPathResult()
            r.requestedPath = result.requestedPath
            r.errCode = result.failure?.code.rawValue ?? 0
            r.errMsg = result.failure?.message ?? ""
            r.resolvedPathResults = result.resolvedPaths.map { resolved in
                var p = Usp_GetResp.ResolvedPathResult()
                p.resolvedPath = resolved.resolvedPath
                p.resultParams = resolved.parameters
                return p
            }
            return r
        }
        return proto
    }
}

extension USPSetResponse {
    init(proto: Usp_SetResp) throws(USPDecodingError) {
        func errors(_ list: [Usp_SetResp.ParameterError]) -> [USPPathError] {
            list.map { USPPathError(path: $0.param, code: USPErrorCode($0.errCode), message: $0.errMsg) }
        }
        var results: [UpdatedObjectResult] = []
        for result in proto.updatedObjResults {
            let status: Status
            switch result.operStatus.operStatus {
            case .operSuccess(let success)?:
                status = .success(
                    success.updatedInstResults.map {
                        UpdatedInstance(affectedPath: $0.affectedPath, parameterErrors: errors($0.paramErrs), updatedParameters: $0.updatedParams)
                    })
            case .operFailure(let failure)?:
                status = .failure(
                    USPFailure(code: USPErrorCode(failure.errCode), message: failure.errMsg),
                    instanceFailures: failure.updatedInstFailures.map {
                        InstanceFailure(affectedPath: $0.affectedPath, parameterErrors: errors($0.paramErrs))
                    })
            case nil:
                throw missing("set_resp.updated_obj_results.oper_status")
            }
            results.append(UpdatedObjectResult(requestedPath: result.requestedPath, status: status))
        }
        self.init(results: results)
    }

    var proto: Usp_SetResp {
        func errors(_ list: [USPPathError]) -> [Usp_SetResp.ParameterError] {
            list.map { error in
                var e = Usp_SetResp.ParameterError()
                e.param = error.path
                e.errCode = error.code.rawValue
                e.errMsg = error.message
                return e
            }
        }
        var proto = Usp_SetResp()
        proto.updatedObjResults = results.map { result in
            var r = Usp_SetResp.UpdatedObjectResult()
            r.requestedPath = result.requestedPath
            switch result.status {
            case .success(let instances):
                var s = Usp_SetResp.UpdatedObjectResult.OperationStatus.OperationSuccess()
                s.updatedInstResults = instances.map { instance in
                    var i = Usp_SetResp.UpdatedInstanceResult()
                    i.affectedPath = instance.affectedPath
                    i.paramErrs = errors(instance.parameterErrors)
                    i.updatedParams = instance.updatedParameters
                    return i
                }
                r.operStatus.operSuccess = s
            case .failure(let failure, let instanceFailures):
                var f = Usp_SetResp.UpdatedObjectResult.OperationStatus.OperationFailure()
                f.errCode = failure.code.rawValue
                f.errMsg = failure.message
                f.updatedInstFailures = instanceFailures.map { instance in
                    var i = Usp_SetResp.UpdatedInstanceFailure()
                    i.affectedPath = instance.affectedPath
                    i.paramErrs = errors(instance.parameterErrors)
                    return i
                }
                r.operStatus.operFailure = f
            }
            return r
        }
        return proto
    }
}

extension USPAddResponse {
    init(proto: Usp_AddResp) throws(USPDecodingError) {
        var results: [CreatedObjectResult] = []
        for result in proto.createdObjResults {
            let status: Status
            switch result.operStatus.operStatus {
            case .operSuccess(let success)?:
                status = .success(
                    Created(
                        instantiatedPath: success.instantiatedPath,
                        parameterErrors: success.paramErrs.map { USPPathError(path: $0.param, code: USPErrorCode($0.errCode), message: $0.errMsg) },
                        uniqueKeys: success.uniqueKeys))
            case .operFailure(let failure)?:
                status = .failure(USPFailure(code: USPErrorCode(failure.errCode), message: failure.errMsg))
            case nil:
                throw missing("add_resp.created_obj_results.oper_status")
            }
            results.append(CreatedObjectResult(requestedPath: result.requestedPath, status: status))
        }
        self.init(results: results)
    }

    var proto: Usp_AddResp {
        var proto = Usp_AddResp()
        proto.createdObjResults = results.map { result in
            var r = Usp_AddResp.CreatedObjectResult()
            r.requestedPath = result.requestedPath
            switch result.status {
            case .success(let created):
                var s = Usp_AddResp.CreatedObjectResult.OperationStatus.OperationSuccess()
                s.instantiatedPath = created.instantiatedPath
                s.paramErrs = created.parameterErrors.map { error in
                    var e = Usp_AddResp.ParameterError()
                    e.param = error.path
                    e.errCode = error.code.rawValue
                    e.errMsg = error.message
                    return e
                }
                s.uniqueKeys = created.uniqueKeys
                r.operStatus.operSuccess = s
            case .failure(let failure):
                var f = Usp_AddResp.CreatedObjectResult.OperationStatus.OperationFailure()
                f.errCode = failure.code.rawValue
                f.errMsg = failure.message
                r.operStatus.operFailure = f
            }
            return r
        }
        return proto
    }
}

extension USPDeleteResponse {
    init(proto: Usp_DeleteResp) throws(USPDecodingError) {
        var results: [DeletedObjectResult] = []
        for result in proto.deletedObjResults {
            let status: Status
            switch result.operStatus.operStatus {
            case .operSuccess(let success)?:
                status = .success(
                    affectedPaths: success.affectedPaths,
                    unaffectedPathErrors: success.unaffectedPathErrs.map {
                        USPPathError(path: $0.unaffectedPath, code: USPErrorCode($0.errCode), message: $0.errMsg)
                    })
            case .operFailure(let failure)?:
                status = .failure(USPFailure(code: USPErrorCode(failure.errCode), message: failure.errMsg))
            case nil:
                throw missing("delete_resp.deleted_obj_results.oper_status")
            }
            results.append(DeletedObjectResult(requestedPath: result.requestedPath, status: status))
        }
        self.init(results: results)
    }

    var proto: Usp_DeleteResp {
        var proto = Usp_DeleteResp()
        proto.deletedObjResults = results.map { result in
            var r = Usp_DeleteResp.DeletedObjectResult()
            r.requestedPath = result.requestedPath
            switch result.status {
            case .success(let affected, let unaffected):
                var s = Usp_DeleteResp.DeletedObjectResult.OperationStatus.OperationSuccess()
                s.affectedPaths = affected
                s.unaffectedPathErrs = unaffected.map { error in
                    var e = Usp_DeleteResp.UnaffectedPathError()
                    e.unaffectedPath = error.path
                    e.errCode = error.code.rawValue
                    e.errMsg = error.message
                    return e
                }
                r.operStatus.operSuccess = s
            case .failure(let failure):
                var f = Usp_DeleteResp.DeletedObjectResult.OperationStatus.OperationFailure()
                f.errCode = failure.code.rawValue
                f.errMsg = failure.message
                r.operStatus.operFailure = f
            }
            return r
        }
        return proto
    }
}

extension USPOperateResponse {
    init(proto: Usp_OperateResp) throws(USPDecodingError) {
        var results: [CommandResult] = []
        for result in proto.operationResults {
            let outcome: Outcome
            switch result.operationResp {
            case .reqObjPath(let path)?: outcome = .requestObject(path)
            case .reqOutputArgs(let args)?: outcome = .outputArguments(args.outputArgs)
            case .cmdFailure(let failure)?: outcome = .failure(USPFailure(code: USPErrorCode(failure.errCode), message: failure.errMsg))
            case nil: throw missing("operate_resp.operation_results.operation_resp")
            }
            results.append(CommandResult(executedCommand: result.executedCommand, outcome: outcome))
        }
        self.init(results: results)
    }

    var proto: Usp_OperateResp {
        var proto = Usp_OperateResp()
        proto.operationResults = results.map { result in
            var r = Usp_OperateResp.OperationResult()
            r.executedCommand = result.executedCommand
            switch result.outcome {
            case .requestObject(let path):
                r.reqObjPath = path
            case .outputArguments(let args):
                var o = Usp_OperateResp.OperationResult.OutputArgs()
                o.outputArgs = args
                r.reqOutputArgs = o
            case .failure(let failure):
                var f = Usp_OperateResp.OperationResult.CommandFailure()
                f.errCode = failure.code.rawValue
                f.errMsg = failure.message
                r.cmdFailure = f
            }
            return r
        }
        return proto
    }
}

extension USPGetSupportedDMResponse {
    init(proto: Usp_GetSupportedDMResp) throws(USPDecodingError) {
        var results: [RequestedObjectResult] = []
        for result in proto.reqObjResults {
            var objects: [SupportedObject] = []
            for object in result.supportedObjs {
                guard let access = ObjectAccess(rawValue: object.access.rawValue) else {
                    throw unknownEnum("supported_objs.access", object.access.rawValue)
                }
                var parameters: [SupportedParameter] = []
                for parameter in object.supportedParams {
                    guard let paramAccess = ParameterAccess(rawValue: parameter.access.rawValue) else {
                        throw unknownEnum("supported_params.access", parameter.access.rawValue)
                    }
                    guard let valueChange = ValueChangeSupport(rawValue: parameter.valueChange.rawValue) else {
                        throw unknownEnum("supported_params.value_change", parameter.valueChange.rawValue)
                    }
                    let valueType: ValueType?
                    switch parameter.valueType {
                    case .paramUnknown: valueType = nil
                    case .paramBase64: valueType = .base64
                    case .paramBoolean: valueType = .boolean
                    case .paramDateTime: valueType = .dateTime
                    case .paramDecimal: valueType = .decimal
                    case .paramHexBinary: valueType = .hexBinary
                    case .paramInt: valueType = .int
                    case .paramLong: valueType = .long
                    case .paramString: valueType = .string
                    case .paramUnsignedInt: valueType = .unsignedInt
                    case .paramUnsignedLong: valueType = .unsignedLong
                    case .UNRECOGNIZED(let raw): throw unknownEnum("supported_params.value_type", raw)
                    }
                    parameters.append(
                        SupportedParameter(name: parameter.paramName, access: paramAccess, valueType: valueType, valueChange: valueChange))
                }
                var commands: [SupportedCommand] = []
                for command in object.supportedCommands {
                    guard let type = CommandType(rawValue: command.commandType.rawValue) else {
                        throw unknownEnum("supported_commands.command_type", command.commandType.rawValue)
                    }
                    commands.append(
                        SupportedCommand(
                            name: command.commandName, inputArgumentNames: command.inputArgNames,
                            outputArgumentNames: command.outputArgNames, type: type))
                }
                objects.append(
                    SupportedObject(
                        path: object.supportedObjPath, access: access, isMultiInstance: object.isMultiInstance, commands: commands,
                        events: object.supportedEvents.map { SupportedEvent(name: $0.eventName, argumentNames: $0.argNames) },
                        parameters: parameters, divergentPaths: object.divergentPaths,
                        uniqueKeySets: object.uniqueKeySets.map(\.keyNames)))
            }
            results.append(
                RequestedObjectResult(
                    requestedPath: result.reqObjPath, failure: optionalFailure(code: result.errCode, message: result.errMsg),
                    dataModelInstanceURI: result.dataModelInstUri, supportedObjects: objects))
        }
        self.init(results: results)
    }

    var proto: Usp_GetSupportedDMResp {
        var proto = Usp_GetSupportedDMResp()
        proto.reqObjResults = results.map { result in
            var r = Usp_GetSupportedDMResp.RequestedObjectResult()
            r.reqObjPath = result.requestedPath
            r.errCode = result.failure?.code.rawValue ?? 0
            r.errMsg = result.failure?.message ?? ""
            r.dataModelInstUri = result.dataModelInstanceURI
            r.supportedObjs = result.supportedObjects.map { object in
                var o = Usp_GetSupportedDMResp.SupportedObjectResult()
                o.supportedObjPath = object.path
                o.access = Usp_GetSupportedDMResp.ObjAccessType(rawValue: object.access.rawValue) ?? .objReadOnly
                o.isMultiInstance = object.isMultiInstance
                o.supportedCommands = object.commands.map { command in
                    var c = Usp_GetSupportedDMResp.SupportedCommandResult()
                    c.commandName = command.name
                    c.inputArgNames = command.inputArgumentNames
                    c.outputArgNames = command.outputArgumentNames
                    c.commandType = Usp_GetSupportedDMResp.CmdType(rawValue: command.type.rawValue) ?? .cmdUnknown
                    return c
                }
                o.supportedEvents = object.events.map { event in
                    var e = Usp_GetSupportedDMResp.SupportedEventResult()
                    e.eventName = event.name
                    e.argNames = event.argumentNames
                    return e
                }
                o.supportedParams = object.parameters.map { parameter in
                    var p = Usp_GetSupportedDMResp.SupportedParamResult()
                    p.paramName = parameter.name
                    p.access = Usp_GetSupportedDMResp.ParamAccessType(rawValue: parameter.access.rawValue) ?? .paramReadOnly
                    p.valueType =
                        switch parameter.valueType {
                        case nil: .paramUnknown
                        case .base64?: .paramBase64
                        case .boolean?: .paramBoolean
                        case .dateTime?: .paramDateTime
                        case .decimal?: .paramDecimal
                        case .hexBinary?: .paramHexBinary
                        case .int?: .paramInt
                        case .long?: .paramLong
                        case .string?: .paramString
                        case .unsignedInt?: .paramUnsignedInt
                        case .unsignedLong?: .paramUnsignedLong
                        }
                    p.valueChange = Usp_GetSupportedDMResp.ValueChangeType(rawValue: parameter.valueChange.rawValue) ?? .valueChangeUnknown
                    return p
                }
                o.divergentPaths = object.divergentPaths
                o.uniqueKeySets = object.uniqueKeySets.map { names in
                    var set = Usp_GetSupportedDMResp.SupportedUniqueKeySet()
                    set.keyNames = names
                    return set
                }
                return o
            }
            return r
        }
        return proto
    }
}

extension USPGetInstancesResponse {
    init(proto: Usp_GetInstancesResp) {
        self.init(
            results: proto.reqPathResults.map { result in
                RequestedPathResult(
                    requestedPath: result.requestedPath, failure: optionalFailure(code: result.errCode, message: result.errMsg),
                    instances: result.currInsts.map { Instance(path: $0.instantiatedObjPath, uniqueKeys: $0.uniqueKeys) })
            })
    }

    var proto: Usp_GetInstancesResp {
        var proto = Usp_GetInstancesResp()
        proto.reqPathResults = results.map { result in
            var r = Usp_GetInstancesResp.RequestedPathResult()
            r.requestedPath = result.requestedPath
            r.errCode = result.failure?.code.rawValue ?? 0
            r.errMsg = result.failure?.message ?? ""
            r.currInsts = result.instances.map { instance in
                var i = Usp_GetInstancesResp.CurrInstance()
                i.instantiatedObjPath = instance.path
                i.uniqueKeys = instance.uniqueKeys
                return i
            }
            return r
        }
        return proto
    }
}

extension USPRegisterResponse {
    init(proto: Usp_RegisterResp) throws(USPDecodingError) {
        var results: [RegisteredPathResult] = []
        for result in proto.registeredPathResults {
            let status: Status
            switch result.operStatus.operStatus {
            case .operSuccess(let success)?: status = .success(registeredPath: success.registeredPath)
            case .operFailure(let failure)?: status = .failure(USPFailure(code: USPErrorCode(failure.errCode), message: failure.errMsg))
            case nil: throw missing("register_resp.registered_path_results.oper_status")
            }
            results.append(RegisteredPathResult(requestedPath: result.requestedPath, status: status))
        }
        self.init(results: results)
    }

    var proto: Usp_RegisterResp {
        var proto = Usp_RegisterResp()
        proto.registeredPathResults = results.map { result in
            var r = Usp_RegisterResp.RegisteredPathResult()
            r.requestedPath = result.requestedPath
            switch result.status {
            case .success(let path):
                var s = Usp_RegisterResp.RegisteredPathResult.OperationStatus.OperationSuccess()
                s.registeredPath = path
                r.operStatus.operSuccess = s
            case .failure(let failure):
                var f = Usp_RegisterResp.RegisteredPathResult.OperationStatus.OperationFailure()
                f.errCode = failure.code.rawValue
                f.errMsg = failure.message
                r.operStatus.operFailure = f
            }
            return r
        }
        return proto
    }
}

extension USPDeregisterResponse {
    init(proto: Usp_DeregisterResp) throws(USPDecodingError) {
        var results: [DeregisteredPathResult] = []
        for result in proto.deregisteredPathResults {
            let status: Status
            switch result.operStatus.operStatus {
            case .operSuccess(let success)?: status = .success(deregisteredPaths: success.deregisteredPath)
            case .operFailure(let failure)?: status = .failure(USPFailure(code: USPErrorCode(failure.errCode), message: failure.errMsg))
            case nil: throw missing("deregister_resp.deregistered_path_results.oper_status")
            }
            results.append(DeregisteredPathResult(requestedPath: result.requestedPath, status: status))
        }
        self.init(results: results)
    }

    var proto: Usp_DeregisterResp {
        var proto = Usp_DeregisterResp()
        proto.deregisteredPathResults = results.map { result in
            var r = Usp_DeregisterResp.DeregisteredPathResult()
            r.requestedPath = result.requestedPath
            switch result.status {
            case .success(let paths):
                var s = Usp_DeregisterResp.DeregisteredPathResult.OperationStatus.OperationSuccess()
                s.deregisteredPath = paths
                r.operStatus.operSuccess = s
            case .failure(let failure):
                var f = Usp_DeregisterResp.DeregisteredPathResult.OperationStatus.OperationFailure()
                f.errCode = failure.code.rawValue
                f.errMsg = failure.message
                r.operStatus.operFailure = f
            }
            return r
        }
        return proto
    }
}
