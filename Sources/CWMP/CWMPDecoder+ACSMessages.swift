import TandemCore

/// Messages an ACS sends: its requests (TR-069 A.3.1, A.3.2, A.4.1) and its responses to CPE
/// requests. The ACS side never decodes these from the network; the CPE simulator and the round-trip
/// tests do.
extension BodyReader {
    /// nil when the element is not an ACS request.
    mutating func readACSRequest(_ rpc: XMLElement) throws(CWMPDecodingError) -> ACSRequest? {
        if rpc.isNamed("GetParameterValues") {
            return .getParameterValues(names: rpc.child("ParameterNames").map { strings($0) } ?? [])
        }
        if rpc.isNamed("SetParameterValues") {
            var parameters: [CWMPParameterValue] = []
            var key = ""
            for child in rpc.children {
                if child.isNamed("ParameterList") {
                    parameters = try parameterValues(child)
                } else if child.isNamed("ParameterKey") {
                    key = raw(child)
                }
            }
            return .setParameterValues(parameters: parameters, parameterKey: key)
        }
        if rpc.isNamed("GetParameterNames") {
            var path = ""
            var nextLevel = false
            for child in rpc.children {
                if child.isNamed("ParameterPath") {
                    path = trimmed(child)
                } else if child.isNamed("NextLevel") {
                    nextLevel = try boolean(child)
                }
            }
            return .getParameterNames(path: path, nextLevel: nextLevel)
        }
        if rpc.isNamed("GetParameterAttributes") {
            return .getParameterAttributes(names: rpc.child("ParameterNames").map { strings($0) } ?? [])
        }
        if rpc.isNamed("SetParameterAttributes") {
            guard let list = rpc.child("ParameterList") else { throw missing("ParameterList", in: rpc) }
            return .setParameterAttributes(parameters: try items(list) { (reader, item) throws(CWMPDecodingError) -> CWMPSetParameterAttribute in
                var entry = CWMPSetParameterAttribute(name: "", notificationChange: false, notification: 0)
                for field in item.children {
                    if field.isNamed("Name") {
                        entry.name = field.trimmedText
                    } else if field.isNamed("NotificationChange") {
                        entry.notificationChange = try reader.boolean(field)
                    } else if field.isNamed("Notification") {
                        entry.notification = try reader.integer(field)
                    } else if field.isNamed("AccessListChange") {
                        entry.accessListChange = try reader.boolean(field)
                    } else if field.isNamed("AccessList") {
                        entry.accessList = reader.strings(field)
                    }
                }
                return entry
            })
        }
        if rpc.isNamed("AddObject") || rpc.isNamed("DeleteObject") {
            var name = ""
            var key = ""
            for child in rpc.children {
                if child.isNamed("ObjectName") {
                    name = trimmed(child)
                } else if child.isNamed("ParameterKey") {
                    key = raw(child)
                }
            }
            return rpc.isNamed("AddObject") ? .addObject(objectName: name, parameterKey: key) : .deleteObject(objectName: name, parameterKey: key)
        }
        if rpc.isNamed("Reboot") { return .reboot(commandKey: rpc.child("CommandKey").map { raw($0) } ?? "") }
        if rpc.isNamed("FactoryReset") { return .factoryReset }
        if rpc.isNamed("Download") { return .download(try readDownload(rpc)) }
        if rpc.isNamed("Upload") {
            var upload = ACSRequest.Upload(fileType: "", url: "")
            for child in rpc.children {
                if child.isNamed("CommandKey") {
                    upload.commandKey = raw(child)
                } else if child.isNamed("FileType") {
                    upload.fileType = trimmed(child)
                } else if child.isNamed("URL") {
                    upload.url = trimmed(child)
                } else if child.isNamed("Username") {
                    upload.username = raw(child)
                } else if child.isNamed("Password") {
                    upload.password = raw(child)
                } else if child.isNamed("DelaySeconds") {
                    upload.delaySeconds = try integer(child)
                }
            }
            return .upload(upload)
        }
        if rpc.isNamed("ScheduleInform") {
            var delay: UInt32 = 0
            var key = ""
            for child in rpc.children {
                if child.isNamed("DelaySeconds") {
                    delay = try integer(child)
                } else if child.isNamed("CommandKey") {
                    key = raw(child)
                }
            }
            return .scheduleInform(delaySeconds: delay, commandKey: key)
        }
        if rpc.isNamed("ScheduleDownload") { return .scheduleDownload(try readScheduleDownload(rpc)) }
        if rpc.isNamed("CancelTransfer") { return .cancelTransfer(commandKey: rpc.child("CommandKey").map { raw($0) } ?? "") }
        if rpc.isNamed("ChangeDUState") {
            var operations: [ACSRequest.DUOperation] = []
            var key: String?
            for child in rpc.children {
                if child.isNamed("Operations") {
                    operations.append(try readDUOperation(child))
                } else if child.isNamed("CommandKey") {
                    key = raw(child)
                }
            }
            return .changeDUState(ACSRequest.ChangeDUState(operations: operations, commandKey: key))
        }
        if rpc.isNamed("GetRPCMethods") { return .getRPCMethods }
        if rpc.isNamed("GetQueuedTransfers") { return .getQueuedTransfers }
        if rpc.isNamed("GetAllQueuedTransfers") { return .getAllQueuedTransfers }
        if rpc.isNamed("SetVouchers") {
            guard let list = rpc.child("VoucherList") else { return .setVouchers(vouchers: []) }
            return .setVouchers(vouchers: try items(list) { (reader, item) throws(CWMPDecodingError) -> [UInt8] in
                guard case .base64(let bytes) = try? TypedValue(parsing: item.text, as: .base64) else {
                    throw reader.invalid(item, "base64")
                }
                return bytes
            })
        }
        if rpc.isNamed("GetOptions") { return .getOptions(optionName: rpc.child("OptionName").map { trimmed($0) } ?? "") }
        return nil
    }

    private mutating func readDownload(_ rpc: XMLElement) throws(CWMPDecodingError) -> ACSRequest.Download {
        var download = ACSRequest.Download(fileType: "", url: "")
        for child in rpc.children {
            if child.isNamed("CommandKey") {
                download.commandKey = raw(child)
            } else if child.isNamed("FileType") {
                download.fileType = trimmed(child)
            } else if child.isNamed("URL") {
                download.url = trimmed(child)
            } else if child.isNamed("Username") {
                download.username = raw(child)
            } else if child.isNamed("Password") {
                download.password = raw(child)
            } else if child.isNamed("FileSize") {
                download.fileSize = try integer(child)
            } else if child.isNamed("TargetFileName") {
                download.targetFileName = raw(child)
            } else if child.isNamed("DelaySeconds") {
                download.delaySeconds = try integer(child)
            } else if child.isNamed("SuccessURL") {
                download.successURL = trimmed(child)
            } else if child.isNamed("FailureURL") {
                download.failureURL = trimmed(child)
            }
        }
        return download
    }

    private mutating func readScheduleDownload(_ rpc: XMLElement) throws(CWMPDecodingError) -> ACSRequest.ScheduleDownload {
        var download = ACSRequest.ScheduleDownload(fileType: "", url: "", timeWindows: [])
        for child in rpc.children {
            if child.isNamed("CommandKey") {
                download.commandKey = raw(child)
            } else if child.isNamed("FileType") {
                download.fileType = trimmed(child)
            } else if child.isNamed("URL") {
                download.url = trimmed(child)
            } else if child.isNamed("Username") {
                download.username = raw(child)
            } else if child.isNamed("Password") {
                download.password = raw(child)
            } else if child.isNamed("FileSize") {
                download.fileSize = try integer(child)
            } else if child.isNamed("TargetFileName") {
                download.targetFileName = raw(child)
            } else if child.isNamed("TimeWindowList") {
                download.timeWindows = try items(child) { (reader, item) throws(CWMPDecodingError) -> ACSRequest.TimeWindow in
                    var window = ACSRequest.TimeWindow(windowStart: 0, windowEnd: 0, windowMode: "")
                    for field in item.children {
                        if field.isNamed("WindowStart") {
                            window.windowStart = try reader.integer(field)
                        } else if field.isNamed("WindowEnd") {
                            window.windowEnd = try reader.integer(field)
                        } else if field.isNamed("WindowMode") {
                            window.windowMode = field.trimmedText
                        } else if field.isNamed("UserMessage") {
                            window.userMessage = reader.raw(field)
                        } else if field.isNamed("MaxRetries") {
                            window.maxRetries = try reader.integer(field)
                        }
                    }
                    return window
                }
            }
        }
        return download
    }

    /// An `Operations` element; its `xsi:type` names the concrete struct. Without one the kind is
    /// inferred from the fields: no URL is an uninstall, a Version an update, otherwise an install.
    private func readDUOperation(_ element: XMLElement) throws(CWMPDecodingError) -> ACSRequest.DUOperation {
        var url: String?
        var uuid = ""
        var username = ""
        var password = ""
        var environment = ""
        var version: String?
        for field in element.children {
            if field.isNamed("URL") {
                url = field.trimmedText
            } else if field.isNamed("UUID") {
                uuid = field.trimmedText
            } else if field.isNamed("Username") {
                username = raw(field)
            } else if field.isNamed("Password") {
                password = raw(field)
            } else if field.isNamed("ExecutionEnvRef") {
                environment = field.trimmedText
            } else if field.isNamed("Version") {
                version = field.trimmedText
            }
        }
        let declared = element.xsiType.map(CString.localPart)
        switch declared {
        case "InstallOpStruct"?:
            return .install(url: url ?? "", uuid: uuid, username: username, password: password, executionEnvRef: environment)
        case "UpdateOpStruct"?:
            return .update(uuid: uuid, version: version ?? "", url: url ?? "", username: username, password: password)
        case "UninstallOpStruct"?:
            return .uninstall(uuid: uuid, version: version ?? "", executionEnvRef: environment)
        case let other?:
            throw CWMPDecodingError(.invalidValue, "<Operations> has unknown xsi:type \(other)", line: element.line)
        case nil:
            if url == nil { return .uninstall(uuid: uuid, version: version ?? "", executionEnvRef: environment) }
            if let version { return .update(uuid: uuid, version: version, url: url ?? "", username: username, password: password) }
            return .install(url: url ?? "", uuid: uuid, username: username, password: password, executionEnvRef: environment)
        }
    }

    // MARK: ACS responses

    /// nil when the element is not an ACS response.
    mutating func readACSResponse(_ rpc: XMLElement) throws(CWMPDecodingError) -> ACSResponse? {
        if rpc.isNamed("InformResponse") {
            guard let element = rpc.child("MaxEnvelopes") else { return .inform(maxEnvelopes: 1) }
            return .inform(maxEnvelopes: try integer(element))
        }
        if rpc.isNamed("TransferCompleteResponse") { return .transferComplete }
        if rpc.isNamed("AutonomousTransferCompleteResponse") { return .autonomousTransferComplete }
        if rpc.isNamed("GetRPCMethodsResponse") {
            guard let list = rpc.child("MethodList") else { return .getRPCMethods(methods: []) }
            return .getRPCMethods(methods: strings(list))
        }
        if rpc.isNamed("RequestDownloadResponse") { return .requestDownload }
        if rpc.isNamed("DUStateChangeCompleteResponse") { return .duStateChangeComplete }
        if rpc.isNamed("AutonomousDUStateChangeCompleteResponse") { return .autonomousDUStateChangeComplete }
        if rpc.isNamed("KickedResponse") { return .kicked(nextURL: rpc.child("NextURL").map { trimmed($0) } ?? "") }
        return nil
    }
}
