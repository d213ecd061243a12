import TandemCore

/// The RPC elements. Argument elements are unqualified (`elementFormDefault="unqualified"`); the
/// RPC element itself is in the cwmp namespace.
extension XMLWriter {
    mutating func body(_ body: CWMPBody) {
        switch body {
        case .cpeRequest(let request): cpeRequest(request)
        case .acsResponse(let response): acsResponse(response)
        case .acsRequest(let request): acsRequest(request)
        case .cpeResponse(let response): cpeResponse(response)
        case .fault(let fault): soapFault(fault)
        case .unknownMethod(let name):
            raw("<cwmp:")
            raw(Self.sanitizedName(name))
            raw("/>")
        }
    }

    /// Element names are only ever method names; anything that is not a valid name is replaced so
    /// that the output stays well-formed.
    static func sanitizedName(_ name: String) -> String {
        let valid = !name.isEmpty && name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F
                || byte == 0x2D || byte == 0x2E
        } && !(name.utf8.first.map { $0 >= 0x30 && $0 <= 0x39 } ?? true)
        return valid ? name : "X_InvalidMethodName"
    }

    // MARK: Scalars

    mutating func boolean(_ value: Bool) {
        switch booleans {
        case .words: raw(value ? "true" : "false")
        case .digits: raw(value ? "1" : "0")
        }
    }

    mutating func element(_ name: StaticString, boolean value: Bool) {
        open(name)
        boolean(value)
        close(name)
    }

    /// A dateTime, without its fraction when the options say so.
    mutating func element(_ name: StaticString, time: CWMPTime) {
        element(name, fractionalSeconds || time.value == nil ? time.text : Self.withoutFraction(time.text))
    }

    static func withoutFraction(_ lexical: String) -> String {
        guard let t = lexical.firstIndex(where: { $0 == "T" || $0 == "t" }),
            let dot = lexical[t...].firstIndex(of: ".")
        else { return lexical }
        let end = lexical[dot...].dropFirst().firstIndex(where: { !$0.isASCII || !$0.isNumber }) ?? lexical.endIndex
        return String(lexical[..<dot] + lexical[end...])
    }

    /// `<Value xsi:type="xsd:T">lexical</Value>` (protocol digest A.2: xsi:type always emitted).
    mutating func value(_ value: TypedValue) {
        raw("<Value xsi:type=\"")
        raw(value.type.xsdName)
        raw("\">")
        switch value {
        case .boolean(let flag): boolean(flag)
        case .dateTime(let time):
            text(fractionalSeconds ? time.lexical : Self.withoutFraction(time.lexical))
        default: text(value.lexical)
        }
        close("Value")
    }

    // MARK: Arrays

    mutating func strings(_ name: StaticString, _ values: [String]) {
        openArray(name, itemType: "xsd:string", count: values.count)
        for value in values { element("string", value) }
        close(name)
    }

    mutating func parameterValues(_ parameters: [CWMPParameterValue]) {
        openArray("ParameterList", itemType: "cwmp:ParameterValueStruct", count: parameters.count)
        for parameter in parameters {
            open("ParameterValueStruct")
            element("Name", parameter.name)
            value(parameter.value)
            close("ParameterValueStruct")
        }
        close("ParameterList")
    }

    mutating func transferFault(_ name: StaticString, _ fault: CWMPTransferFault) {
        open(name)
        element("FaultCode", integer: fault.code.rawValue)
        element("FaultString", fault.message)
        close(name)
    }

    // MARK: CPE requests (TR-069 A.3.3, A.4.2)

    mutating func cpeRequest(_ request: CPERequest) {
        switch request {
        case .inform(let inform):
            open("cwmp:Inform")
            open("DeviceId")
            element("Manufacturer", inform.deviceID.manufacturer)
            element("OUI", inform.deviceID.oui)
            element("ProductClass", inform.deviceID.productClass)
            element("SerialNumber", inform.deviceID.serialNumber)
            close("DeviceId")
            openArray("Event", itemType: "cwmp:EventStruct", count: inform.events.count)
            for event in inform.events {
                open("EventStruct")
                element("EventCode", event.code.rawValue)
                element("CommandKey", event.commandKey)
                close("EventStruct")
            }
            close("Event")
            element("MaxEnvelopes", integer: inform.maxEnvelopes)
            element("CurrentTime", time: inform.currentTime)
            element("RetryCount", integer: inform.retryCount)
            parameterValues(inform.parameters)
            close("cwmp:Inform")
        case .transferComplete(let complete):
            open("cwmp:TransferComplete")
            element("CommandKey", complete.commandKey)
            transferFault("FaultStruct", complete.fault)
            element("StartTime", time: complete.startTime)
            element("CompleteTime", time: complete.completeTime)
            close("cwmp:TransferComplete")
        case .autonomousTransferComplete(let complete):
            open("cwmp:AutonomousTransferComplete")
            element("AnnounceURL", complete.announceURL)
            element("TransferURL", complete.transferURL)
            element("IsDownload", boolean: complete.isDownload)
            element("FileType", complete.fileType)
            element("FileSize", integer: complete.fileSize)
            element("TargetFileName", complete.targetFileName)
            transferFault("FaultStruct", complete.fault)
            element("StartTime", time: complete.startTime)
            element("CompleteTime", time: complete.completeTime)
            close("cwmp:AutonomousTransferComplete")
        case .getRPCMethods:
            empty("cwmp:GetRPCMethods")
        case .requestDownload(let request):
            open("cwmp:RequestDownload")
            element("FileType", request.fileType)
            openArray("FileTypeArg", itemType: "cwmp:ArgStruct", count: request.fileTypeArguments.count)
            for argument in request.fileTypeArguments {
                open("ArgStruct")
                element("Name", argument.name)
                element("Value", argument.value)
                close("ArgStruct")
            }
            close("FileTypeArg")
            close("cwmp:RequestDownload")
        case .duStateChangeComplete(let complete):
            open("cwmp:DUStateChangeComplete")
            for result in complete.results { duResult(result) }
            if let key = complete.commandKey { element("CommandKey", key) }
            close("cwmp:DUStateChangeComplete")
        case .autonomousDUStateChangeComplete(let complete):
            open("cwmp:AutonomousDUStateChangeComplete")
            for result in complete.results { duResult(result) }
            close("cwmp:AutonomousDUStateChangeComplete")
        case .kicked(let kicked):
            open("cwmp:Kicked")
            element("Command", kicked.command)
            element("Referer", kicked.referer)
            element("Arg", kicked.argument)
            element("Next", kicked.next)
            close("cwmp:Kicked")
        }
    }

    /// `Results` (OpResultStruct, plus OperationPerformed for AutonOpResultStruct).
    mutating func duResult(_ result: CPERequest.DUOperationResult) {
        open("Results")
        element("UUID", result.uuid)
        element("DeploymentUnitRef", result.deploymentUnitRef)
        element("Version", result.version)
        element("CurrentState", result.currentState)
        element("Resolved", boolean: result.resolved)
        element("ExecutionUnitRefList", result.executionUnitRefList)
        element("StartTime", time: result.startTime)
        element("CompleteTime", time: result.completeTime)
        transferFault("Fault", result.fault)
        if let operation = result.operationPerformed { element("OperationPerformed", operation) }
        close("Results")
    }

    // MARK: ACS responses

    mutating func acsResponse(_ response: ACSResponse) {
        switch response {
        case .inform(let maxEnvelopes):
            open("cwmp:InformResponse")
            element("MaxEnvelopes", integer: maxEnvelopes)
            close("cwmp:InformResponse")
        case .transferComplete: empty("cwmp:TransferCompleteResponse")
        case .autonomousTransferComplete: empty("cwmp:AutonomousTransferCompleteResponse")
        case .getRPCMethods(let methods):
            open("cwmp:GetRPCMethodsResponse")
            strings("MethodList", methods)
            close("cwmp:GetRPCMethodsResponse")
        case .requestDownload: empty("cwmp:RequestDownloadResponse")
        case .duStateChangeComplete: empty("cwmp:DUStateChangeCompleteResponse")
        case .autonomousDUStateChangeComplete: empty("cwmp:AutonomousDUStateChangeCompleteResponse")
        case .kicked(let nextURL):
            open("cwmp:KickedResponse")
            element("NextURL", nextURL)
            close("cwmp:KickedResponse")
        }
    }

    // MARK: ACS requests (TR-069 A.3.1, A.3.2, A.4.1)

    mutating func acsRequest(_ request: ACSRequest) {
        switch request {
        case .getRPCMethods: empty("cwmp:GetRPCMethods")
        case .getParameterNames(let path, let nextLevel):
            open("cwmp:GetParameterNames")
            element("ParameterPath", path)
            element("NextLevel", boolean: nextLevel)
            close("cwmp:GetParameterNames")
        case .getParameterValues(let names):
            open("cwmp:GetParameterValues")
            strings("ParameterNames", names)
            close("cwmp:GetParameterValues")
        case .setParameterValues(let parameters, let key):
            open("cwmp:SetParameterValues")
            parameterValues(parameters)
            element("ParameterKey", key)
            close("cwmp:SetParameterValues")
        case .getParameterAttributes(let names):
            open("cwmp:GetParameterAttributes")
            strings("ParameterNames", names)
            close("cwmp:GetParameterAttributes")
        case .setParameterAttributes(let parameters):
            open("cwmp:SetParameterAttributes")
            openArray("ParameterList", itemType: "cwmp:SetParameterAttributesStruct", count: parameters.count)
            for entry in parameters {
                open("SetParameterAttributesStruct")
                element("Name", entry.name)
                element("NotificationChange", boolean: entry.notificationChange)
                element("Notification", integer: entry.notification)
                element("AccessListChange", boolean: entry.accessListChange)
                strings("AccessList", entry.accessList)
                close("SetParameterAttributesStruct")
            }
            close("ParameterList")
            close("cwmp:SetParameterAttributes")
        case .addObject(let name, let key):
            open("cwmp:AddObject")
            element("ObjectName", name)
            element("ParameterKey", key)
            close("cwmp:AddObject")
        case .deleteObject(let name, let key):
            open("cwmp:DeleteObject")
            element("ObjectName", name)
            element("ParameterKey", key)
            close("cwmp:DeleteObject")
        case .reboot(let key):
            open("cwmp:Reboot")
            element("CommandKey", key)
            close("cwmp:Reboot")
        case .factoryReset: empty("cwmp:FactoryReset")
        case .download(let download):
            open("cwmp:Download")
            element("CommandKey", download.commandKey)
            element("FileType", download.fileType)
            element("URL", download.url)
            element("Username", download.username)
            element("Password", download.password)
            element("FileSize", integer: download.fileSize)
            element("TargetFileName", download.targetFileName)
            element("DelaySeconds", integer: download.delaySeconds)
            element("SuccessURL", download.successURL)
            element("FailureURL", download.failureURL)
            close("cwmp:Download")
        case .upload(let upload):
            open("cwmp:Upload")
            element("CommandKey", upload.commandKey)
            element("FileType", upload.fileType)
            element("URL", upload.url)
            element("Username", upload.username)
            element("Password", upload.password)
            element("DelaySeconds", integer: upload.delaySeconds)
            close("cwmp:Upload")
        case .scheduleInform(let delay, let key):
            open("cwmp:ScheduleInform")
            element("DelaySeconds", integer: delay)
            element("CommandKey", key)
            close("cwmp:ScheduleInform")
        case .scheduleDownload(let download):
            open("cwmp:ScheduleDownload")
            element("CommandKey", download.commandKey)
            element("FileType", download.fileType)
            element("URL", download.url)
            element("Username", download.username)
            element("Password", download.password)
            element("FileSize", integer: download.fileSize)
            element("TargetFileName", download.targetFileName)
            openArray("TimeWindowList", itemType: "cwmp:TimeWindowStruct", count: download.timeWindows.count)
            for window in download.timeWindows {
                open("TimeWindowStruct")
                element("WindowStart", integer: window.windowStart)
                element("WindowEnd", integer: window.windowEnd)
                element("WindowMode", window.windowMode)
                element("UserMessage", window.userMessage)
                element("MaxRetries", integer: window.maxRetries)
                close("TimeWindowStruct")
            }
            close("TimeWindowList")
            close("cwmp:ScheduleDownload")
        case .cancelTransfer(let key):
            open("cwmp:CancelTransfer")
            element("CommandKey", key)
            close("cwmp:CancelTransfer")
        case .changeDUState(let change):
            open("cwmp:ChangeDUState")
            for operation in change.operations { duOperation(operation) }
            if let key = change.commandKey { element("CommandKey", key) }
            close("cwmp:ChangeDUState")
        case .getQueuedTransfers: empty("cwmp:GetQueuedTransfers")
        case .getAllQueuedTransfers: empty("cwmp:GetAllQueuedTransfers")
        case .setVouchers(let vouchers):
            open("cwmp:SetVouchers")
            openArray("VoucherList", itemType: "soapenc:base64", count: vouchers.count)
            for voucher in vouchers { element("base64", TypedValue.base64(voucher).lexical) }
            close("VoucherList")
            close("cwmp:SetVouchers")
        case .getOptions(let name):
            open("cwmp:GetOptions")
            element("OptionName", name)
            close("cwmp:GetOptions")
        }
    }

    /// One `Operations` element with the concrete struct as its `xsi:type`; optional fields are
    /// written only when set.
    mutating func duOperation(_ operation: ACSRequest.DUOperation) {
        raw("<Operations xsi:type=\"cwmp:")
        raw(operation.structName)
        raw("\">")
        func optional(_ name: StaticString, _ value: String, into writer: inout XMLWriter) {
            if !value.isEmpty { writer.element(name, value) }
        }
        switch operation {
        case .install(let url, let uuid, let username, let password, let environment):
            element("URL", url)
            optional("UUID", uuid, into: &self)
            optional("Username", username, into: &self)
            optional("Password", password, into: &self)
            optional("ExecutionEnvRef", environment, into: &self)
        case .update(let uuid, let version, let url, let username, let password):
            optional("UUID", uuid, into: &self)
            optional("Version", version, into: &self)
            optional("URL", url, into: &self)
            optional("Username", username, into: &self)
            optional("Password", password, into: &self)
        case .uninstall(let uuid, let version, let environment):
            element("UUID", uuid)
            optional("Version", version, into: &self)
            optional("ExecutionEnvRef", environment, into: &self)
        }
        close("Operations")
    }

    // MARK: CPE responses

    mutating func cpeResponse(_ response: CPEResponse) {
        switch response {
        case .getRPCMethods(let methods):
            open("cwmp:GetRPCMethodsResponse")
            strings("MethodList", methods)
            close("cwmp:GetRPCMethodsResponse")
        case .getParameterNames(let parameters):
            open("cwmp:GetParameterNamesResponse")
            openArray("ParameterList", itemType: "cwmp:ParameterInfoStruct", count: parameters.count)
            for parameter in parameters {
                open("ParameterInfoStruct")
                element("Name", parameter.name)
                element("Writable", boolean: parameter.writable)
                close("ParameterInfoStruct")
            }
            close("ParameterList")
            close("cwmp:GetParameterNamesResponse")
        case .getParameterValues(let parameters):
            open("cwmp:GetParameterValuesResponse")
            parameterValues(parameters)
            close("cwmp:GetParameterValuesResponse")
        case .setParameterValues(let status):
            open("cwmp:SetParameterValuesResponse")
            element("Status", integer: status)
            close("cwmp:SetParameterValuesResponse")
        case .getParameterAttributes(let parameters):
            open("cwmp:GetParameterAttributesResponse")
            openArray("ParameterList", itemType: "cwmp:ParameterAttributeStruct", count: parameters.count)
            for parameter in parameters {
                open("ParameterAttributeStruct")
                element("Name", parameter.name)
                element("Notification", integer: parameter.notification)
                strings("AccessList", parameter.accessList)
                close("ParameterAttributeStruct")
            }
            close("ParameterList")
            close("cwmp:GetParameterAttributesResponse")
        case .setParameterAttributes: empty("cwmp:SetParameterAttributesResponse")
        case .addObject(let instance, let status):
            open("cwmp:AddObjectResponse")
            element("InstanceNumber", integer: instance)
            element("Status", integer: status)
            close("cwmp:AddObjectResponse")
        case .deleteObject(let status):
            open("cwmp:DeleteObjectResponse")
            element("Status", integer: status)
            close("cwmp:DeleteObjectResponse")
        case .reboot: empty("cwmp:RebootResponse")
        case .factoryReset: empty("cwmp:FactoryResetResponse")
        case .download(let status):
            open("cwmp:DownloadResponse")
            transferStatus(status)
            close("cwmp:DownloadResponse")
        case .upload(let status):
            open("cwmp:UploadResponse")
            transferStatus(status)
            close("cwmp:UploadResponse")
        case .scheduleInform: empty("cwmp:ScheduleInformResponse")
        case .scheduleDownload: empty("cwmp:ScheduleDownloadResponse")
        case .cancelTransfer: empty("cwmp:CancelTransferResponse")
        case .changeDUState: empty("cwmp:ChangeDUStateResponse")
        case .getQueuedTransfers(let transfers):
            open("cwmp:GetQueuedTransfersResponse")
            openArray("TransferList", itemType: "cwmp:QueuedTransferStruct", count: transfers.count)
            for transfer in transfers {
                open("QueuedTransferStruct")
                element("CommandKey", transfer.commandKey)
                element("State", integer: transfer.state)
                close("QueuedTransferStruct")
            }
            close("TransferList")
            close("cwmp:GetQueuedTransfersResponse")
        case .getAllQueuedTransfers(let transfers):
            open("cwmp:GetAllQueuedTransfersResponse")
            openArray("TransferList", itemType: "cwmp:AllQueuedTransferStruct", count: transfers.count)
            for transfer in transfers {
                open("AllQueuedTransferStruct")
                element("CommandKey", transfer.commandKey)
                element("State", integer: transfer.state)
                element("IsDownload", boolean: transfer.isDownload)
                element("FileType", transfer.fileType)
                element("FileSize", integer: transfer.fileSize)
                element("TargetFileName", transfer.targetFileName)
                close("AllQueuedTransferStruct")
            }
            close("TransferList")
            close("cwmp:GetAllQueuedTransfersResponse")
        case .setVouchers: empty("cwmp:SetVouchersResponse")
        case .getOptions(let options):
            open("cwmp:GetOptionsResponse")
            openArray("OptionList", itemType: "cwmp:OptionStruct", count: options.count)
            for option in options {
                open("OptionStruct")
                element("OptionName", option.optionName)
                element("VoucherSN", integer: option.voucherSN)
                element("State", integer: option.state)
                element("Mode", integer: option.mode)
                element("StartDate", time: option.startDate)
                if let expiration = option.expirationDate { element("ExpirationDate", time: expiration) }
                element("IsTransferable", integer: option.isTransferable)
                close("OptionStruct")
            }
            close("OptionList")
            close("cwmp:GetOptionsResponse")
        }
    }

    mutating func transferStatus(_ status: CPEResponse.TransferStatus) {
        element("Status", integer: status.status)
        element("StartTime", time: status.startTime)
        element("CompleteTime", time: status.completeTime)
    }

    // MARK: Fault (TR-069 A.5)

    mutating func soapFault(_ fault: CWMPFault) {
        open("soapenv:Fault")
        element("faultcode", fault.soapFaultCode)
        element("faultstring", fault.soapFaultString)
        open("detail")
        open("cwmp:Fault")
        element("FaultCode", integer: fault.code.rawValue)
        element("FaultString", fault.message)
        for entry in fault.parameterFaults {
            open("SetParameterValuesFault")
            element("ParameterName", entry.parameterName)
            element("FaultCode", integer: entry.code.rawValue)
            element("FaultString", entry.message)
            close("SetParameterValuesFault")
        }
        close("cwmp:Fault")
        close("detail")
        close("soapenv:Fault")
    }
}
