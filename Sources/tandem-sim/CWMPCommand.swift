import ArgumentParser
import Foundation
import Logging
import Simulator
import UnixSignals

/// `tandem-sim cwmp`: a fleet of simulated TR-069 CPEs informing an ACS.
struct CWMPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cwmp",
        abstract: "Simulated TR-069 CPEs: boot, inform, answer the ACS, take connection requests.",
        discussion: """
            Credential templates replace {serial} (or {serialNumber}), {oui}, {productClass}, {index} and \
            {deviceId} (OUI-ProductClass-SerialNumber). Without --once the \
            devices run until SIGINT or SIGTERM, informing periodically and on connection requests.

            With --dual-stack each device also has a USP agent (endpoint ID os::OUI-Serial) that starts \
            once the ACS has written a complete USP on-boarding configuration over CWMP \
            (Device.USPAgent.Controller.{i} and its MTP, plus Device.USPAgent.MTP.{i} and \
            Device.MQTT.Client.{i} for MQTT or Device.STOMP.Connection.{i} for STOMP), sends an \
            OnBoardRequest when Controller.{i}.SendOnBoardRequest is set, and answers USP requests \
            against the same data model. EnableCWMP false (Device.ManagementServer.EnableCWMP over \
            CWMP, Device.CWMPManagementServer.EnableCWMP over USP) stops Informs and connection \
            requests until a factory reset.
            """)

    @Option(help: ArgumentHelp("The ACS URL (ManagementServer.URL).", valueName: "url"))
    var acs: String

    @Option(help: "Number of devices.")
    var count: Int = 1

    @Option(help: ArgumentHelp("Manufacturer OUI, six hexadecimal digits.", valueName: "hex"))
    var oui: String = "ACDE48"

    @Option(help: "ProductClass of every device.")
    var productClass: String = "SimGateway"

    @Option(help: "Manufacturer name.")
    var manufacturer: String = "Tandem Simulated Devices"

    @Option(help: "DeviceInfo.ModelName.")
    var modelName: String = "TSG-1000"

    @Option(help: "DeviceInfo.SoftwareVersion at the factory.")
    var softwareVersion: String = "1.0.0"

    @Option(help: "Serial numbers are this prefix followed by a six-digit index.")
    var serialPrefix: String = "SIM"

    @Option(help: "Index of the first device.")
    var firstIndex: Int = 1

    @Option(help: ArgumentHelp("Data model: tr181 (Device.) or tr098 (InternetGatewayDevice.).", valueName: "tr181|tr098"))
    var model: String = "tr181"

    @Option(help: ArgumentHelp("ManagementServer.Username of each device; empty for none.", valueName: "template"))
    var usernameTemplate: String = "{deviceId}"

    @Option(help: ArgumentHelp("ManagementServer.Password of each device.", valueName: "template"))
    var passwordTemplate: String = "sim-{serial}"

    @Option(name: .customLong("cr-username-template"), help: ArgumentHelp("ConnectionRequestUsername of each device.", valueName: "template"))
    var connectionRequestUsernameTemplate: String = "{serial}"

    @Option(name: .customLong("cr-password-template"), help: ArgumentHelp("ConnectionRequestPassword of each device.", valueName: "template"))
    var connectionRequestPasswordTemplate: String = "cr-{serial}"

    @Option(name: .customLong("cr-listen"), help: ArgumentHelp("Connection request listener; port 0 picks a free port.", valueName: "host:port"))
    var connectionRequestListen: String = "127.0.0.1:0"

    @Option(
        name: .customLong("cr-advertise-host"),
        help: ArgumentHelp("Host in the ConnectionRequestURLs (default: the listen host, or this machine's address for 0.0.0.0).", valueName: "host"))
    var connectionRequestAdvertisedHost: String?

    @Option(help: ArgumentHelp("PeriodicInformInterval in seconds; 0 disables periodic Informs.", valueName: "seconds"))
    var periodicInterval: UInt32 = 86_400

    @Option(help: "Sessions running at once across the fleet.")
    var concurrency: Int = 32

    @Flag(help: "Run one boot session per device and exit: 0 when every session ended with HTTP 204.")
    var once = false

    @Option(help: "With --once: attempts per device before giving up.")
    var attempts: Int = 3

    @Option(help: ArgumentHelp("Shortest wait before a session retry (the TR-069 schedule starts at 5 s).", valueName: "seconds"))
    var retryMinimumWait: Double?

    @Option(help: ArgumentHelp("How long a reboot takes.", valueName: "seconds"))
    var rebootSeconds: Double = 2

    @Option(help: ArgumentHelp("Print a fleet summary this often while running; 0 for never.", valueName: "seconds"))
    var statusInterval: Double = 60

    @Flag(help: "Accept any TLS certificate from the ACS and file servers.")
    var insecure = false

    @Flag(help: "Dual-stack devices: a USP agent starts when the ACS writes its USP settings over CWMP.")
    var dualStack = false

    @Option(
        name: .customLong("usp-broken"),
        help: ArgumentHelp(
            "With --dual-stack: devices whose USP agent never comes up (accepts the settings, never connects), as a count or a percentage.",
            valueName: "n|p%"))
    var uspBroken: String = "0"

    @Option(
        name: .customLong("usp-ignore-gets"),
        help: ArgumentHelp("With --dual-stack: further devices whose USP agent connects but never answers a Get, as a count or a percentage.", valueName: "n|p%"))
    var uspIgnoreGets: String = "0"

    @Option(help: ArgumentHelp("With --dual-stack: wait between USP agent connection attempts.", valueName: "seconds"))
    var uspReconnectSeconds: Double = 2

    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard count >= 1 else { throw ValidationError("--count must be at least 1") }
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        guard attempts >= 1 else { throw ValidationError("--attempts must be at least 1") }
        guard DataModelVariant(rawValue: model) != nil else { throw ValidationError("--model must be tr181 or tr098, not \"\(model)\"") }
        guard oui.count == 6, oui.allSatisfy(\.isHexDigit) else { throw ValidationError("--oui must be six hexadecimal digits") }
        guard let url = URL(string: acs), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", url.host != nil else {
            throw ValidationError("--acs must be an http or https URL")
        }
        do { _ = try ConnectionRequestServer.Configuration(listen: connectionRequestListen) } catch {
            throw ValidationError("--cr-listen: \(error)")
        }
        if let retryMinimumWait, retryMinimumWait <= 0 { throw ValidationError("--retry-minimum-wait must be positive") }
        let broken = try Self.deviceCount(uspBroken, of: count, option: "--usp-broken")
        let ignoring = try Self.deviceCount(uspIgnoreGets, of: count, option: "--usp-ignore-gets")
        if broken + ignoring > 0 && !dualStack { throw ValidationError("--usp-broken and --usp-ignore-gets need --dual-stack") }
        guard broken + ignoring <= count else {
            throw ValidationError("--usp-broken and --usp-ignore-gets add up to \(broken + ignoring) devices, more than --count \(count)")
        }
        guard uspReconnectSeconds > 0 else { throw ValidationError("--usp-reconnect-seconds must be positive") }
        if dualStack && model != "tr181" { throw ValidationError("--dual-stack needs --model tr181 (Device.USPAgent. is TR-181)") }
    }

    /// `12` or `10%` of `total` (rounded down) devices.
    static func deviceCount(_ text: String, of total: Int, option: String) throws -> Int {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasSuffix("%") {
            guard let percent = Double(trimmed.dropLast()), (0...100).contains(percent) else {
                throw ValidationError("\(option): \"\(text)\" is not a percentage from 0% to 100%")
            }
            return Int((Double(total) * percent / 100).rounded(.down))
        }
        guard let number = Int(trimmed), number >= 0 else { throw ValidationError("\(option): \"\(text)\" is not a device count or a percentage") }
        return number
    }

    func fleetConfiguration() throws -> SimulatedFleet.Configuration {
        var listener = try ConnectionRequestServer.Configuration(listen: connectionRequestListen)
        listener.advertisedHost = connectionRequestAdvertisedHost
        return SimulatedFleet.Configuration(
            count: count, serialPrefix: serialPrefix, firstIndex: firstIndex, manufacturer: manufacturer, oui: oui, productClass: productClass,
            modelName: modelName, softwareVersion: softwareVersion, variant: DataModelVariant(rawValue: model) ?? .tr181, acsURL: acs,
            usernameTemplate: usernameTemplate, passwordTemplate: passwordTemplate,
            connectionRequestUsernameTemplate: connectionRequestUsernameTemplate,
            connectionRequestPasswordTemplate: connectionRequestPasswordTemplate, periodicInformEnable: periodicInterval > 0,
            periodicInformInterval: max(periodicInterval, 1), concurrency: concurrency, connectionRequest: listener,
            device: .init(
                retryMinimumWait: retryMinimumWait.map { .milliseconds(Int64($0 * 1000)) }, rebootDuration: .milliseconds(Int64(rebootSeconds * 1000)),
                allowInsecureTLS: insecure,
                dualStack: dualStack ? DualStackOptions(reconnectDelay: .milliseconds(Int64(uspReconnectSeconds * 1000))) : nil),
            uspNeverConnecting: try Self.deviceCount(uspBroken, of: count, option: "--usp-broken"),
            uspIgnoringGets: try Self.deviceCount(uspIgnoreGets, of: count, option: "--usp-ignore-gets"))
    }

    func run() async throws {
        let logger = common.bootstrapLogging()
        let fleet: SimulatedFleet
        do {
            fleet = try SimulatedFleet(configuration: fleetConfiguration(), logger: logger)
        } catch {
            printError("tandem-sim: \(error)")
            throw ExitCode(2)
        }
        if once {
            try await runOnce(fleet)
        } else {
            try await runUntilSignalled(fleet)
        }
    }

    private func runOnce(_ fleet: SimulatedFleet) async throws {
        let records = try await fleet.runBootSessions(attempts: attempts)
        var failures: [String] = []
        for (device, record) in zip(fleet.devices, records) where !record.isCompleted {
            failures.append("\(device.serialNumber): \(record.outcome)")
        }
        printLine("tandem-sim: \(records.count - failures.count) of \(records.count) boot sessions completed")
        guard failures.isEmpty else {
            for failure in failures.prefix(20) { printError("tandem-sim: \(failure)") }
            if failures.count > 20 { printError("tandem-sim: ... and \(failures.count - 20) more") }
            throw ExitCode(1)
        }
    }

    /// Serial numbers for a status line: none, or the first few.
    static func list(_ serials: [String]) -> String {
        guard !serials.isEmpty else { return "none" }
        return serials.prefix(10).joined(separator: " ") + (serials.count > 10 ? " ... (\(serials.count))" : "")
    }

    private func runUntilSignalled(_ fleet: SimulatedFleet) async throws {
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let interval = statusInterval
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await fleet.run { base in
                    printLine("tandem-sim: \(fleet.devices.count) CWMP devices; connection requests at \(base)/cr/<serial>")
                    if fleet.configuration.device.dualStack != nil {
                        var broken: [String] = []
                        var ignoring: [String] = []
                        for (position, device) in fleet.devices.enumerated() {
                            switch fleet.configuration.uspAgentBehaviour(at: position) {
                            case .neverConnects: broken.append(device.serialNumber)
                            case .ignoresGets: ignoring.append(device.serialNumber)
                            default: break
                            }
                        }
                        printLine("tandem-sim: dual-stack; USP agents never connecting: \(Self.list(broken)); ignoring Gets: \(Self.list(ignoring))")
                    }
                }
            }
            group.addTask {
                for await signal in signals {
                    printLine("tandem-sim: \(signal), stopping")
                    return
                }
            }
            if interval > 0 {
                group.addTask {
                    while true {
                        try await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
                        let statuses = await fleet.statuses()
                        let completed = statuses.reduce(0) { $0 + $1.sessionsCompleted }
                        let failed = statuses.reduce(0) { $0 + $1.sessionsFailed }
                        let busy = statuses.filter { $0.phase == .inSession }.count
                        var line = "tandem-sim: \(statuses.count) devices, \(completed) sessions completed, \(failed) failed, \(busy) in session"
                        if fleet.configuration.device.dualStack != nil {
                            let connected = statuses.filter { $0.uspAgentState == .connected }.count
                            let connecting = statuses.filter { $0.uspAgentState == .connecting }.count
                            let cwmpOff = statuses.filter { !$0.cwmpEnabled }.count
                            line += "; USP \(connected) connected, \(connecting) connecting; CWMP off on \(cwmpOff)"
                        }
                        printLine(line)
                    }
                }
            }
            // The first child to finish (a signal, or the fleet failing) stops the others.
            try await group.next()
            group.cancelAll()
        }
    }
}
