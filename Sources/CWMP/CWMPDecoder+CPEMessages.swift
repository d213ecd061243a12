import TandemCore

/// Messages a CPE sends: its requests (TR-069 A.3.3, A.4.2) and its responses to ACS requests.
extension BodyReader {
    /// nil when the element is not a CPE request.
    mutating func readCPERequest(_ rpc: XMLElement) throws(CWMPDecodingError) -> CPERequest? {
        if rpc.isNamed("Inform") { return .inform(try readInform(rpc)) }
        if rpc.isNamed("TransferComplete") { return .transferComplete(try readTransferComplete(rpc)) }
        if rpc.isNamed("AutonomousTransferComplete") { return .autonomousTransferComplete(try readAutonomousTransferComplete(rpc)) }
        if rpc.isNamed("GetRPCMethods") { return .getRPCMethods }
        if rpc.isNamed("RequestDownload") { return .requestDownload(try readRequestDownload(rpc)) }
        if rpc.isNamed("DUStateChangeComplete") {
            var results: [CPERequest.DUOperationResult] = []
            var commandKey: String?
            for child in rpc.children {
                if child.isNamed("Results") {
                    results.append(try readDUResult(child))
                } else if child.isNamed("CommandKey") {
                    commandKey = raw(child)
                }
            }
            return .duStateChangeComplete(CPERequest.DUStateChangeComplete(results: results, commandKey: commandKey))
        }
        if rpc.isNamed("AutonomousDUStateChangeComplete") {
            var results: [CPERequest.DUOperationResult] = []
            for child in rpc.children where child.isNamed("Results") { results.append(try readDUResult(child)) }
            return .autonomousDUStateChangeComplete(CPERequest.AutonomousDUStateChangeComplete(results: results))
        }
        if rpc.isNamed("Kicked") {
            var kicked = CPERequest.Kicked(command: "", referer: "", argument: "", next: "")
            for child in rpc.children {
                if child.isNamed("Command") {
                    kicked.command = trimmed(child)
                } else if child.isNamed("Referer") {
                    kicked.referer = trimmed(child)
                } else if child.isNamed("Arg") {
                    kicked.argument = raw(child)
                } else if child.isNamed("Next") {
                    kicked.next = trimmed(child)
                }
            }
            return .kicked(kicked)
        }
        return nil
    }

    /// Inform (TR-069 A.3.3.1), the hottest path: one pass over the children, no intermediate
    /// dictionaries. Only DeviceId is required; a missing or malformed MaxEnvelopes or RetryCount
    /// takes its default and CurrentTime is kept as text (a device must never be locked out for
    /// its clock).
    mutating func readInform(_ rpc: XMLElement) throws(CWMPDecodingError) -> CPERequest.Inform {
        var deviceID: CWMPDeviceID?
        var events: [CWMPEvent] = []
        var maxEnvelopes: UInt32 = 1
        var currentTime = CWMPTime.unknown
        var retryCount: UInt32 = 0
        var parameters: [CWMPParameterValue] = []
        for child in rpc.children {
            if child.isNamed("DeviceId") {
                deviceID = try readDeviceID(child)
            } else if child.isNamed("Event") {
                events = try items(child) { (reader, item) throws(CWMPDecodingError) -> CWMPEvent in
                    var code = ""
                    var commandKey = ""
                    for field in item.children {
                        if field.isNamed("EventCode") {
                            code = field.trimmedText
                        } else if field.isNamed("CommandKey") {
                            commandKey = reader.raw(field)
                        }
                    }
                    guard !code.isEmpty else { throw reader.missing("EventCode", in: item) }
                    return CWMPEvent(code: CWMPEventCode(code), commandKey: commandKey)
                }
            } else if child.isNamed("MaxEnvelopes") {
                maxEnvelopes = (try? integer(child, as: UInt32.self)) ?? 1
            } else if child.isNamed("CurrentTime") {
                currentTime = time(child)
            } else if child.isNamed("RetryCount") {
                retryCount = (try? integer(child, as: UInt32.self)) ?? 0
            } else if child.isNamed("ParameterList") {
                parameters = try parameterValues(child)
            }
        }
        guard let deviceID else { throw missing("DeviceId", in: rpc) }
        return CPERequest.Inform(
            deviceID: deviceID, events: events, maxEnvelopes: maxEnvelopes, currentTime: currentTime, retryCount: retryCount,
            parameters: parameters)
    }

    /// `DeviceIdStruct` (TR-069 A.3.3.1); lower-case OUIs are accepted and upper-cased.
    func readDeviceID(_ element: XMLElement) throws(CWMPDecodingError) -> CWMPDeviceID {
        var manufacturer = ""
        var oui = ""
        var productClass = ""
        var serialNumber = ""
        for field in element.children {
            if field.isNamed("Manufacturer") {
                manufacturer = field.trimmedText
            } else if field.isNamed("OUI") {
                oui = field.trimmedText
            } else if field.isNamed("ProductClass") {
                productClass = field.trimmedText
            } else if field.isNamed("SerialNumber") {
                serialNumber = field.trimmedText
            }
        }
        do throws(IdentityError) {
            return try CWMPDeviceID(manufacturer: manufacturer, oui: oui, productClass: productClass, serialNumber: serialNumber)
        } catch {
            throw CWMPDecodingError(.invalidValue, "DeviceId: \(error.message)", line: element.line)
        }
    }

    mutating func readTransferFault(_ element: XMLElement) throws(CWMPDecodingError) -> CWMPTransferFault {
        var code: CWMPFaultCode?
        var message = ""
        for field in element.children {
            if field.isNamed("FaultCode") {
                code = try faultCode(field)
            } else if field.isNamed("FaultString") {
                message = raw(field)
            }
        }
        guard let code else { throw missing("FaultCode", in: element) }
        return CWMPTransferFault(code: code, message: message)
    }

    /// TransferComplete (TR-069 A.3.3.2). FaultStruct is required: reading a missing one as success
    /// could report a failed firmware upgrade as done.
    mutating func readTransferComplete(_ rpc: XMLElement) throws(CWMPDecodingError) -> CPERequest.TransferComplete {
        var commandKey = ""
        var fault: CWMPTransferFault?
        var startTime = CWMPTime.unknown
        var completeTime = CWMPTime.unknown
        for child in rpc.children {
            if child.isNamed("CommandKey") {
                commandKey = raw(child)
            } else if child.isNamed("FaultStruct") {
                fault = try readTransferFault(child)
            } else if child.isNamed("StartTime") {
                startTime = time(child)
            } else if child.isNamed("CompleteTime") {
                completeTime = time(child)
            }
        }
        guard let fault else { throw missing("FaultStruct", in: rpc) }
        return CPERequest.TransferComplete(commandKey: commandKey, fault: fault, startTime: startTime, completeTime: completeTime)
    }

    /// AutonomousTransferComplete (TR-069 A.3.3.3).
    mutating func readAutonomousTransferComplete(_ rpc: XMLElement) throws(CWMPDecodingError) -> CPERequest.AutonomousTransferComplete {
        var result = CPERequest.AutonomousTransferComplete(
            transferURL: "", isDownload: false, fileType: "", fileSize: 0, startTime: .unknown, completeTime: .unknown)
        var sawFault = false
        for child in rpc.children {
            if child.isNamed("AnnounceURL") {
                result.announceURL = trimmed(child)
            } else if child.isNamed("TransferURL") {
                result.transferURL = trimmed(child)
            } else if child.isNamed("IsDownload") {
                result.isDownload = try boolean(child)
            } else if child.isNamed("FileType") {
                result.fileType = trimmed(child)
            } else if child.isNamed("FileSize") {
                result.fileSize = try integer(child)
            } else if child.isNamed("TargetFileName") {
                result.targetFileName = raw(child)
            } else if child.isNamed("FaultStruct") {
                result.fault = try readTransferFault(child)
                sawFault = true
            } else if child.isNamed("StartTime") {
                result.startTime = time(child)
            } else if child.isNamed("CompleteTime") {
                result.completeTime = time(child)
            }
        }
        guard sawFault else { throw missing("FaultStruct", in: rpc) }
        return result
    }

    /// RequestDownload (TR-069 A.4.2.2).
    mutating func readRequestDownload(_ rpc: XMLElement) throws(CWMPDecodingError) -> CPERequest.RequestDownload {
        var result = CPERequest.RequestDownload(fileType: "")
        for child in rpc.children {
            if child.isNamed("FileType") {
                result.fileType = trimmed(child)
            } else if child.isNamed("FileTypeArg") {
                result.fileTypeArguments = try items(child) { (reader, item) throws(CWMPDecodingError) -> CPERequest.RequestDownload.Argument in
                    var argument = CPERequest.RequestDownload.Argument(name: "", value: "")
                    for field in item.children {
                        if field.isNamed("Name") {
                            argument.name = field.trimmedText
                        } else if field.isNamed("Value") {
                            argument.value = reader.raw(field)
                        }
                    }
                    return argument
                }
            }
        }
        return result
    }

    /// `OpResultStruct` / `AutonOpResultStruct` (cwmp-1-2.xsd).
    mutating func readDUResult(_ element: XMLElement) throws(CWMPDecodingError) -> CPERequest.DUOperationResult {
        var result = CPERequest.DUOperationResult(uuid: "", currentState: "", resolved: false, startTime: .unknown, completeTime: .unknown)
        var sawFault = false
        for field in element.children {
            if field.isNamed("UUID") {
                result.uuid = trimmed(field)
            } else if field.isNamed("DeploymentUnitRef") {
                result.deploymentUnitRef = trimmed(field)
            } else if field.isNamed("Version") {
                result.version = trimmed(field)
            } else if field.isNamed("CurrentState") {
                result.currentState = trimmed(field)
            } else if field.isNamed("Resolved") {
                result.resolved = try boolean(field)
            } else if field.isNamed("ExecutionUnitRefList") {
                result.executionUnitRefList = trimmed(field)
            } else if field.isNamed("StartTime") {
                result.startTime = time(field)
            } else if field.isNamed("CompleteTime") {
                result.completeTime = time(field)
            } else if field.isNamed("Fault") {
                result.fault = try readTransferFault(field)
                sawFault = true
            } else if field.isNamed("OperationPerformed") {
                result.operationPerformed = trimmed(field)
            }
        }
        guard sawFault else { throw missing("Fault", in: element) }
        return result
    }

    // MARK: CPE responses (TR-069 A.3.1, A.3.2, A.4.1)

    /// nil when the element is not a CPE response.
    mutating func readCPEResponse(_ rpc: XMLElement) throws(CWMPDecodingError) -> CPEResponse? {
        if rpc.isNamed("GetParameterValuesResponse") {
            guard let list = rpc.child("ParameterList") else { return .getParameterValues(parameters: []) }
            return .getParameterValues(parameters: try parameterValues(list))
        }
        if rpc.isNamed("SetParameterValuesResponse") { return .setParameterValues(status: try status(rpc)) }
        if rpc.isNamed("GetParameterNamesResponse") {
            guard let list = rpc.child("ParameterList") else { return .getParameterNames(parameters: []) }
            return .getParameterNames(parameters: try items(list) { (reader, item) throws(CWMPDecodingError) -> CWMPParameterInfo in
                var name: String?
                var writable = false
                for field in item.children {
                    if field.isNamed("Name") {
                        name = field.trimmedText
                    } else if field.isNamed("Writable") {
                        writable = try reader.boolean(field)
                    }
                }
                guard let name else { throw reader.missing("Name", in: item) }
                return CWMPParameterInfo(name: name, writable: writable)
            })
        }
        if rpc.isNamed("GetParameterAttributesResponse") {
            guard let list = rpc.child("ParameterList") else { return .getParameterAttributes(parameters: []) }
            return .getParameterAttributes(parameters: try items(list) { (reader, item) throws(CWMPDecodingError) -> CWMPParameterAttribute in
                var attribute = CWMPParameterAttribute(name: "", notification: 0)
                var sawName = false
                for field in item.children {
                    if field.isNamed("Name") {
                        attribute.name = field.trimmedText
                        sawName = true
                    } else if field.isNamed("Notification") {
                        attribute.notification = try reader.integer(field)
                    } else if field.isNamed("AccessList") {
                        attribute.accessList = reader.strings(field)
                    }
                }
                guard sawName else { throw reader.missing("Name", in: item) }
                return attribute
            })
        }
        if rpc.isNamed("SetParameterAttributesResponse") { return .setParameterAttributes }
        if rpc.isNamed("AddObjectResponse") {
            guard let instance = rpc.child("InstanceNumber") else { throw missing("InstanceNumber", in: rpc) }
            return .addObject(instanceNumber: try integer(instance), status: try status(rpc))
        }
        if rpc.isNamed("DeleteObjectResponse") { return .deleteObject(status: try status(rpc)) }
        if rpc.isNamed("RebootResponse") { return .reboot }
        if rpc.isNamed("FactoryResetResponse") { return .factoryReset }
        if rpc.isNamed("DownloadResponse") { return .download(try transferStatus(rpc)) }
        if rpc.isNamed("UploadResponse") { return .upload(try transferStatus(rpc)) }
        if rpc.isNamed("GetRPCMethodsResponse") {
            guard let list = rpc.child("MethodList") else { return .getRPCMethods(methods: []) }
            return .getRPCMethods(methods: strings(list))
        }
        if rpc.isNamed("ScheduleInformResponse") { return .scheduleInform }
        if rpc.isNamed("ScheduleDownloadResponse") { return .scheduleDownload }
        if rpc.isNamed("CancelTransferResponse") { return .cancelTransfer }
        if rpc.isNamed("ChangeDUStateResponse") { return .changeDUState }
        if rpc.isNamed("GetQueuedTransfersResponse") {
            guard let list = rpc.child("TransferList") else { return .getQueuedTransfers(transfers: []) }
            return .getQueuedTransfers(transfers: try items(list) { (reader, item) throws(CWMPDecodingError) -> CPEResponse.QueuedTransfer in
                var transfer = CPEResponse.QueuedTransfer(commandKey: "", state: 0)
                for field in item.children {
                    if field.isNamed("CommandKey") {
                        transfer.commandKey = reader.raw(field)
                    } else if field.isNamed("State") {
                        transfer.state = try reader.integer(field)
                    }
                }
                return transfer
            })
        }
        if rpc.isNamed("GetAllQueuedTransfersResponse") {
            guard let list = rpc.child("TransferList") else { return .getAllQueuedTransfers(transfers: []) }
            return .getAllQueuedTransfers(transfers: try items(list) { (reader, item) throws(CWMPDecodingError) -> CPEResponse.AllQueuedTransfer in
                var transfer = CPEResponse.AllQueuedTransfer(commandKey: "", state: 0, isDownload: false, fileType: "")
                for field in item.children {
                    if field.isNamed("CommandKey") {
                        transfer.commandKey = reader.raw(field)
                    } else if field.isNamed("State") {
                        transfer.state = try reader.integer(field)
                    } else if field.isNamed("IsDownload") {
                        transfer.isDownload = try reader.boolean(field)
                    } else if field.isNamed("FileType") {
                        transfer.fileType = field.trimmedText
                    } else if field.isNamed("FileSize") {
                        transfer.fileSize = try reader.integer(field)
                    } else if field.isNamed("TargetFileName") {
                        transfer.targetFileName = reader.raw(field)
                    }
                }
                return transfer
            })
        }
        if rpc.isNamed("SetVouchersResponse") { return .setVouchers }
        if rpc.isNamed("GetOptionsResponse") {
            guard let list = rpc.child("OptionList") else { return .getOptions(options: []) }
            return .getOptions(options: try items(list) { (reader, item) throws(CWMPDecodingError) -> CPEResponse.Option in
                var option = CPEResponse.Option(optionName: "", voucherSN: 0, state: 0, mode: 0, startDate: .unknown)
                for field in item.children {
                    if field.isNamed("OptionName") {
                        option.optionName = field.trimmedText
                    } else if field.isNamed("VoucherSN") {
                        option.voucherSN = try reader.integer(field)
                    } else if field.isNamed("State") {
                        option.state = try reader.integer(field)
                    } else if field.isNamed("Mode") {
                        option.mode = try reader.integer(field)
                    } else if field.isNamed("StartDate") {
                        option.startDate = reader.time(field)
                    } else if field.isNamed("ExpirationDate") {
                        option.expirationDate = reader.time(field)
                    } else if field.isNamed("IsTransferable") {
                        option.isTransferable = try reader.integer(field)
                    }
                }
                return option
            })
        }
        return nil
    }

    /// The required `Status` of SetParameterValues/AddObject/DeleteObject/Download/Upload responses.
    private func status(_ rpc: XMLElement) throws(CWMPDecodingError) -> Int {
        guard let element = rpc.child("Status") else { throw missing("Status", in: rpc) }
        return try integer(element)
    }

    private mutating func transferStatus(_ rpc: XMLElement) throws(CWMPDecodingError) -> CPEResponse.TransferStatus {
        var result = CPEResponse.TransferStatus(status: try status(rpc))
        if let start = rpc.child("StartTime") { result.startTime = time(start) }
        if let complete = rpc.child("CompleteTime") { result.completeTime = time(complete) }
        return result
    }
}
