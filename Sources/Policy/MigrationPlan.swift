import Foundation
import TandemCore

/// Moving a set of CWMP devices onto USP in waves (protocol digest D.2): write the USP agent's
/// settings over CWMP, wait for the agent to connect and answer, optionally switch CWMP off, and
/// roll back what was written when the agent does not come.
public struct MigrationPlan: Hashable, Sendable {
    public var name: String
    public var selector: DeviceSelector
    public var target: MigrationTarget
    /// The controller endpoint ID the agents are told to reach (Tandem's own).
    public var controllerEndpointID: String
    /// Vendor parameter sets used instead of the built-in TR-181 template for the devices they
    /// select; the first matching one wins.
    public var vendorTemplates: [VendorTemplate]
    /// Cumulative shares: wave i covers the devices whose bucket is below `waves[i].percent`.
    public var waves: [Wave]
    /// Devices started per hour at most (nil: no limit).
    public var maxPerHour: Int?
    /// UTC windows in which devices may be started (empty: any time).
    public var maintenanceWindows: [MaintenanceWindow]
    /// Seconds from the last setting written to the agent's answered Get.
    public var verifyWithinSeconds: Int
    /// After verification, set EnableCWMP false over USP.
    public var disableCWMP: Bool
    /// A wave pauses the migration when more than this share of its finished devices failed.
    public var pauseAboveFailureRatio: Double
    /// The failure ratio counts once a wave has this many finished devices.
    public var minimumSample: Int

    public init(
        name: String, selector: DeviceSelector = DeviceSelector(), target: MigrationTarget, controllerEndpointID: String,
        vendorTemplates: [VendorTemplate] = [], waves: [Wave] = [Wave(name: "all", percent: 100)], maxPerHour: Int? = nil,
        maintenanceWindows: [MaintenanceWindow] = [], verifyWithinSeconds: Int = 600, disableCWMP: Bool = false,
        pauseAboveFailureRatio: Double = 0.2, minimumSample: Int = 5
    ) {
        self.name = name
        self.selector = selector
        self.target = target
        self.controllerEndpointID = controllerEndpointID
        self.vendorTemplates = vendorTemplates
        self.waves = waves
        self.maxPerHour = maxPerHour
        self.maintenanceWindows = maintenanceWindows
        self.verifyWithinSeconds = verifyWithinSeconds
        self.disableCWMP = disableCWMP
        self.pauseAboveFailureRatio = pauseAboveFailureRatio
        self.minimumSample = minimumSample
    }

    /// The wave a device falls in, by its stable bucket (salted with the migration's name), or nil
    /// when the last wave covers less than the whole fleet and the device is outside it.
    public func wave(forKey key: String) -> Int? {
        let bucket = StableBucket.percentile(of: key, salt: name)
        return waves.firstIndex { bucket < $0.percent }
    }

    public struct Wave: Hashable, Sendable {
        public var name: String
        /// Cumulative percentage of the selected devices, (0, 100].
        public var percent: Double

        public init(name: String, percent: Double) {
            self.name = name
            self.percent = percent
        }
    }
}

/// Where the migrated agents connect.
public enum MigrationTarget: Hashable, Sendable {
    /// An MQTT broker; the agent subscribes to `agentTopic` (`{endpointID}` is replaced) and sends to
    /// `controllerTopic`.
    case mqtt(host: String, port: Int, protocolVersion: String, agentTopic: String, controllerTopic: String)
    /// Tandem's WebSocket MTP, which the agent dials.
    case webSocket(host: String, port: Int, path: String, encrypted: Bool)
    /// A STOMP broker with the agent's and the controller's destinations.
    case stomp(host: String, port: Int, agentDestination: String, controllerDestination: String)

    public var mtpName: String {
        switch self {
        case .mqtt: "MQTT"
        case .webSocket: "WebSocket"
        case .stomp: "STOMP"
        }
    }
}

/// A vendor-specific parameter set that turns the agent on (older firmware with `X_` parameters).
public struct VendorTemplate: Hashable, Sendable {
    public var name: String
    public var selector: DeviceSelector
    /// Parameters to set; values may hold `{{endpointID}}`, `{{controllerEndpointID}}`, `{{oui}}`,
    /// `{{productClass}}`, `{{serialNumber}}`, `{{host}}`, `{{port}}`, `{{agentTopic}}`,
    /// `{{controllerTopic}}`, `{{path}}`.
    public var parameters: [DesiredParameter]

    public init(name: String, selector: DeviceSelector, parameters: [DesiredParameter]) {
        self.name = name
        self.selector = selector
        self.parameters = parameters
    }
}

/// `HH:MM-HH:MM` in UTC; a window that ends before it starts spans midnight.
public struct MaintenanceWindow: Hashable, Sendable, CustomStringConvertible {
    public var startMinute: Int
    public var endMinute: Int

    public init(parsing text: String) throws(PolicyProblem) {
        let parts = text.split(separator: "-")
        guard parts.count == 2, let start = Self.minute(parts[0]), let end = Self.minute(parts[1]), start != end else {
            throw PolicyProblem("bad maintenance window \"\(text)\": expected HH:MM-HH:MM in UTC, such as 01:00-05:00")
        }
        startMinute = start
        endMinute = end
    }

    /// Whether `minuteOfDay` (UTC, 0..<1440) lies in the window.
    public func contains(minuteOfDay: Int) -> Bool {
        startMinute < endMinute
            ? (startMinute..<endMinute).contains(minuteOfDay)
            : minuteOfDay >= startMinute || minuteOfDay < endMinute
    }

    public var description: String {
        func text(_ m: Int) -> String {
            let h = m / 60, mm = m % 60
            return (h < 10 ? "0" : "") + String(h) + ":" + (mm < 10 ? "0" : "") + String(mm)
        }
        return text(startMinute) + "-" + text(endMinute)
    }

    private static func minute(_ text: Substring) -> Int? {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: ":")
        guard parts.count == 2, parts[0].count <= 2, parts[1].count == 2, let h = Int(parts[0]), let m = Int(parts[1]),
            (0..<24).contains(h), (0..<60).contains(m)
        else { return nil }
        return h * 60 + m
    }
}
