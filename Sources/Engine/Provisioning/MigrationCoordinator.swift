import Foundation
import Logging
import Policy
import Registry
import TandemCore

/// Runs the migrations of the policy document in force: starts devices wave by wave within the
/// rate and the maintenance windows, writes each device's USP agent settings over CWMP one step at
/// a time, verifies that the agent connects and answers over USP, optionally switches CWMP off, and
/// rolls back what it wrote when verification fails. Every state lives in the registry (one row per
/// device and migration, its history in the event log), so a restart resumes where it stopped.
public actor MigrationCoordinator {
    public struct Configuration: Sendable {
        /// How often `tick` runs in `run()`.
        public var tickInterval: Duration = .seconds(5)
        /// Devices enabling or verifying at once, per migration.
        public var maxInFlight = 500
        public init() {}
    }

    public let configuration: Configuration
    let registry: any RegistryStore
    let operations: DeviceOperations
    let logger: Logger
    private var document = PolicyDocument()
    /// Devices whose record is being advanced: a tick and a contact must not both queue a step.
    private var busy: Set<Int64> = []
    /// When each device was last woken for queued migration work.
    private var lastWake: [Int64: Date] = [:]
    /// Whether a tick runs, and who waits for it to end. Ticks run one at a time: the timer's and
    /// the ones a policy apply or an operator command asks for would otherwise start the same
    /// candidates twice from their own snapshots of who has started.
    private var ticking = false
    private var tickWaiters: [CheckedContinuation<Void, Never>] = []
    /// A device that has not picked up its queued step by then is woken again.
    static let rewakeInterval: TimeInterval = 60

    static let actorPrefix = "migration:"
    /// What verification reads over USP.
    static let verificationPath = "Device.DeviceInfo.SoftwareVersion"

    public init(configuration: Configuration = Configuration(), registry: any RegistryStore, operations: DeviceOperations, logger: Logger) {
        self.configuration = configuration
        self.registry = registry
        self.operations = operations
        self.logger = logger
    }

    func setDocument(_ document: PolicyDocument) {
        self.document = document
    }

    /// Ticks until cancelled.
    public func run() async {
        while !Task.isCancelled {
            await tick(now: Date())
            try? await Task.sleep(for: configuration.tickInterval)
        }
    }

    // MARK: Ticks

    /// One pass over every migration: advances devices in flight (deadlines, finished tasks), then
    /// starts new ones if the migration runs.
    public func tick(now: Date) async {
        while ticking { await withCheckedContinuation { tickWaiters.append($0) } }
        ticking = true
        defer {
            ticking = false
            if !tickWaiters.isEmpty { tickWaiters.removeFirst().resume() }
        }
        // A tick that waited for another reads the clock again.
        let now = max(now, Date())
        for plan in document.migrations {
            do {
                try await tick(plan, now: now)
            } catch {
                logger.error("migration tick failed", metadata: ["migration": "\(plan.name)", "error": "\(error)"])
            }
        }
    }

    private func tick(_ plan: MigrationPlan, now: Date) async throws {
        let status = try await ensureStatus(plan, now: now)
        let active = try await registry.migrationDevices(
            migration: plan.name, states: [.enabling, .verifying, .rollingBack])
        for listed in active where busy.insert(listed.deviceID).inserted {
            defer { busy.remove(listed.deviceID) }
            // The list is a snapshot: a contact may have moved this record on since (the actor
            // runs `deviceIdle` between this loop's awaits). Advancing the old copy would queue
            // its step a second time.
            guard var record = try await registry.migrationDevice(migration: plan.name, deviceID: listed.deviceID),
                [.enabling, .verifying, .rollingBack].contains(record.state)
            else { continue }
            if status.state == .rollingBack, record.state == .enabling || record.state == .verifying {
                if let taskID = record.taskID { _ = try? await registry.cancelTask(id: taskID, actor: Self.actorPrefix + plan.name, at: now) }
                record = try await beginRollback(record, reason: "operator rollback", now: now)
            }
            if try await advance(record, plan: plan, now: now) {
                if let saved = try await registry.migrationDevice(migration: plan.name, deviceID: record.deviceID) { await wake(saved, now: now) }
            } else if let taskID = record.taskID, let task = try await registry.task(id: taskID), task.state == .queued,
                now.timeIntervalSince(lastWake[record.deviceID] ?? .distantPast) >= Self.rewakeInterval
            {
                // Queued while the device was between contacts: bring it in again.
                await wake(record, now: now)
            }
        }
        guard status.state == .running else { return }
        try await checkFailureRatio(plan, now: now)
        guard try await registry.migrationStatus(name: plan.name)?.state == .running else { return }
        try await startDue(plan, now: now)
    }

    private func ensureStatus(_ plan: MigrationPlan, now: Date) async throws -> MigrationStatus {
        if let status = try await registry.migrationStatus(name: plan.name) { return status }
        try await registry.setMigrationStatus(name: plan.name, state: .running, reason: "policy applied", actor: "system", at: now)
        return try await registry.migrationStatus(name: plan.name)!
    }

    /// The devices the migration selects that are still managed over CWMP, with their wave.
    func candidates(_ plan: MigrationPlan) async throws -> [(device: Device, facts: DeviceFacts, wave: Int)] {
        var result: [(Device, DeviceFacts, Int)] = []
        var after: Int64?
        // Single-valued criteria narrow the scan in SQL; the selector still decides.
        var filter = DeviceFilter()
        filter.activeProtocol = .cwmp
        if plan.selector.manufacturers.count == 1 { filter.manufacturer = plan.selector.manufacturers[0] }
        if plan.selector.ouis.count == 1 { filter.oui = plan.selector.ouis[0] }
        if plan.selector.tags.count == 1 { filter.tag = plan.selector.tags[0] }
        while true {
            let page = try await registry.devices(matching: filter, page: Page(limit: 1000, after: after))
            guard let last = page.last else { break }
            after = last.id
            for device in page where device.cwmpDeviceID != nil {
                let parameters = plan.selector.parameters.isEmpty && plan.vendorTemplates.isEmpty
                    ? [] : try await registry.parameters(deviceID: device.id, under: "")
                let facts = DeviceFacts(device: device, parameters: parameters)
                guard plan.selector.matches(facts, salt: plan.name), let wave = plan.wave(forKey: facts.key) else { continue }
                result.append((device, facts, wave))
            }
        }
        return result
    }

    private func startDue(_ plan: MigrationPlan, now: Date) async throws {
        if !plan.maintenanceWindows.isEmpty {
            let minute = Int(now.timeIntervalSince1970.truncatingRemainder(dividingBy: 86_400) / 60)
            guard plan.maintenanceWindows.contains(where: { $0.contains(minuteOfDay: minute) }) else { return }
        }
        var budget = configuration.maxInFlight
            - (try await registry.migrationCounts(migration: plan.name)).count([.enabling, .verifying, .rollingBack])
        if let perHour = plan.maxPerHour {
            budget = min(budget, perHour - (try await registry.migrationStarts(migration: plan.name, since: now.addingTimeInterval(-3600))))
        }
        guard budget > 0 else { return }
        let all = try await registry.migrationDevices(migration: plan.name, states: [])
        let started = Dictionary(all.map { ($0.deviceID, $0) }, uniquingKeysWith: { first, _ in first })
        let candidates = try await candidates(plan)
        // The open wave: the first with a device not finished (earlier waves must be done).
        var openWave: Int?
        for wave in plan.waves.indices {
            let members = candidates.filter { $0.wave == wave }
            if members.contains(where: { started[$0.device.id].map { !$0.state.isFinal } ?? true }) {
                openWave = wave
                break
            }
        }
        guard let wave = openWave else { return }
        for candidate in candidates where candidate.wave == wave && started[candidate.device.id] == nil {
            guard budget > 0 else { break }
            budget -= 1
            guard busy.insert(candidate.device.id).inserted else { continue }
            defer { busy.remove(candidate.device.id) }
            // Read the clock now, not at the tick's start: contacts finish the previous wave's
            // devices between this tick's awaits, stamped with their own reading, and a start
            // must never carry a time before the finish that opened its wave.
            let record = try await start(plan, device: candidate.device, facts: candidate.facts, wave: wave, now: max(now, Date()))
            if try await advance(record, plan: plan, now: now) {
                // advance() saved the queued task id: wake the device for it.
                if let saved = try await registry.migrationDevice(migration: plan.name, deviceID: record.deviceID) { await wake(saved, now: now) }
            }
        }
    }

    private func start(_ plan: MigrationPlan, device: Device, facts: DeviceFacts, wave: Int, now: Date) async throws -> MigrationDeviceRecord {
        let endpoint = Self.expectedEndpoint(facts)
        let (template, _) = MigrationTemplate.steps(plan: plan, device: facts, endpointID: endpoint)
        let record = MigrationDeviceRecord(
            migration: plan.name, deviceID: device.id, state: .enabling, wave: wave, template: template, endpointID: endpoint,
            startedAt: now, updatedAt: now)
        try await registry.saveMigrationDevice(
            record, event: "enabling the USP agent (wave \(plan.waves[wave].name), template \(template), agent \(endpoint))",
            actor: Self.actorPrefix + plan.name)
        return record
    }

    /// The endpoint ID the agent will present: what the device reports, else `os::OUI-Serial`
    /// (TR-369 R-ARC.2a, the form the registry links to the CWMP identity).
    static func expectedEndpoint(_ facts: DeviceFacts) -> String {
        for path in ["Device.USPAgent.EndpointID", "Device.LocalAgent.EndpointID"] {
            if let value = facts.parameters[path]?.lexical, !value.isEmpty { return value }
        }
        return "os::\(facts.oui.uppercased())-\(facts.serialNumber)"
    }

    private func checkFailureRatio(_ plan: MigrationPlan, now: Date) async throws {
        let counts = try await registry.migrationCounts(migration: plan.name)
        for wave in counts.counts.keys.sorted() {
            let failed = counts.count(wave: wave, [.rolledBack, .failed])
            let finished = counts.count(wave: wave, [.usp, .rolledBack, .failed])
            let waveSize = counts.count(wave: wave, Set(MigrationDeviceRecord.State.allCases))
            guard finished >= min(plan.minimumSample, max(1, waveSize)), finished > 0 else { continue }
            let ratio = Double(failed) / Double(finished)
            if ratio > plan.pauseAboveFailureRatio {
                let name = wave < plan.waves.count ? plan.waves[wave].name : String(wave)
                let reason = "wave \(name): \(failed) of \(finished) finished devices failed (\(Int((ratio * 100).rounded())) % > \(Int((plan.pauseAboveFailureRatio * 100).rounded())) %)"
                logger.warning("migration paused", metadata: ["migration": "\(plan.name)", "reason": "\(reason)"])
                try await registry.setMigrationStatus(name: plan.name, state: .paused, reason: reason, actor: "system", at: now)
                return
            }
        }
    }

    // MARK: Devices

    /// Called when a device has no runnable work during a contact: moves its migration on.
    /// Returns true when it queued a task for the device.
    func deviceIdle(deviceID: Int64, over contact: ManagementProtocol, now: Date) async -> Bool {
        // Without migrations in force there is nothing to advance: no registry read per idle device.
        guard !document.migrations.isEmpty, busy.insert(deviceID).inserted else { return false }
        defer { busy.remove(deviceID) }
        var queued = false
        guard let records = try? await registry.migrationDevices(deviceID: deviceID) else { return false }
        for record in records where !record.state.isFinal && record.state != .cwmp {
            guard let plan = document.migration(named: record.migration) else { continue }
            do {
                guard try await advance(record, plan: plan, now: now),
                    let saved = try await registry.migrationDevice(migration: record.migration, deviceID: deviceID),
                    let taskID = saved.taskID, let task = try await registry.task(id: taskID)
                else { continue }
                if task.pinnedTo == nil || task.pinnedTo == contact {
                    queued = true
                } else {
                    // The next step runs over the other protocol (the USP check after the CWMP
                    // writes): reach the device there.
                    await wake(saved, now: now)
                }
            } catch {
                logger.error("cannot advance a migration", metadata: ["device": "\(deviceID)", "error": "\(error)"])
            }
        }
        return queued
    }

    /// Moves one device's record on as far as it can go now; returns true when it queued a task.
    @discardableResult
    func advance(_ record: MigrationDeviceRecord, plan: MigrationPlan, now: Date) async throws -> Bool {
        var record = record
        let actor = Self.actorPrefix + plan.name
        // The task the current step waits for.
        var task: DeviceTask?
        if let id = record.taskID { task = try await registry.task(id: id) }
        if let pending = task, !pending.state.isFinal {
            // Verification has a deadline, even while its request waits for the agent.
            guard record.state == .verifying, let deadline = record.deadline, now >= deadline else { return false }
            _ = try? await registry.cancelTask(id: pending.id, actor: actor, at: now)
            record = try await beginRollback(
                record, reason: "the USP agent did not connect and answer within \(plan.verifyWithinSeconds) s", now: now)
            return try await advance(record, plan: plan, now: now)
        }

        switch record.state {
        case .enabling:
            guard let device = try await registry.device(.registryID(record.deviceID)) else { return false }
            let facts = DeviceFacts(device: device, parameters: try await registry.parameters(deviceID: device.id, under: ""))
            let (_, steps) = MigrationTemplate.steps(plan: plan, device: facts, endpointID: record.endpointID)
            if let task {
                guard task.state == .done else {
                    record = try await beginRollback(record, reason: "step \(record.step + 1) (\(steps[min(record.step, steps.count - 1)].summary)) failed: \(task.fault?.description ?? task.state.rawValue)", now: now)
                    return try await advance(record, plan: plan, now: now)
                }
                let step = steps[record.step]
                switch step {
                case .add(_, _, let bind):
                    guard let created = task.result?.createdObject else {
                        record = try await beginRollback(record, reason: "\(step.summary) reported no new instance", now: now)
                        return try await advance(record, plan: plan, now: now)
                    }
                    record.bindings[bind] = created
                    record.created.append(created)
                case .capture(let paths):
                    for path in paths {
                        if let value = task.result?.value(at: path) { record.restore[path] = value }
                    }
                case .set:
                    break
                }
                record.step += 1
                record.taskID = nil
            }
            if record.step >= steps.count {
                record.state = .verifying
                record.step = 0
                record.taskID = nil
                record.deadline = now.addingTimeInterval(TimeInterval(plan.verifyWithinSeconds))
                record.updatedAt = now
                try await registry.saveMigrationDevice(
                    record, event: "USP agent settings written; verifying within \(plan.verifyWithinSeconds) s", actor: actor)
                return try await advance(record, plan: plan, now: now)
            }
            let operation: TandemCore.Operation
            do { operation = try MigrationTemplate.operation(for: steps[record.step], bindings: record.bindings) } catch {
                record = try await beginRollback(record, reason: error.message, now: now)
                return try await advance(record, plan: plan, now: now)
            }
            let queued = try await registry.enqueueTask(
                deviceID: record.deviceID, operation: operation, expiresAt: now.addingTimeInterval(86_400), actor: actor, pinnedTo: .cwmp)
            record.taskID = queued.id
            record.updatedAt = now
            try await registry.saveMigrationDevice(record, event: nil, actor: actor)
            return true

        case .verifying:
            if let task {
                guard task.state == .done, task.result?.faults.isEmpty ?? true else {
                    let what = record.step == 0 ? "the USP Get" : "switching CWMP off"
                    record = try await beginRollback(record, reason: "\(what) failed: \(task.fault?.description ?? task.state.rawValue)", now: now)
                    return try await advance(record, plan: plan, now: now)
                }
                if record.step == 0 && plan.disableCWMP {
                    record.step = 1
                    record.taskID = nil
                } else {
                    record.state = .usp
                    record.taskID = nil
                    record.deadline = nil
                    record.updatedAt = now
                    try await registry.setActiveProtocol(deviceID: record.deviceID, .usp, actor: actor, at: now)
                    try await registry.saveMigrationDevice(
                        record, event: "verified: the agent answered over USP" + (plan.disableCWMP ? "; CWMP switched off" : ""), actor: actor)
                    // Work queued under CWMP carries over: the agent runs it now.
                    await operations.usp?.wake(deviceID: record.deviceID)
                    return false
                }
            }
            if let deadline = record.deadline, now >= deadline {
                record = try await beginRollback(record, reason: "the USP agent did not connect and answer within \(plan.verifyWithinSeconds) s", now: now)
                return try await advance(record, plan: plan, now: now)
            }
            guard let device = try await registry.device(.registryID(record.deviceID)), device.uspEndpointID != nil,
                await operations.usp?.isOnline(deviceID: record.deviceID) == true
            else { return false }
            let operation: TandemCore.Operation =
                record.step == 0
                ? .get(paths: [try PathExpression(Self.verificationPath)])
                // TR-181 2.15: a USP controller switches CWMP off through CWMPManagementServer.
                : .set(values: [ParameterSetting(path: try PathExpression("Device.CWMPManagementServer.EnableCWMP"), value: .boolean(false))],
                    allowPartial: false, parameterKey: nil)
            let queued = try await registry.enqueueTask(
                deviceID: record.deviceID, operation: operation, expiresAt: record.deadline, actor: actor, pinnedTo: .usp)
            record.taskID = queued.id
            record.updatedAt = now
            try await registry.saveMigrationDevice(record, event: nil, actor: actor)
            return true

        case .rollingBack:
            let steps = MigrationTemplate.rollback(created: record.created, restore: restore(record))
            if let task {
                guard task.state == .done else {
                    record.state = .failed
                    record.taskID = nil
                    record.updatedAt = now
                    let reason = (record.reason.map { $0 + "; " } ?? "") + "rollback step \(record.step + 1) failed: \(task.fault?.description ?? task.state.rawValue)"
                    record.reason = reason
                    try await registry.saveMigrationDevice(record, event: "failed: \(reason)", actor: actor)
                    return false
                }
                record.step += 1
                record.taskID = nil
            }
            if record.step >= steps.count {
                record.state = .rolledBack
                record.taskID = nil
                record.updatedAt = now
                try await registry.saveMigrationDevice(
                    record, event: "rolled back (\(record.created.count) object(s) removed, \(record.restore.count) value(s) restored): \(record.reason ?? "")",
                    actor: actor)
                return false
            }
            let queued = try await registry.enqueueTask(
                deviceID: record.deviceID, operation: steps[record.step], expiresAt: now.addingTimeInterval(7 * 86_400), actor: actor, pinnedTo: .cwmp)
            record.taskID = queued.id
            record.updatedAt = now
            try await registry.saveMigrationDevice(record, event: nil, actor: actor)
            return true

        case .cwmp, .usp, .rolledBack, .failed:
            return false
        }
    }

    private func restore(_ record: MigrationDeviceRecord) -> [DesiredParameter] {
        record.restore.sorted { $0.key < $1.key }.map { DesiredParameter(path: $0.key, value: $0.value) }
    }

    private func beginRollback(_ record: MigrationDeviceRecord, reason: String, now: Date) async throws -> MigrationDeviceRecord {
        var record = record
        record.state = .rollingBack
        record.step = 0
        record.taskID = nil
        record.deadline = nil
        record.reason = reason
        record.updatedAt = now
        logger.notice("migration rollback", metadata: ["migration": "\(record.migration)", "device": "\(record.deviceID)", "reason": "\(reason)"])
        try await registry.saveMigrationDevice(record, event: "rolling back: \(reason)", actor: Self.actorPrefix + record.migration)
        return record
    }

    /// Reaches the device for the task just queued: a Connection Request for CWMP work, the agent
    /// for USP work.
    private func wake(_ record: MigrationDeviceRecord, now: Date) async {
        lastWake[record.deviceID] = now
        guard let id = record.taskID, let task = try? await registry.task(id: id),
            let device = try? await registry.device(.registryID(record.deviceID))
        else { return }
        switch task.pinnedTo {
        case .usp?:
            await operations.usp?.wake(deviceID: device.id)
        default:
            if !(await operations.cwmpSessions.acceptsQueuedWork(deviceID: device.id)) { _ = await operations.wake(device) }
        }
    }

    // MARK: Operator

    public enum Command: String, Sendable { case pause, resume, rollback }

    /// Pauses, resumes or rolls back a migration of the document in force.
    public func command(_ command: Command, migration name: String, actor: String, now: Date) async throws {
        guard document.migration(named: name) != nil else { throw Fault(category: .invalidArguments, message: "no migration named \"\(name)\" in the policy in force") }
        switch command {
        case .pause: try await registry.setMigrationStatus(name: name, state: .paused, reason: "paused by \(actor)", actor: actor, at: now)
        case .resume: try await registry.setMigrationStatus(name: name, state: .running, reason: "resumed by \(actor)", actor: actor, at: now)
        case .rollback:
            try await registry.setMigrationStatus(name: name, state: .rollingBack, reason: "rollback by \(actor)", actor: actor, at: now)
            await tick(now: now)
        }
    }

    // MARK: Reports

    /// Per wave and state, for `tandem migration status`.
    public func report() async throws -> [MigrationReport] {
        var reports: [MigrationReport] = []
        for plan in document.migrations {
            let status = try await registry.migrationStatus(name: plan.name)
            let counts = try await registry.migrationCounts(migration: plan.name)
            let candidates = try await candidates(plan)
            let records = try await registry.migrationDevices(migration: plan.name, states: [])
            let startedIDs = Set(records.map(\.deviceID))
            var waves: [MigrationReport.Wave] = []
            for (index, wave) in plan.waves.enumerated() {
                var states: [String: Int] = [:]
                for state in MigrationDeviceRecord.State.allCases { states[state.rawValue] = counts.counts[index]?[state] ?? 0 }
                states[MigrationDeviceRecord.State.cwmp.rawValue, default: 0] +=
                    candidates.filter { $0.wave == index && !startedIDs.contains($0.device.id) }.count
                waves.append(MigrationReport.Wave(name: wave.name, percent: wave.percent, devices: states.values.reduce(0, +), states: states))
            }
            reports.append(MigrationReport(
                name: plan.name, state: status?.state.rawValue ?? "not started", reason: status?.reason, waves: waves))
        }
        return reports
    }
}

/// A migration's progress.
public struct MigrationReport: Hashable, Sendable, Codable {
    public struct Wave: Hashable, Sendable, Codable {
        public var name: String
        public var percent: Double
        public var devices: Int
        /// Devices per state (`cwmp` counts those not started yet).
        public var states: [String: Int]
    }

    public var name: String
    public var state: String
    public var reason: String?
    public var waves: [Wave]
}
