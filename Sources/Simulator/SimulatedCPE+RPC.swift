import CWMP
import Foundation
import Logging
import TandemCore

/// The device's answers to ACS requests (TR-069 A.3.2, A.4.1).
extension SimulatedCPE {
    /// The methods GetRPCMethods lists: every ACS-to-CPE method this device implements.
    public static let supportedMethods = [
        "GetRPCMethods", "GetParameterNames", "GetParameterValues", "SetParameterValues", "GetParameterAttributes",
        "SetParameterAttributes", "AddObject", "DeleteObject", "Reboot", "FactoryReset", "Download", "Upload", "ScheduleInform",
        "ScheduleDownload", "CancelTransfer", "ChangeDUState", "GetQueuedTransfers", "GetAllQueuedTransfers",
    ]

    /// Download file types the device accepts (TR-069 A.3.2.8).
    static let downloadFileTypes = ["1 Firmware Upgrade Image", "2 Web Content", "3 Vendor Configuration File", "4 Tone File", "5 Ringer File"]
    /// Upload file types (A.4.1.5): the numbered variants `3 Vendor Configuration File <n>` too.
    static let uploadFileTypes = ["1 Vendor Configuration File", "2 Vendor Log File"]

    func handle(_ request: ACSRequest) -> Result<CPEResponse, CWMPFault> {
        do throws(CWMPFault) {
            return .success(try respond(to: request))
        } catch {
            return .failure(error)
        }
    }

    private func respond(to request: ACSRequest) throws(CWMPFault) -> CPEResponse {
        switch request {
        case .getRPCMethods:
            return .getRPCMethods(methods: Self.supportedMethods)

        case .getParameterNames(let path, let nextLevel):
            return .getParameterNames(parameters: try model.getParameterNames(path: path, nextLevel: nextLevel))

        case .getParameterValues(let names):
            guard !names.isEmpty else { throw CWMPFault(code: .invalidArguments, message: "no parameter names") }
            refreshDynamicValues()
            return .getParameterValues(parameters: try model.getParameterValues(names: names))

        case .setParameterValues(let parameters, let parameterKey):
            guard !parameters.isEmpty else { throw CWMPFault(code: .invalidArguments, message: "empty ParameterList") }
            let writes = try model.setParameterValues(parameters, parameterKey: parameterKey)
            applied(writes)
            return .setParameterValues(status: 0)

        case .getParameterAttributes(let names):
            guard !names.isEmpty else { throw CWMPFault(code: .invalidArguments, message: "no parameter names") }
            return .getParameterAttributes(parameters: try model.getParameterAttributes(names: names))

        case .setParameterAttributes(let parameters):
            guard !parameters.isEmpty else { throw CWMPFault(code: .invalidArguments, message: "empty ParameterList") }
            try model.setParameterAttributes(parameters)
            return .setParameterAttributes

        case .addObject(let objectName, let parameterKey):
            let number = try model.addObject(objectName, parameterKey: parameterKey)
            applied([.objectAdded(path: "\(objectName)\(number).")])
            return .addObject(instanceNumber: number, status: 0)

        case .deleteObject(let objectName, let parameterKey):
            try model.deleteObject(objectName, parameterKey: parameterKey)
            applied([.objectDeleted(path: objectName)])
            return .deleteObject(status: 0)

        case .reboot(let commandKey):
            try checkCommandKey(commandKey)
            postSession.append(.reboot(commandKey: commandKey))
            return .reboot

        case .factoryReset:
            postSession.append(.factoryReset)
            return .factoryReset

        case .download(let download):
            try checkCommandKey(download.commandKey)
            try checkTransferURL(download.url)
            guard Self.downloadFileTypes.contains(download.fileType) || Self.isVendorFileType(download.fileType) else {
                throw CWMPFault(code: .invalidArguments, message: "unsupported FileType \"\(download.fileType)\"")
            }
            try queue(.download(download), after: download.delaySeconds, windowEnd: nil)
            return .download(CPEResponse.TransferStatus(status: 1))

        case .upload(let upload):
            try checkCommandKey(upload.commandKey)
            try checkTransferURL(upload.url)
            guard Self.uploadFileType(upload.fileType) != nil || Self.isVendorFileType(upload.fileType) else {
                throw CWMPFault(code: .invalidArguments, message: "unsupported FileType \"\(upload.fileType)\"")
            }
            try queue(.upload(upload), after: upload.delaySeconds, windowEnd: nil)
            return .upload(CPEResponse.TransferStatus(status: 1))

        case .scheduleInform(let delaySeconds, let commandKey):
            try checkCommandKey(commandKey)
            guard delaySeconds > 0 else { throw CWMPFault(code: .invalidArguments, message: "DelaySeconds must be greater than 0") }
            scheduledInforms.append((ContinuousClock.now + .seconds(Int64(delaySeconds)), commandKey))
            return .scheduleInform

        case .scheduleDownload(let download):
            try checkCommandKey(download.commandKey)
            try checkTransferURL(download.url)
            guard download.fileType.hasPrefix("1 ") || download.fileType.hasPrefix("3 ") || Self.isVendorFileType(download.fileType) else {
                throw CWMPFault(code: .invalidArguments, message: "unsupported FileType \"\(download.fileType)\"")
            }
            guard (1...2).contains(download.timeWindows.count),
                download.timeWindows.allSatisfy({ $0.windowEnd > $0.windowStart }),
                download.timeWindows.count == 1 || download.timeWindows[1].windowStart >= download.timeWindows[0].windowEnd
            else {
                throw CWMPFault(code: .invalidArguments, message: "one or two ordered, non-overlapping time windows are required")
            }
            let first = download.timeWindows[0]
            try queue(.scheduledDownload(download), after: first.windowStart, windowEnd: download.timeWindows.last!.windowEnd)
            return .scheduleDownload

        case .cancelTransfer(let commandKey):
            if let index = transfers.firstIndex(where: { $0.commandKey == commandKey && $0.state == 1 }) {
                transfers.remove(at: index)
                return .cancelTransfer
            }
            if transfers.contains(where: { $0.commandKey == commandKey }) {
                throw CWMPFault(code: .cancelNotPermitted, message: "the transfer \(commandKey) is in progress")
            }
            throw CWMPFault(code: .invalidArguments, message: "no queued transfer has CommandKey \"\(commandKey)\"")

        case .changeDUState(let change):
            guard !change.operations.isEmpty else { throw CWMPFault(code: .invalidArguments, message: "no operations") }
            try checkCommandKey(change.commandKey ?? "")
            postSession.append(.changeDUState(change))
            return .changeDUState

        case .getQueuedTransfers:
            return .getQueuedTransfers(transfers: transfers.map { CPEResponse.QueuedTransfer(commandKey: $0.commandKey, state: $0.state) })

        case .getAllQueuedTransfers:
            return .getAllQueuedTransfers(transfers: transfers.map { transfer in
                var size: UInt32 = 0
                var target = ""
                switch transfer.kind {
                case .download(let d): (size, target) = (d.fileSize, d.targetFileName)
                case .scheduledDownload(let d): (size, target) = (d.fileSize, d.targetFileName)
                case .upload: break
                }
                return CPEResponse.AllQueuedTransfer(
                    commandKey: transfer.commandKey, state: transfer.state, isDownload: transfer.isDownload, fileType: transfer.fileType,
                    fileSize: size, targetFileName: target)
            })

        case .setVouchers, .getOptions:
            throw CWMPFault(code: .methodNotSupported, message: "\(request.methodName) is not supported")
        }
    }

    /// Side effects of writes by the ACS (or, on a dual-stack device, by the USP Controller):
    /// periodic Inform rescheduled, bootstrap after an ACS URL change, CWMP switched off or on, the
    /// USP agent started, stopped or asked to on-board, and the `onWrite` hook.
    func applied(_ writes: [DataModelWrite]) {
        var periodicChanged = false
        for write in writes {
            guard case .parameter(let path, let oldValue, let newValue) = write else { continue }
            switch path.dropFirst(root.count) {
            case "ManagementServer.PeriodicInformEnable", "ManagementServer.PeriodicInformInterval", "ManagementServer.PeriodicInformTime":
                periodicChanged = true
            case "ManagementServer.URL" where oldValue != newValue:
                postSession.append(.bootstrap)
            case "ManagementServer.EnableCWMP" where oldValue != newValue:
                // TR-181 ManagementServer.EnableCWMP: false means no Informs and no connection
                // requests; only a factory reset (or the LAN side, here USP) turns it back on.
                periodicChanged = true
                logger.notice(newValue == .boolean(false) ? "CWMP disabled" : "CWMP enabled")
            default:
                break
            }
        }
        if periodicChanged { reschedulePeriodic() }
        uspConfigurationWritten(writes)
        configuration.onWrite?(WriteNotice(deviceID: deviceID, writes: writes, model: model))
        wake.signal()
    }

    private func checkCommandKey(_ commandKey: String) throws(CWMPFault) {
        guard commandKey.count <= 32 else { throw CWMPFault(code: .invalidArguments, message: "CommandKey longer than 32 characters") }
    }

    private func checkTransferURL(_ url: String) throws(CWMPFault) {
        guard url.count <= 1024, let scheme = URL(string: url)?.scheme?.lowercased() else {
            throw CWMPFault(code: .invalidArguments, message: "invalid URL \"\(url)\"")
        }
        guard scheme == "http" || scheme == "https" else {
            throw CWMPFault(code: .unsupportedTransferProtocol, message: "\(scheme) transfers are not supported")
        }
    }

    private func queue(_ kind: Transfer.Kind, after delaySeconds: UInt32, windowEnd: UInt32?) throws(CWMPFault) {
        guard transfers.count < 16 else { throw CWMPFault(code: .resourcesExceeded, message: "16 transfers are already queued") }
        let now = ContinuousClock.now
        transfers.append(Transfer(
            id: nextTransferID, kind: kind, due: now + .seconds(Int64(delaySeconds)), windowEnd: windowEnd.map { now + .seconds(Int64($0)) }))
        nextTransferID += 1
    }

    /// `X <OUI> <name>` vendor file types.
    static func isVendorFileType(_ fileType: String) -> Bool {
        let parts = fileType.split(separator: " ", maxSplits: 2)
        return parts.count == 3 && parts[0] == "X" && parts[1].count == 6 && parts[1].allSatisfy(\.isHexDigit)
    }

    /// `1`/`3` for configuration files, `2`/`4` for log files, nil for other types.
    static func uploadFileType(_ fileType: String) -> Int? {
        if uploadFileTypes.contains(fileType) { return Int(fileType.prefix(1)) }
        for (prefix, number) in [("3 Vendor Configuration File ", 3), ("4 Vendor Log File ", 4)] where fileType.hasPrefix(prefix) {
            if Int(fileType.dropFirst(prefix.count)) != nil { return number }
        }
        return nil
    }
}
