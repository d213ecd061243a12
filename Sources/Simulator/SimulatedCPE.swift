import AsyncHTTPClient
import CWMP
import Foundation
import Logging
import NIOCore
import NIOSSL
import TandemCore

/// One simulated TR-069 CPE: a data model, the CPE side of CWMP sessions over HTTP, and the timers
/// of a real device (periodic and scheduled Informs, delayed transfers, reboots, session retry).
///
/// It speaks only the wire protocol. `run()` boots the device (`0 BOOTSTRAP` on first contact,
/// `1 BOOT`) and keeps it alive until the task is cancelled; `runBootSession()` does one boot
/// session for smoke tests. A `ConnectionRequestServer` (or `SimulatedFleet`, which runs one) lets
/// the ACS wake the device with a connection request.
///
/// ```swift
/// let cpe = try SimulatedCPE(configuration: .init(profile: DeviceProfile(serialNumber: "SIM0001", acsURL: url)))
/// try await withThrowingTaskGroup(of: Void.self) { group in
///     group.addTask { try await cpe.run() }
///     let boot = try await cpe.waitForSession(number: 1)
///     group.cancelAll()
/// }
/// ```
public actor SimulatedCPE {
    /// What changed in a device's data model through the ACS, handed to `Configuration.onWrite`.
    public struct WriteNotice: Sendable {
        public var deviceID: CWMPDeviceID
        public var writes: [DataModelWrite]
        /// The data model right after the writes.
        public var model: DataModel
    }

    public struct Configuration: Sendable {
        public var profile: DeviceProfile
        /// The cwmp namespace of the device's messages; most devices in the field use cwmp-1-0.
        public var namespace: CWMPNamespace
        /// Sent as `cwmp:SupportedCWMPVersions` in the Inform (CWMP 1.4) when set.
        public var supportedCWMPVersions: [String]?
        /// Overrides `ManagementServer.CWMPRetryMinimumWaitInterval` (whole seconds, at least 1)
        /// for the session retry schedule, so that tests can retry in milliseconds.
        public var retryMinimumWait: Duration?
        /// Caps any wait before a retry, `Retry-After` included.
        public var retryMaximumWait: Duration
        /// How long a reboot takes (no sessions, connection requests refused).
        public var rebootDuration: Duration
        /// Per HTTP request of a session.
        public var httpTimeout: Duration
        /// Per file transfer.
        public var transferTimeout: Duration
        /// Accept any TLS certificate from the ACS and file servers.
        public var allowInsecureTLS: Bool
        /// Sessions kept in `sessionHistory()`.
        public var historyLimit: Int
        public var encoderOptions: CWMPEncoder.Options
        /// Called after each SetParameterValues, AddObject and DeleteObject that changed the model.
        /// The hook a USP agent will hang on (`Device.USPAgent.`, `Device.MQTT.Client.`): it runs
        /// inside the device, so it must return quickly (hand the notice to a task of your own).
        public var onWrite: (@Sendable (WriteNotice) -> Void)?
        /// A dual-stack device: its USP agent starts once the ACS has written a complete USP
        /// on-boarding configuration (`Device.USPAgent.`, `Device.MQTT.Client.` or
        /// `Device.STOMP.Connection.`), answers over USP against this same data model, and
        /// `EnableCWMP` false switches CWMP off. Nil: CWMP only.
        public var dualStack: DualStackOptions?

        public init(
            profile: DeviceProfile, namespace: CWMPNamespace = .v1_0, supportedCWMPVersions: [String]? = nil,
            retryMinimumWait: Duration? = nil, retryMaximumWait: Duration = .seconds(3600), rebootDuration: Duration = .seconds(2),
            httpTimeout: Duration = .seconds(30), transferTimeout: Duration = .seconds(120), allowInsecureTLS: Bool = false,
            historyLimit: Int = 64, encoderOptions: CWMPEncoder.Options = .init(), onWrite: (@Sendable (WriteNotice) -> Void)? = nil,
            dualStack: DualStackOptions? = nil
        ) {
            self.profile = profile
            self.namespace = namespace
            self.supportedCWMPVersions = supportedCWMPVersions
            self.retryMinimumWait = retryMinimumWait
            self.retryMaximumWait = retryMaximumWait
            self.rebootDuration = rebootDuration
            self.httpTimeout = httpTimeout
            self.transferTimeout = transferTimeout
            self.allowInsecureTLS = allowInsecureTLS
            self.historyLimit = historyLimit
            self.encoderOptions = encoderOptions
            self.onWrite = onWrite
            self.dualStack = dualStack
        }
    }

    /// A Download, ScheduleDownload or Upload waiting for its time or in progress.
    struct Transfer {
        enum Kind {
            case download(ACSRequest.Download)
            case scheduledDownload(ACSRequest.ScheduleDownload)
            case upload(ACSRequest.Upload)
        }

        var id: Int
        var kind: Kind
        var due: ContinuousClock.Instant
        /// ScheduleDownload: the end of the last window; missing it is fault 9020.
        var windowEnd: ContinuousClock.Instant?
        /// 1 not yet started, 2 in progress (GetQueuedTransfers states).
        var state: Int = 1

        var commandKey: String {
            switch kind {
            case .download(let d): d.commandKey
            case .scheduledDownload(let d): d.commandKey
            case .upload(let u): u.commandKey
            }
        }

        var fileType: String {
            switch kind {
            case .download(let d): d.fileType
            case .scheduledDownload(let d): d.fileType
            case .upload(let u): u.fileType
            }
        }

        var isDownload: Bool { if case .upload = kind { false } else { true } }

        var methodEvent: CWMPEventCode {
            switch kind {
            case .download: .mDownload
            case .scheduledDownload: .mScheduleDownload
            case .upload: .mUpload
            }
        }
    }

    /// Work a session's requests leave for after the session (TR-069: Reboot and FactoryReset
    /// take effect once the session has ended).
    enum PostSessionAction {
        case reboot(commandKey: String)
        case factoryReset
        case changeDUState(ACSRequest.ChangeDUState)
        /// ManagementServer.URL changed: the new ACS gets `0 BOOTSTRAP`.
        case bootstrap
    }

    struct DeploymentUnit {
        var uuid: String
        var url: String
        var version: String
        var number: Int
    }

    public nonisolated let configuration: Configuration
    public nonisolated let deviceID: CWMPDeviceID
    public nonisolated var serialNumber: String { deviceID.serialNumber }
    let logger: Logger
    nonisolated let wake = WakeSignal()

    let factoryModel: DataModel
    var model: DataModel
    var phase: Phase = .stopped
    var bootstrapped = false
    var pendingEvents: [CWMPEvent] = []
    /// TransferComplete and DUStateChangeComplete requests not yet acknowledged by the ACS.
    var undelivered: [CPERequest] = []
    var transfers: [Transfer] = []
    var scheduledInforms: [(due: ContinuousClock.Instant, commandKey: String)] = []
    var nextPeriodic: ContinuousClock.Instant?
    var retryCount: UInt32 = 0
    var retryNotBefore: ContinuousClock.Instant?
    var postSession: [PostSessionAction] = []
    var sessionInProgress = false
    var eventsDuringSession: [CWMPEvent] = []
    /// Parameters with notification on that changed locally, for `4 VALUE CHANGE`.
    var changedParameters: [String] = []
    var bootDate = Date()
    var bootCount = 0
    var sessionNumber = 0
    var sessionsCompleted = 0
    var sessionsFailed = 0
    var history: [SessionRecord] = []
    var connectionRequestsAccepted = 0
    var connectionRequestsRefused = 0
    var deploymentUnits: [DeploymentUnit] = []
    var nextDeploymentUnit = 1
    var nextTransferID = 1
    var nextMessageID = 1
    var lastFailure: String?
    /// A factory reset asked for on the device itself (`factoryReset()`).
    var localResetRequested = false
    /// Dual-stack: where the USP agent connects (nil: off), its state and bookkeeping.
    var uspTarget: USPAgentTarget?
    var uspState: USPAgentState = .off
    var usp = USPSideState()
    /// Wakes the USP agent's supervisor after a configuration change or an on-boarding request.
    nonisolated let uspSignal = WakeSignal()

    /// - Throws: `IdentityError` when the profile's OUI or serial number is not a valid DeviceId.
    public init(configuration: Configuration, logger: Logger = Logger(label: "tandem-sim")) throws(IdentityError) {
        self.configuration = configuration
        self.deviceID = try configuration.profile.deviceID()
        var logger = logger
        logger[metadataKey: "device"] = "\(deviceID.canonical)"
        self.logger = logger
        var model = configuration.profile.makeDataModel()
        if model.value(model.rootPath + "DeviceInfo.FirstUseDate") != nil {
            model.set(model.rootPath + "DeviceInfo.FirstUseDate", .dateTime(DateTimeValue(Date())))
        }
        self.factoryModel = model
        self.model = model
    }

    var root: String { model.rootPath }
    var userAgent: String { "tandem-sim/0.1 (\(configuration.profile.modelName); \(model.value(root + "DeviceInfo.SoftwareVersion")?.lexical ?? "?"))" }

    // MARK: Observation

    /// The device's state and counters.
    public func status() -> Status {
        Status(
            serialNumber: serialNumber, deviceID: deviceID, phase: phase, sessionsCompleted: sessionsCompleted, sessionsFailed: sessionsFailed,
            bootCount: bootCount, bootstrapped: bootstrapped, pendingEvents: pendingEvents,
            softwareVersion: model.value(root + "DeviceInfo.SoftwareVersion")?.lexical ?? "",
            parameterKey: model.value(root + "ManagementServer.ParameterKey")?.lexical ?? "",
            connectionRequestURL: connectionRequestURL, connectionRequestsAccepted: connectionRequestsAccepted,
            connectionRequestsRefused: connectionRequestsRefused,
            lastACSMethods: history.last(where: \.isCompleted)?.acsMethods ?? [], lastFailure: lastFailure, queuedTransfers: transfers.count,
            undeliveredRequests: undelivered.count, cwmpEnabled: cwmpEnabled, uspAgentState: uspState)
    }

    /// The last sessions, oldest first (at most `Configuration.historyLimit`).
    public func sessionHistory() -> [SessionRecord] { history }

    /// The session numbered `number` (from 1), if it is still in the history.
    public func session(number: Int) -> SessionRecord? { history.first { $0.number == number } }

    /// The stored value of a parameter (hidden values included), or nil.
    public func value(_ path: String) -> TypedValue? { model.value(path) }

    /// A copy of the data model.
    public func dataModel() -> DataModel { model }

    /// `ManagementServer.ConnectionRequestURL`.
    public var connectionRequestURL: String { model.value(root + "ManagementServer.ConnectionRequestURL")?.lexical ?? "" }

    /// Waits until session `number` has ended (completed or failed) and returns it.
    public func waitForSession(number: Int, timeout: Duration = .seconds(30)) async throws -> SessionRecord {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let record = history.first(where: { $0.number == number }) { return record }
            if let oldest = history.first, oldest.number > number {
                throw SimulatorError("\(serialNumber): session \(number) is no longer in the history")
            }
            guard ContinuousClock.now < deadline else {
                throw SimulatorError("\(serialNumber): session \(number) did not end within \(timeout) (\(sessionNumber) started)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Waits until `condition` holds for the device's status and returns that status.
    public func waitUntil(timeout: Duration = .seconds(30), _ condition: @Sendable (Status) -> Bool) async throws -> Status {
        try await poll(status, timeout: timeout, condition)
    }

    /// Reads `current` every 10 ms until `condition` holds for it; throws after `timeout`.
    func poll<T>(_ current: () -> T, timeout: Duration, _ condition: (T) -> Bool) async throws -> T {
        let deadline = ContinuousClock.now + timeout
        while true {
            let value = current()
            if condition(value) { return value }
            guard ContinuousClock.now < deadline else { throw SimulatorError("\(serialNumber): condition not met within \(timeout); \(value)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    // MARK: Stimuli

    /// Records the connection request URL the device reports (`ConnectionRequestServer` calls it).
    public func setConnectionRequestURL(_ url: String) {
        model.set(root + "ManagementServer.ConnectionRequestURL", .string(url))
    }

    /// A change made on the device itself (the subscriber, its firmware): the new value is stored
    /// and, when the ACS enabled notification on it, reported with `4 VALUE CHANGE` — at once for
    /// active notification (2), with the next Inform for passive (1, and 4 and 6, which add the
    /// lightweight notifications this device does not send). False for an unknown name.
    @discardableResult
    public func setLocalValue(_ path: String, _ value: TypedValue) -> Bool {
        guard let parameter = model.parameter(path) else { return false }
        model.set(path, value)
        guard parameter.value != value, [1, 2, 4, 6].contains(parameter.notification) else { return true }
        if !changedParameters.contains(path) { changedParameters.append(path) }
        if parameter.notification == 2 { addEvents([CWMPEvent(code: .valueChange)]) }
        return true
    }

    /// A factory reset on the device itself (the reset button): the device reboots with its
    /// factory data model, CWMP enabled again and no USP configuration.
    public func factoryReset() {
        localResetRequested = true
        wake.signal()
    }

    /// Starts a session soon with these events (for example `2 PERIODIC` now, in a test).
    public func requestSession(events: [CWMPEvent]) {
        addEvents(events)
        retryNotBefore = nil
    }

    /// The credentials a connection request must present, or nil when the device takes no
    /// connection requests (CWMP disabled, HTTP connection requests off).
    func connectionRequestCredentials() -> (username: String, password: String)? {
        guard cwmpEnabled, model.value(root + "ManagementServer.HTTPConnectionRequestEnable") != .boolean(false) else { return nil }
        return (
            model.value(root + "ManagementServer.ConnectionRequestUsername")?.lexical ?? "",
            model.value(root + "ManagementServer.ConnectionRequestPassword")?.lexical ?? ""
        )
    }

    /// What a device answers an authenticated connection request (TR-069 3.2.2).
    public enum ConnectionRequestVerdict: Sendable, Hashable {
        /// 200: a session with `6 CONNECTION REQUEST` follows.
        case accepted
        /// 503: a session is in progress.
        case busy
        /// 503: rebooting, stopped or CWMP disabled.
        case unavailable
    }

    /// An authenticated connection request arrived.
    func connectionRequested() -> ConnectionRequestVerdict {
        switch phase {
        case .stopped, .rebooting:
            connectionRequestsRefused += 1
            return .unavailable
        case .inSession:
            connectionRequestsRefused += 1
            return .busy
        case .idle, .waitingToRetry, .transferring:
            guard cwmpEnabled else {
                connectionRequestsRefused += 1
                return .unavailable
            }
            connectionRequestsAccepted += 1
            addEvents([CWMPEvent(code: .connectionRequest)])
            retryNotBefore = nil
            return .accepted
        }
    }

    /// Counts a connection request that failed authentication.
    func connectionRequestRefused() { connectionRequestsRefused += 1 }

    func addEvents(_ events: [CWMPEvent]) {
        // An event raised during a session was not in that session's Inform: it must survive the
        // session's end even when an equal event was sent in it.
        if sessionInProgress { eventsDuringSession += events }
        for event in events where !pendingEvents.contains(event) {
            // Single events appear once; `M` events once per CommandKey.
            if !event.code.isMethodSpecific, pendingEvents.contains(where: { $0.code == event.code }) { continue }
            pendingEvents.append(event)
        }
        wake.signal()
    }

    var cwmpEnabled: Bool { model.value(root + "ManagementServer.EnableCWMP") != .boolean(false) }

    // MARK: Running

    /// Boots the device and runs it until the task is cancelled: sessions when events are
    /// pending, periodic and scheduled Informs, transfers, reboots, retries with back-off.
    ///
    /// - Parameter gate: limits sessions running at once across devices.
    public func run(gate: SessionGate? = nil) async throws {
        guard phase == .stopped else { throw SimulatorError("\(serialNumber) is already running") }
        let client = makeHTTPClient()
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.mainLoop(client: client, gate: gate) }
                if let options = configuration.dualStack {
                    group.addTask { await self.superviseUSPAgent(options) }
                }
                // The main loop ends only by failing or by cancellation; either ends the agent too.
                try await group.next()
                group.cancelAll()
            }
        } catch is CancellationError {
        } catch {
            phase = .stopped
            reevaluateUSPTarget()
            try? await client.shutdown()
            throw error
        }
        phase = .stopped
        reevaluateUSPTarget()
        try? await client.shutdown()
    }

    /// Boots the device and runs one session (`0 BOOTSTRAP` on first contact and `1 BOOT`),
    /// retrying a failed one up to `attempts` times in all; returns the last attempt's record.
    /// Work the ACS leaves for after the session (a reboot, a download) is not carried out.
    public func runBootSession(attempts: Int = 1, gate: SessionGate? = nil) async throws -> SessionRecord {
        guard phase == .stopped else { throw SimulatorError("\(serialNumber) is already running") }
        let client = makeHTTPClient()
        do {
            powerOn(extraEvents: [])
            var record: SessionRecord?
            for attempt in 1...max(1, attempts) {
                try await gate?.acquire()
                let result = await performSession(client: client)
                gate?.release()
                settle(result)
                record = result
                if result.isCompleted || attempt == attempts { break }
                try await Task.sleep(for: retryNotBefore.map { $0 - ContinuousClock.now } ?? .zero)
            }
            phase = .stopped
            try? await client.shutdown()
            return record!
        } catch {
            phase = .stopped
            try? await client.shutdown()
            throw error
        }
    }

    private func mainLoop(client: HTTPClient, gate: SessionGate?) async throws {
        powerOn(extraEvents: [])
        while true {
            try Task.checkCancellation()
            if localResetRequested {
                localResetRequested = false
                try await restart(extraEvents: [], factoryReset: true)
                continue
            }
            let now = ContinuousClock.now
            collectDueEvents(now: now)
            if let transfer = transfers.first(where: { $0.state == 1 && $0.due <= now }) {
                try await perform(transfer, client: client)
                continue
            }
            if cwmpEnabled, !pendingEvents.isEmpty || !undelivered.isEmpty, retryNotBefore.map({ $0 <= now }) ?? true {
                try await gate?.acquire()
                sessionInProgress = true
                eventsDuringSession = []
                let record = await performSession(client: client)
                sessionInProgress = false
                gate?.release()
                settle(record)
                if case .completed = record.outcome, !eventsDuringSession.isEmpty { addEvents(eventsDuringSession) }
                try await runPostSessionActions()
                continue
            }
            if phase == .idle || phase == .waitingToRetry {
                phase = retryNotBefore == nil ? .idle : .waitingToRetry
            }
            _ = await wake.wait(until: nextDeadline())
        }
    }

    /// Power-on: the boot time resets, `1 BOOT` (and `0 BOOTSTRAP` until bootstrapped) is queued
    /// with `extraEvents`, and the periodic Inform is scheduled.
    func powerOn(extraEvents: [CWMPEvent]) {
        bootCount += 1
        bootDate = Date()
        // Only events that must survive a reboot stay (TR-069 3.7.1.5).
        let retained: Set<CWMPEventCode> = [
            .bootstrap, .transferComplete, .mDownload, .mUpload, .mScheduleDownload, .duStateChangeComplete, .mChangeDUState, .valueChange,
        ]
        pendingEvents = pendingEvents.filter { retained.contains($0.code) }
        if !bootstrapped { addEvents([CWMPEvent(code: .bootstrap)]) }
        addEvents([CWMPEvent(code: .boot)] + extraEvents)
        retryNotBefore = nil
        retryCount = 0
        phase = .idle
        reschedulePeriodic()
        reevaluateUSPTarget()
    }

    /// The next periodic Inform from now; none while CWMP is disabled.
    func reschedulePeriodic() {
        guard cwmpEnabled, model.value(root + "ManagementServer.PeriodicInformEnable") != .boolean(false),
            case .unsignedInt(let interval) = model.value(root + "ManagementServer.PeriodicInformInterval"), interval > 0
        else {
            nextPeriodic = nil
            return
        }
        nextPeriodic = ContinuousClock.now + .seconds(Int64(interval))
    }

    private func collectDueEvents(now: ContinuousClock.Instant) {
        if let due = nextPeriodic, due <= now {
            addEvents([CWMPEvent(code: .periodic)])
            if case .unsignedInt(let interval) = model.value(root + "ManagementServer.PeriodicInformInterval"), interval > 0 {
                let next = due + .seconds(Int64(interval))
                nextPeriodic = next > now ? next : now + .seconds(Int64(interval))
            } else {
                nextPeriodic = nil
            }
        }
        let due = scheduledInforms.filter { $0.due <= now }
        if !due.isEmpty {
            scheduledInforms.removeAll { $0.due <= now }
            addEvents([CWMPEvent(code: .scheduled)] + due.map { CWMPEvent(code: .mScheduleInform, commandKey: $0.commandKey) })
        }
    }

    private func nextDeadline() -> ContinuousClock.Instant? {
        var candidates: [ContinuousClock.Instant] = transfers.filter { $0.state == 1 }.map(\.due)
        // With CWMP disabled nothing leads to a session: no Inform is due.
        if cwmpEnabled {
            if let nextPeriodic { candidates.append(nextPeriodic) }
            candidates += scheduledInforms.map(\.due)
            if let retryNotBefore, !pendingEvents.isEmpty || !undelivered.isEmpty { candidates.append(retryNotBefore) }
        }
        return candidates.min()
    }

    /// Counters, history and retry state after a session.
    private func settle(_ record: SessionRecord) {
        history.append(record)
        if history.count > configuration.historyLimit { history.removeFirst(history.count - configuration.historyLimit) }
        switch record.outcome {
        case .completed:
            sessionsCompleted += 1
            retryCount = 0
            retryNotBefore = nil
            lastFailure = nil
            pendingEvents.removeAll { record.events.contains($0) }
            changedParameters.removeAll { name in record.informParameters.contains { $0.name == name } }
            if record.has(.bootstrap) { bootstrapped = true }
            phase = .idle
            logger.debug("session \(record.number) completed", metadata: ["acs.requests": "\(record.acsMethods)"])
        case .failed(let failure):
            sessionsFailed += 1
            retryCount += 1
            lastFailure = failure.message
            let wait = min(failure.retryAfter ?? retryDelay(attempt: retryCount), configuration.retryMaximumWait)
            retryNotBefore = ContinuousClock.now + wait
            phase = .waitingToRetry
            logger.notice("session \(record.number) failed: \(failure.message); next attempt in \(String(format: "%.1f", wait.seconds)) s")
        }
    }

    /// TR-069 3.2.1.1 (protocol digest A.9): retry n waits a random time in
    /// [m·(k/1000)^(n-1), m·(k/1000)^n], n capped at 10.
    func retryDelay(attempt: UInt32) -> Duration {
        let minimum: Double
        if let override = configuration.retryMinimumWait {
            minimum = override.seconds
        } else if case .unsignedInt(let m) = model.value(root + "ManagementServer.CWMPRetryMinimumWaitInterval") {
            minimum = Double(m)
        } else {
            minimum = 5
        }
        var multiplier = 2.0
        if case .unsignedInt(let k) = model.value(root + "ManagementServer.CWMPRetryIntervalMultiplier") { multiplier = Double(k) / 1000 }
        let n = Double(min(max(attempt, 1), 10))
        let low = minimum * pow(multiplier, n - 1), high = minimum * pow(multiplier, n)
        return .seconds(Double.random(in: low...max(low, high)))
    }

    private func runPostSessionActions() async throws {
        let actions = postSession
        postSession = []
        var reboot: String?
        var factoryReset = false
        for action in actions {
            switch action {
            case .reboot(let commandKey): reboot = commandKey
            case .factoryReset: factoryReset = true
            case .changeDUState(let change): applyDUStateChange(change)
            case .bootstrap:
                bootstrapped = false
                addEvents([CWMPEvent(code: .bootstrap)])
            }
        }
        if factoryReset {
            try await restart(extraEvents: [], factoryReset: true)
        } else if let reboot {
            try await restart(extraEvents: [CWMPEvent(code: .mReboot, commandKey: reboot)], factoryReset: false)
        }
    }

    /// Reboots: down for `rebootDuration`, then powers on with `extraEvents`. A factory reset also
    /// restores the factory data model and forgets the bootstrap, queued work and installed units.
    func restart(extraEvents: [CWMPEvent], factoryReset: Bool) async throws {
        phase = .rebooting
        reevaluateUSPTarget()
        logger.debug(factoryReset ? "factory reset" : "rebooting")
        try await Task.sleep(for: configuration.rebootDuration)
        if factoryReset {
            let connectionRequestURL = self.connectionRequestURL
            model = factoryModel
            setConnectionRequestURL(connectionRequestURL)
            bootstrapped = false
            pendingEvents = []
            undelivered = []
            transfers = []
            scheduledInforms = []
            changedParameters = []
            deploymentUnits = []
            // The USP side forgets its subscriptions and any on-boarding not yet answered.
            usp.extras = DeviceUSPView.factoryExtras
            usp.onBoardPending = false
        }
        powerOn(extraEvents: extraEvents)
    }

    /// Sets UpTime and the clock before they are read.
    func refreshDynamicValues() {
        let upTime = UInt32(max(0, Date().timeIntervalSince(bootDate)))
        model.set(root + "DeviceInfo.UpTime", .unsignedInt(upTime))
        model.set(root + "USPAgent.UpTime", .unsignedInt(upTime))
        var now = DateTimeValue(Date())
        if let whole = try? DateTimeValue(parsing: String(now.lexical.prefix(19)) + "Z") { now = whole }
        model.set(root + "Time.CurrentLocalTime", .dateTime(now))
    }

    private func makeHTTPClient() -> HTTPClient {
        // A refused connection fails the session at once, as on a device (the client would
        // otherwise retry until the connect timeout).
        var pool = HTTPClient.Configuration.ConnectionPool(idleTimeout: .seconds(30))
        pool.retryConnectionEstablishment = false
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(10), read: TimeAmount(self.configuration.httpTimeout)),
            connectionPool: pool)
        if self.configuration.allowInsecureTLS {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.certificateVerification = .none
            configuration.tlsConfiguration = tls
        }
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }
}

/// A simulator misuse or a wait that timed out.
public struct SimulatorError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
