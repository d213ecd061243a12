import CWMP
import Logging
import TandemCore

/// Many simulated CPEs of one product, sharing a connection request listener and a limit on
/// sessions running at once. Serial numbers are `serialPrefix` + a zero-padded index.
///
/// `run()` runs every device until cancelled; `runBootSessions()` has each device do one boot
/// session. Everything runs in task groups under the caller's task.
public final class SimulatedFleet: Sendable {
    public struct Configuration: Sendable {
        public var count: Int
        public var serialPrefix: String
        /// The index of the first device; serial numbers count up from it.
        public var firstIndex: Int
        /// Digits of the index in the serial number (zero-padded).
        public var serialDigits: Int
        public var manufacturer: String
        public var oui: String
        public var productClass: String
        public var modelName: String
        public var hardwareVersion: String
        public var softwareVersion: String
        public var variant: DataModelVariant
        public var acsURL: String
        /// ACS credentials per device, expanded by `DeviceProfile.expand` (`{serial}`, `{oui}`,
        /// `{productClass}`, `{index}`, `{deviceId}`). An ACS that does not challenge is not answered.
        public var usernameTemplate: String
        public var passwordTemplate: String
        /// Connection request credentials per device, same placeholders.
        public var connectionRequestUsernameTemplate: String
        public var connectionRequestPasswordTemplate: String
        public var periodicInformEnable: Bool
        public var periodicInformInterval: UInt32
        /// Sessions running at once across the fleet.
        public var concurrency: Int
        public var connectionRequest: ConnectionRequestServer.Configuration
        /// Settings of each device (its profile is set per device).
        public var device: DeviceOptions
        /// Devices (spread evenly over the fleet) whose USP agent never comes up
        /// (`DualStackOptions.AgentBehaviour.neverConnects`), when `device.dualStack` is set.
        public var uspNeverConnecting: Int
        /// Further devices whose USP agent connects but never answers a Get (`.ignoresGets`).
        public var uspIgnoringGets: Int

        public init(
            count: Int = 1, serialPrefix: String = "SIM", firstIndex: Int = 1, serialDigits: Int = 6, manufacturer: String = "Tandem Simulated Devices",
            oui: String = "ACDE48", productClass: String = "SimGateway", modelName: String = "TSG-1000", hardwareVersion: String = "HW1.0",
            softwareVersion: String = "1.0.0", variant: DataModelVariant = .tr181, acsURL: String,
            usernameTemplate: String = "{deviceId}", passwordTemplate: String = "sim-{serial}",
            connectionRequestUsernameTemplate: String = "{serial}", connectionRequestPasswordTemplate: String = "cr-{serial}",
            periodicInformEnable: Bool = true, periodicInformInterval: UInt32 = 86_400, concurrency: Int = 32,
            connectionRequest: ConnectionRequestServer.Configuration = .init(), device: DeviceOptions = .init(), uspNeverConnecting: Int = 0,
            uspIgnoringGets: Int = 0
        ) {
            self.count = count
            self.serialPrefix = serialPrefix
            self.firstIndex = firstIndex
            self.serialDigits = serialDigits
            self.manufacturer = manufacturer
            self.oui = oui
            self.productClass = productClass
            self.modelName = modelName
            self.hardwareVersion = hardwareVersion
            self.softwareVersion = softwareVersion
            self.variant = variant
            self.acsURL = acsURL
            self.usernameTemplate = usernameTemplate
            self.passwordTemplate = passwordTemplate
            self.connectionRequestUsernameTemplate = connectionRequestUsernameTemplate
            self.connectionRequestPasswordTemplate = connectionRequestPasswordTemplate
            self.periodicInformEnable = periodicInformEnable
            self.periodicInformInterval = periodicInformInterval
            self.concurrency = concurrency
            self.connectionRequest = connectionRequest
            self.device = device
            self.uspNeverConnecting = uspNeverConnecting
            self.uspIgnoringGets = uspIgnoringGets
        }

        /// The USP agent behaviour of the `position`-th device (from 0); nil when the fleet is not
        /// dual-stack. Faulty agents are spread evenly: the never-connecting ones first, then the
        /// ones ignoring Gets among the rest.
        public func uspAgentBehaviour(at position: Int) -> DualStackOptions.AgentBehaviour? {
            guard let dualStack = device.dualStack, (0..<count).contains(position) else { return nil }
            if Self.isPicked(position, of: count, picks: uspNeverConnecting) { return .neverConnects }
            // Rank among the devices not picked above: `position` less the picks before it,
            // floor(position · picks / count) (the sum of isPicked telescopes).
            let picked = min(max(uspNeverConnecting, 0), count)
            let rest = count - picked
            let rank = position - position * picked / count
            if Self.isPicked(rank, of: rest, picks: uspIgnoringGets) { return .ignoresGets }
            return dualStack.agentBehaviour
        }

        /// Whether `position` is one of `picks` positions spread evenly over `0..<total`.
        static func isPicked(_ position: Int, of total: Int, picks: Int) -> Bool {
            let picks = min(max(picks, 0), total)
            guard picks > 0 else { return false }
            return (position + 1) * picks / total > position * picks / total
        }

        /// The serial number of the `position`-th device (from 0).
        public func serialNumber(at position: Int) -> String {
            serialPrefix + String(firstIndex + position).leftPadded(to: serialDigits)
        }

        /// The factory profile of the `position`-th device (from 0).
        public func profile(at position: Int) -> DeviceProfile {
            let serial = serialNumber(at: position)
            func expand(_ template: String) -> String {
                DeviceProfile.expand(template, serialNumber: serial, oui: oui.uppercased(), productClass: productClass, index: firstIndex + position)
            }
            return DeviceProfile(
                manufacturer: manufacturer, oui: oui, productClass: productClass, modelName: modelName, serialNumber: serial,
                hardwareVersion: hardwareVersion, softwareVersion: softwareVersion, variant: variant, acsURL: acsURL,
                acsUsername: expand(usernameTemplate), acsPassword: expand(passwordTemplate),
                connectionRequestUsername: expand(connectionRequestUsernameTemplate),
                connectionRequestPassword: expand(connectionRequestPasswordTemplate), periodicInformEnable: periodicInformEnable,
                periodicInformInterval: periodicInformInterval)
        }
    }

    /// The per-device settings of `SimulatedCPE.Configuration` other than the profile.
    public struct DeviceOptions: Sendable {
        public var namespace: CWMPNamespace
        public var supportedCWMPVersions: [String]?
        public var retryMinimumWait: Duration?
        public var retryMaximumWait: Duration
        public var rebootDuration: Duration
        public var httpTimeout: Duration
        public var transferTimeout: Duration
        public var allowInsecureTLS: Bool
        public var onWrite: (@Sendable (SimulatedCPE.WriteNotice) -> Void)?
        /// Every device is dual-stack with these options (see `Configuration.uspNeverConnecting`).
        public var dualStack: DualStackOptions?

        public init(
            namespace: CWMPNamespace = .v1_0, supportedCWMPVersions: [String]? = nil, retryMinimumWait: Duration? = nil,
            retryMaximumWait: Duration = .seconds(3600), rebootDuration: Duration = .seconds(2), httpTimeout: Duration = .seconds(30),
            transferTimeout: Duration = .seconds(120), allowInsecureTLS: Bool = false, onWrite: (@Sendable (SimulatedCPE.WriteNotice) -> Void)? = nil,
            dualStack: DualStackOptions? = nil
        ) {
            self.namespace = namespace
            self.supportedCWMPVersions = supportedCWMPVersions
            self.retryMinimumWait = retryMinimumWait
            self.retryMaximumWait = retryMaximumWait
            self.rebootDuration = rebootDuration
            self.httpTimeout = httpTimeout
            self.transferTimeout = transferTimeout
            self.allowInsecureTLS = allowInsecureTLS
            self.onWrite = onWrite
            self.dualStack = dualStack
        }

        func configuration(for profile: DeviceProfile, agentBehaviour: DualStackOptions.AgentBehaviour?) -> SimulatedCPE.Configuration {
            var dualStack = dualStack
            if let agentBehaviour { dualStack?.agentBehaviour = agentBehaviour }
            return SimulatedCPE.Configuration(
                profile: profile, namespace: namespace, supportedCWMPVersions: supportedCWMPVersions, retryMinimumWait: retryMinimumWait,
                retryMaximumWait: retryMaximumWait, rebootDuration: rebootDuration, httpTimeout: httpTimeout, transferTimeout: transferTimeout,
                allowInsecureTLS: allowInsecureTLS, onWrite: onWrite, dualStack: dualStack)
        }
    }

    public let configuration: Configuration
    /// In serial-number order.
    public let devices: [SimulatedCPE]
    public let connectionRequestServer: ConnectionRequestServer
    public let gate: SessionGate
    private let bySerial: [String: SimulatedCPE]

    /// Builds the devices; throws when the OUI or a serial number is invalid.
    public init(configuration: Configuration, logger: Logger = Logger(label: "tandem-sim")) throws(IdentityError) {
        guard configuration.count >= 0 else { throw IdentityError("the device count must not be negative") }
        self.configuration = configuration
        var devices: [SimulatedCPE] = []
        for position in 0..<configuration.count {
            let profile = configuration.profile(at: position)
            let device = configuration.device.configuration(for: profile, agentBehaviour: configuration.uspAgentBehaviour(at: position))
            devices.append(try SimulatedCPE(configuration: device, logger: logger))
        }
        self.devices = devices
        self.bySerial = Dictionary(devices.map { ($0.serialNumber, $0) }, uniquingKeysWith: { first, _ in first })
        self.connectionRequestServer = ConnectionRequestServer(configuration: configuration.connectionRequest, devices: devices, logger: logger)
        self.gate = SessionGate(limit: configuration.concurrency)
    }

    /// The device with this serial number.
    public func device(serialNumber: String) -> SimulatedCPE? { bySerial[serialNumber] }

    /// Every device's USP agent, in serial-number order.
    public func uspAgentStatuses() async -> [USPAgentStatus] {
        var out: [USPAgentStatus] = []
        for device in devices { out.append(await device.uspAgentStatus()) }
        return out
    }

    /// Every device's status, in serial-number order.
    public func statuses() async -> [SimulatedCPE.Status] {
        var out: [SimulatedCPE.Status] = []
        for device in devices { out.append(await device.status()) }
        return out
    }

    /// Starts the connection request listener, then every device; runs until cancelled.
    /// `onListening` is called with the listener's base URL before the devices boot.
    public func run(onListening: @Sendable (String) async -> Void = { _ in }) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            let server = connectionRequestServer
            group.addTask { try await server.run() }
            await onListening(try await server.waitUntilListening())
            let gate = self.gate
            for device in devices {
                group.addTask { try await device.run(gate: gate) }
            }
            try await group.waitForAll()
        }
    }

    /// Has every device boot and do one session (retried up to `attempts` times in all), with the
    /// connection request listener up; returns the records in serial-number order.
    public func runBootSessions(attempts: Int = 1) async throws -> [SessionRecord] {
        try await withThrowingTaskGroup(of: Void.self) { group in
            let server = connectionRequestServer
            group.addTask { try await server.run() }
            _ = try await server.waitUntilListening()
            let gate = self.gate
            let records = try await withThrowingTaskGroup(of: (Int, SessionRecord).self) { sessions in
                for (position, device) in devices.enumerated() {
                    sessions.addTask { (position, try await device.runBootSession(attempts: attempts, gate: gate)) }
                }
                var records = [SessionRecord?](repeating: nil, count: devices.count)
                for try await (position, record) in sessions { records[position] = record }
                return records.compactMap { $0 }
            }
            group.cancelAll()
            return records
        }
    }
}
