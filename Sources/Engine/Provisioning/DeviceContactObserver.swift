import Policy
import Registry
import Synchronization
import TandemCore

/// Told about device contacts by the CWMP session manager and the USP controller, so that
/// provisioning policies and migrations can queue work while the device is reachable.
public protocol DeviceContactObserver: Sendable {
    /// A contact began: an Inform (with the triggers its events stand for), a USP connection,
    /// OnBoardRequest or Boot!.
    func contactStarted(deviceID: Int64, over protocol: ManagementProtocol, triggers: Set<PolicyTrigger>) async
    /// The device has no queued work it can run over `protocol`; returns true when the observer
    /// queued more (the CWMP session then stays open for it instead of ending with 204).
    func deviceIdle(deviceID: Int64, over protocol: ManagementProtocol) async -> Bool
    /// Whether anything is in force (policies or migrations). Read without a hop on every contact:
    /// when false, the callers skip the observer altogether.
    var hasWork: Bool { get }
}

/// Where the composition root puts the observer once everything it needs exists; the session
/// manager and the controller are built before it.
public final class DeviceContactObservers: Sendable {
    private let slot = Mutex<(any DeviceContactObserver)?>(nil)

    public init() {}

    public func set(_ observer: (any DeviceContactObserver)?) { slot.withLock { $0 = observer } }

    public var current: (any DeviceContactObserver)? { slot.withLock { $0 } }

    /// The observer when it has anything in force, else nil: the hot paths' check.
    public var active: (any DeviceContactObserver)? {
        guard let observer = current, observer.hasWork else { return nil }
        return observer
    }
}

extension PolicyTrigger {
    /// The triggers of an Inform's event codes (TR-069 A.5): every Inform is a `connect`.
    public static func forInform(eventCodes: [String]) -> Set<PolicyTrigger> {
        var triggers: Set<PolicyTrigger> = [.connect]
        for code in eventCodes {
            switch code {
            case "0 BOOTSTRAP": triggers.insert(.bootstrap)
            case "1 BOOT": triggers.insert(.boot)
            case "2 PERIODIC": triggers.insert(.periodic)
            default: break
            }
        }
        return triggers
    }
}

extension DeviceFacts {
    /// What the policy language sees of a registry row: its identity, tags and stored parameters,
    /// with a TR-098 device's parameters under their TR-181 names (`PathAliases`).
    public init(device: Device, parameters: [StoredParameter]) {
        let tr098 = device.dataModelRoot == "InternetGatewayDevice"
        var values: [String: TypedValue] = [:]
        values.reserveCapacity(parameters.count)
        for parameter in parameters {
            guard let value = parameter.value else { continue }
            if tr098 {
                if let path = PathAliases.tr181(for: parameter.path) { values[path] = value }
            } else {
                values[parameter.path] = value
            }
        }
        self.init(
            key: device.cwmpDeviceID ?? device.uspEndpointID ?? String(device.id), manufacturer: device.manufacturer, oui: device.oui,
            productClass: device.productClass, serialNumber: device.serialNumber, softwareVersion: device.softwareVersion,
            tags: Set(device.tags), activeProtocol: device.activeProtocol, parameters: values)
    }
}
