import TandemCore

extension USPMessage {
    /// The neutral result of the operation this Message answers.
    ///
    /// A response maps per path (see ``USPMessage/Response/operationResult(valueType:)``). An Error
    /// Message means the request failed as a whole (for example a holistic Set, `allow_partial`
    /// false, R-SET.2): it is thrown as a ``TandemCore/Fault`` whose category follows the USP code;
    /// the per-parameter detail is in ``USPErrorMessage/pathResults``.
    ///
    /// - Parameter valueType: the type of a parameter, when known from the supported data model;
    ///   USP Get carries values as text without types, and values parse leniently (kept as strings
    ///   when they do not fit the type).
    /// - Throws: the Error's fault, or a `protocolError` fault for a request or a response that does
    ///   not answer an operation (NotifyResp, RegisterResp, DeregisterResp).
    public func operationResult(valueType: (String) -> ValueType? = { _ in nil }) throws(Fault) -> OperationResult {
        switch body {
        case .error(let error): throw error.fault
        case .request(let request):
            throw Fault(category: .protocolError, message: "expected a response, got a \(request.type) request (msg_id \(id))")
        case .response(let response): return try response.operationResult(valueType: valueType)
        }
    }
}

extension USPMessage.Response {
    /// The neutral result: per path a value, `done` or a fault. See each response's
    /// `operationResult`.
    public func operationResult(valueType: (String) -> ValueType? = { _ in nil }) throws(Fault) -> OperationResult {
        switch self {
        case .getResponse(let r): return r.operationResult(valueType: valueType)
        case .setResponse(let r): return r.operationResult
        case .addResponse(let r): return r.operationResult
        case .deleteResponse(let r): return r.operationResult
        case .operateResponse(let r): return r.operationResult
        case .getInstancesResponse(let r): return r.operationResult
        case .getSupportedDMResponse(let r): return r.operationResult
        case .getSupportedProtocolResponse(let r):
            return OperationResult(outputArguments: ["AgentSupportedProtocolVersions": VersionList.render(r.agentSupportedVersions)])
        case .notifyResponse, .registerResponse, .deregisterResponse:
            throw Fault(category: .protocolError, message: "a \(type) does not answer an operation")
        }
    }
}

extension USPGetResponse {
    /// One value per parameter (path = resolved object path + parameter name, parameters in name
    /// order); a failed requested path becomes a fault at that path (R-GET.0: 7026 for an unknown
    /// path). A search path matching nothing yields no entries (R-MSG.4a).
    public func operationResult(valueType: (String) -> ValueType? = { _ in nil }) -> OperationResult {
        var entries: [PathResult] = []
        for result in results {
            if let failure = result.failure {
                entries.append(PathResult(path: result.requestedPath, outcome: .fault(failure.fault)))
                continue
            }
            for resolved in result.resolvedPaths {
                for name in resolved.parameters.keys.sorted() {
                    let path = resolved.resolvedPath + name
                    entries.append(PathResult(path: path, outcome: .value(.lenient(resolved.parameters[name] ?? "", type: valueType(path)))))
                }
            }
        }
        return OperationResult(entries: entries)
    }
}

extension USPSetResponse {
    /// `done` for each parameter written; a fault for each parameter that failed (non-required
    /// failures on success, instance failures on failure) and for each failed object.
    public var operationResult: OperationResult {
        var entries: [PathResult] = []
        for result in results {
            switch result.status {
            case .success(let instances):
                for instance in instances {
                    for name in instance.updatedParameters.keys.sorted() {
                        entries.append(PathResult(path: instance.affectedPath + name, outcome: .done))
                    }
                    for error in instance.parameterErrors {
                        entries.append(PathResult(path: instance.affectedPath + error.path, outcome: .fault(error.fault)))
                    }
                }
            case .failure(let failure, let instanceFailures):
                entries.append(PathResult(path: result.requestedPath, outcome: .fault(failure.fault)))
                for instance in instanceFailures {
                    for error in instance.parameterErrors {
                        entries.append(PathResult(path: instance.affectedPath + error.path, outcome: .fault(error.fault)))
                    }
                }
            }
        }
        return OperationResult(entries: entries)
    }
}

extension USPAddResponse {
    /// `createdObject` is the first instance created; entries hold `done` for each instance, the
    /// unique keys as values and faults for failed objects and parameters.
    public var operationResult: OperationResult {
        var entries: [PathResult] = []
        var created: String?
        for result in results {
            switch result.status {
            case .success(let instance):
                created = created ?? instance.instantiatedPath
                entries.append(PathResult(path: instance.instantiatedPath, outcome: .done))
                for key in instance.uniqueKeys.keys.sorted() {
                    entries.append(PathResult(path: instance.instantiatedPath + key, outcome: .value(.string(instance.uniqueKeys[key] ?? ""))))
                }
                for error in instance.parameterErrors {
                    entries.append(PathResult(path: instance.instantiatedPath + error.path, outcome: .fault(error.fault)))
                }
            case .failure(let failure):
                entries.append(PathResult(path: result.requestedPath, outcome: .fault(failure.fault)))
            }
        }
        return OperationResult(entries: entries, createdObject: created)
    }
}

extension USPDeleteResponse {
    /// `done` for each instance deleted; faults for paths left alone and for failed objects.
    public var operationResult: OperationResult {
        var entries: [PathResult] = []
        for result in results {
            switch result.status {
            case .success(let affected, let unaffected):
                entries += affected.map { PathResult(path: $0, outcome: .done) }
                entries += unaffected.map { PathResult(path: $0.path, outcome: .fault($0.fault)) }
            case .failure(let failure):
                entries.append(PathResult(path: result.requestedPath, outcome: .fault(failure.fault)))
            }
        }
        return OperationResult(entries: entries)
    }
}

extension USPOperateResponse {
    /// Output arguments of synchronous commands are merged into `outputArguments`; an
    /// asynchronous command's `Device.LocalAgent.Request.{i}.` goes into `createdObject` (its
    /// outcome arrives later as a Notify OperationComplete); failures are faults at the command.
    public var operationResult: OperationResult {
        var result = OperationResult()
        for command in results {
            switch command.outcome {
            case .requestObject(let path):
                result.createdObject = result.createdObject ?? path
                result.entries.append(PathResult(path: command.executedCommand, outcome: .done))
            case .outputArguments(let arguments):
                result.outputArguments.merge(arguments) { _, new in new }
                result.entries.append(PathResult(path: command.executedCommand, outcome: .done))
            case .failure(let failure):
                result.entries.append(PathResult(path: command.executedCommand, outcome: .fault(failure.fault)))
            }
        }
        return result
    }
}

extension USPGetInstancesResponse {
    /// `done` for each instance, its unique keys as values, faults for failed paths.
    public var operationResult: OperationResult {
        var entries: [PathResult] = []
        for result in results {
            if let failure = result.failure {
                entries.append(PathResult(path: result.requestedPath, outcome: .fault(failure.fault)))
                continue
            }
            for instance in result.instances {
                entries.append(PathResult(path: instance.path, outcome: .done))
                for key in instance.uniqueKeys.keys.sorted() {
                    entries.append(PathResult(path: instance.path + key, outcome: .value(.string(instance.uniqueKeys[key] ?? ""))))
                }
            }
        }
        return OperationResult(entries: entries)
    }
}

extension USPGetSupportedDMResponse {
    /// One entry per supported parameter (`Device.WiFi.SSID.{i}.SSID`) with its writability;
    /// faults for failed paths.
    public var operationResult: OperationResult {
        var entries: [PathResult] = []
        for result in results {
            if let failure = result.failure {
                entries.append(PathResult(path: result.requestedPath, outcome: .fault(failure.fault)))
                continue
            }
            for object in result.supportedObjects {
                for parameter in object.parameters {
                    entries.append(PathResult(path: object.path + parameter.name, outcome: .done, writable: parameter.access.isWritable))
                }
            }
        }
        return OperationResult(entries: entries)
    }
}
