import AsyncHTTPClient
import CWMP
import Foundation
import Logging
import TandemCore

/// Downloads, uploads and deployment-unit changes, carried out between sessions as a device does,
/// and reported in the next session with `7 TRANSFER COMPLETE` + TransferComplete (or
/// `11 DU STATE CHANGE COMPLETE` + DUStateChangeComplete).
extension SimulatedCPE {
    func perform(_ transfer: Transfer, client: HTTPClient) async throws {
        guard let index = transfers.firstIndex(where: { $0.id == transfer.id }) else { return }
        transfers[index].state = 2
        phase = .transferring
        let files = FileTransferClient(client: client, timeout: configuration.transferTimeout, userAgent: userAgent)
        let start = Date()
        var fault = CWMPTransferFault.success
        var installsFirmware = false

        switch transfer.kind {
        case .download, .scheduledDownload:
            let (url, username, password, target): (String, String, String, String)
            switch transfer.kind {
            case .download(let d): (url, username, password, target) = (d.url, d.username, d.password, d.targetFileName)
            case .scheduledDownload(let d): (url, username, password, target) = (d.url, d.username, d.password, d.targetFileName)
            case .upload: fatalError("unreachable")
            }
            if let end = transfer.windowEnd, ContinuousClock.now > end {
                fault = CWMPTransferFault(code: .downloadWindowMissed, message: "the time windows passed before the download could start")
                break
            }
            switch await files.download(url: url, username: username, password: password) {
            case .failed(let failure):
                fault = failure
            case .file(let bytes):
                let fileName = target.isEmpty ? (URL(string: url)?.lastPathComponent ?? url) : target
                if transfer.fileType.hasPrefix("1 ") {
                    if let version = SimulatedFiles.firmwareVersion(of: bytes, fileName: fileName) {
                        model.set(root + "DeviceInfo.SoftwareVersion", .string(version))
                        model.set(root + "USPAgent.SoftwareVersion", .string(version))
                        installsFirmware = true
                        logger.debug("firmware \(version) downloaded from \(url)")
                    } else {
                        fault = CWMPTransferFault(code: .fileCorrupted, message: "the image is empty")
                    }
                } else if transfer.fileType.hasPrefix("3 ") {
                    if SimulatedFiles.applyConfiguration(bytes, to: &model) == nil {
                        fault = CWMPTransferFault(code: .fileCorrupted, message: "no setting of this device in the file")
                    } else {
                        reschedulePeriodic()
                    }
                }
            }
        case .upload(let upload):
            let isLog = Self.uploadFileType(upload.fileType).map { $0 == 2 || $0 == 4 } ?? false
            let body = isLog
                ? SimulatedFiles.logFile(sessions: history, deviceID: deviceID)
                : SimulatedFiles.configurationFile(of: model, deviceID: deviceID)
            if let failure = await files.upload(
                url: upload.url, username: upload.username, password: upload.password, body: body,
                contentType: isLog ? "text/plain; charset=utf-8" : "application/octet-stream")
            {
                fault = failure
            }
        }

        transfers.removeAll { $0.id == transfer.id }
        undelivered.append(.transferComplete(CPERequest.TransferComplete(
            commandKey: transfer.commandKey, fault: fault, startTime: CWMPTime(DateTimeValue(start)), completeTime: CWMPTime(DateTimeValue(Date())))))
        let events = [CWMPEvent(code: .transferComplete), CWMPEvent(code: transfer.methodEvent, commandKey: transfer.commandKey)]
        phase = .idle
        if installsFirmware {
            // A new image runs after a reboot; the boot session reports the transfer.
            try await restart(extraEvents: events, factoryReset: false)
        } else {
            addEvents(events)
        }
    }

    /// Applies a ChangeDUState after its session (install, update, uninstall of deployment
    /// units, kept in memory only) and queues DUStateChangeComplete.
    func applyDUStateChange(_ change: ACSRequest.ChangeDUState) {
        var results: [CPERequest.DUOperationResult] = []
        for operation in change.operations {
            let start = CWMPTime(DateTimeValue(Date()))
            func result(_ unit: DeploymentUnit?, uuid: String, state: String, fault: CWMPTransferFault = .success) -> CPERequest.DUOperationResult {
                CPERequest.DUOperationResult(
                    uuid: unit?.uuid ?? uuid, deploymentUnitRef: unit.map { "Device.SoftwareModules.DeploymentUnit.\($0.number)" } ?? "",
                    version: unit?.version ?? "", currentState: state, resolved: fault.isSuccess, startTime: start,
                    completeTime: CWMPTime(DateTimeValue(Date())), fault: fault)
            }
            switch operation {
            case .install(let url, let uuid, _, _, _):
                if !uuid.isEmpty && UUID(uuidString: uuid) == nil {
                    results.append(result(nil, uuid: uuid, state: "Failed", fault: .init(code: .invalidUUID, message: "invalid UUID \(uuid)")))
                } else if !uuid.isEmpty, deploymentUnits.contains(where: { $0.uuid.lowercased() == uuid.lowercased() }) {
                    results.append(result(nil, uuid: uuid, state: "Failed", fault: .init(code: .duplicateDeploymentUnit, message: "already installed")))
                } else {
                    let unit = DeploymentUnit(
                        uuid: uuid.isEmpty ? UUID().uuidString.lowercased() : uuid, url: url, version: Self.version(from: url) ?? "1.0",
                        number: nextDeploymentUnit)
                    nextDeploymentUnit += 1
                    deploymentUnits.append(unit)
                    results.append(result(unit, uuid: unit.uuid, state: "Installed"))
                }
            case .update(let uuid, let version, let url, _, _):
                guard let index = deploymentUnits.firstIndex(where: { uuid.isEmpty ? $0.url == url : $0.uuid.lowercased() == uuid.lowercased() }) else {
                    results.append(result(nil, uuid: uuid, state: "Failed", fault: .init(code: .unknownDeploymentUnit, message: "no such unit")))
                    continue
                }
                if !url.isEmpty { deploymentUnits[index].url = url }
                deploymentUnits[index].version = version.isEmpty ? (Self.version(from: url) ?? deploymentUnits[index].version + ".1") : version
                results.append(result(deploymentUnits[index], uuid: uuid, state: "Installed"))
            case .uninstall(let uuid, let version, _):
                let index = deploymentUnits.firstIndex { $0.uuid.lowercased() == uuid.lowercased() && (version.isEmpty || $0.version == version) }
                guard let index else {
                    results.append(result(nil, uuid: uuid, state: "Failed", fault: .init(code: .unknownDeploymentUnit, message: "no such unit")))
                    continue
                }
                let unit = deploymentUnits.remove(at: index)
                results.append(result(unit, uuid: uuid, state: "Uninstalled"))
            }
        }
        undelivered.append(.duStateChangeComplete(CPERequest.DUStateChangeComplete(results: results, commandKey: change.commandKey)))
        addEvents([CWMPEvent(code: .duStateChangeComplete), CWMPEvent(code: .mChangeDUState, commandKey: change.commandKey ?? "")])
    }

    /// A dotted version in a URL's last component (`app-1.2.3.ipk` gives `1.2.3`).
    static func version(from url: String) -> String? {
        let name = url.split(separator: "/").last.map(String.init) ?? url
        return name.firstMatch(of: #/(\d+(?:\.\d+)+)/#).map { String($0.1) }
    }
}
