import Foundation
import Logging
import Policy
import Registry
import Synchronization
import TandemCore

/// The desired-state engine: on each contact (Inform, USP connection, OnBoardRequest, Boot!) and on
/// demand, compares the desired state of the policies that select a device with what the registry
/// knows, and queues the smallest set of neutral operations over the device's protocol. It also
/// hands idle devices to the migration coordinator.
///
/// A converged device plans nothing and costs no round trip. Rounds are bounded per contact: a
/// device still differing after `maxRoundsPerContact` is reported unsettled instead of looping.
/// A policy whose task faults waits with exponential backoff before it is tried again.
public actor ProvisioningEngine: DeviceContactObserver {
    public struct Configuration: Sendable {
        public var maxRoundsPerContact = 4
        public var retryBase: TimeInterval = 60
        public var retryMax: TimeInterval = 6 * 3600
        public init() {}
    }

    struct Contact {
        var triggers: Set<PolicyTrigger>
        var rounds = 0
    }

    public let configuration: Configuration
    let registry: any RegistryStore
    let operations: DeviceOperations
    public let migrations: MigrationCoordinator
    let logger: Logger
    public private(set) var document = PolicyDocument()
    public private(set) var documentID: Int64?
    private var contacts: [Int64: Contact] = [:]
    /// Devices whose round runs: rounds of one device never interleave (a stale plan saved after a
    /// newer one would undo its statuses).
    private var inRound: Set<Int64> = []

    static let actorPrefix = "policy:"

    public init(configuration: Configuration = Configuration(), registry: any RegistryStore, operations: DeviceOperations, migrations: MigrationCoordinator, logger: Logger) {
        self.configuration = configuration
        self.registry = registry
        self.operations = operations
        self.migrations = migrations
        self.logger = logger
    }

    /// Loads the document in force from the registry (at start).
    public func load() async throws {
        guard let stored = try await registry.currentPolicyDocument() else { return }
        do {
            try await use(PolicyLoader.load(stored.text, file: stored.fileName), id: stored.id)
        } catch {
            logger.error("the stored policy document no longer validates; no policy is in force", metadata: ["error": "\(error)"])
        }
    }

    /// The text of the document in force, as applied.
    public func storedText() async throws -> String? {
        try await registry.currentPolicyDocument()?.text
    }

    public nonisolated var hasWork: Bool { inForce.load(ordering: .relaxed) }
    private nonisolated let inForce = Atomic<Bool>(false)

    private func use(_ document: PolicyDocument, id: Int64) async {
        self.document = document
        inForce.store(!document.policies.isEmpty || !document.migrations.isEmpty, ordering: .relaxed)
        self.documentID = id
        await migrations.setDocument(document)
    }

    // MARK: Applying

    /// What `apply` did.
    public struct ApplyReport: Hashable, Sendable, Codable {
        public var document: Int64
        public var policies: Int
        public var migrations: Int
        /// Devices that got work queued by the on-demand run.
        public var devicesQueued: Int
        public var tasksQueued: Int
    }

    /// Validates and stores a policy file, puts it in force, and runs the policies that have the
    /// on-demand trigger over every device they select.
    public func apply(text: String, fileName: String, actor: String) async throws -> ApplyReport {
        let parsed = try PolicyLoader.load(text, file: fileName)
        let stored = try await registry.storePolicyDocument(fileName: fileName, text: text, actor: actor, at: Date())
        await use(parsed, id: stored.id)
        var devices = 0, tasks = 0
        try await forEachDevice { device in
            let queued = try await self.round(device: device, triggers: [.onDemand], now: Date())
            if queued > 0 {
                devices += 1
                tasks += queued
                // Later rounds (objects created by this one, then their settings) run when the
                // device is next idle, as for a contact.
                self.openContact(device.id, triggers: [.onDemand])
                _ = await self.operations.wakeForQueuedWork(device)
            }
        }
        await migrations.tick(now: Date())
        return ApplyReport(document: stored.id, policies: parsed.policies.count, migrations: parsed.migrations.count, devicesQueued: devices, tasksQueued: tasks)
    }

    private func openContact(_ deviceID: Int64, triggers: Set<PolicyTrigger>) {
        if contacts[deviceID] == nil { contacts[deviceID] = Contact(triggers: triggers) }
    }

    private func forEachDevice(_ body: (Device) async throws -> Void) async throws {
        var after: Int64?
        while true {
            let page = try await registry.devices(matching: DeviceFilter(), page: Page(limit: 1000, after: after))
            guard let last = page.last else { return }
            after = last.id
            for device in page { try await body(device) }
        }
    }

    // MARK: Contacts

    public func contactStarted(deviceID: Int64, over protocol: ManagementProtocol, triggers: Set<PolicyTrigger>) async {
        // Without policies there is no round to count: keep no per-device state.
        contacts[deviceID] = document.policies.isEmpty ? nil : Contact(triggers: triggers)
    }

    public func deviceIdle(deviceID: Int64, over protocol: ManagementProtocol) async -> Bool {
        let now = Date()
        if await migrations.deviceIdle(deviceID: deviceID, over: `protocol`, now: now) { return true }
        guard !document.policies.isEmpty else { return false }
        guard var contact = contacts[deviceID] else {
            await settle(deviceID: deviceID, now: now)
            return false
        }
        guard contact.rounds < configuration.maxRoundsPerContact else {
            contacts[deviceID] = nil
            await markUnsettled(deviceID: deviceID, now: now)
            return false
        }
        contact.rounds += 1
        contacts[deviceID] = contact
        do {
            guard let device = try await registry.device(.registryID(deviceID)) else { return false }
            let queued = try await round(device: device, triggers: contact.triggers, now: now)
            if queued == 0 { contacts[deviceID] = nil }
            return queued > 0
        } catch {
            logger.error("provisioning round failed", metadata: ["device": "\(deviceID)", "error": "\(error)"])
            return false
        }
    }

    /// One round for one device: plans against the registry, queues the operations, records each
    /// policy's state. Returns the number of tasks queued.
    func round(device: Device, triggers: Set<PolicyTrigger>, now: Date) async throws -> Int {
        await enterRound(device.id)
        defer { inRound.remove(device.id) }
        let facts = DeviceFacts(device: device, parameters: try await registry.parameters(deviceID: device.id, under: ""))
        let selected = document.policies.filter { !$0.triggers.isDisjoint(with: triggers) && $0.selector.matches(facts) }
        guard !selected.isEmpty else { return 0 }
        var statuses = Dictionary(try await registry.policyStatuses(deviceID: device.id).map { ($0.policy, $0) }, uniquingKeysWith: { a, _ in a })
        let open = try await registry.tasks(deviceID: device.id, states: [.queued, .running, .faulted, .expired])
        var eligible: [Policy] = []
        var changed: [PolicyStatus] = []
        for policy in selected {
            let origin = Self.actorPrefix + policy.name
            var status = statuses[policy.name] ?? PolicyStatus(deviceID: device.id, policy: policy.name, state: .pending, updatedAt: now)
            // Its work from an earlier round still runs: wait for it.
            if open.contains(where: { $0.origin == origin && !$0.state.isFinal }) { continue }
            // A fault since the last round: back off.
            if status.state == .pending,
                let failed = open.first(where: { $0.origin == origin && ($0.state == .faulted || $0.state == .expired) && $0.updatedAt >= status.updatedAt })
            {
                status.state = .faulted
                status.attempts += 1
                status.lastFault = failed.fault?.description ?? "task \(failed.id) \(failed.state.rawValue)"
                let delay = min(configuration.retryMax, configuration.retryBase * pow(2, Double(status.attempts - 1)))
                status.nextAttemptAt = now.addingTimeInterval(delay)
                status.updatedAt = now
                changed.append(status)
                statuses[policy.name] = status
                continue
            }
            if status.state == .faulted, let next = status.nextAttemptAt, next > now { continue }
            eligible.append(policy)
        }
        let planned = DesiredStatePlanner.plan(eligible, for: facts)
        let planning = Set(planned.map(\.policy))
        for policy in eligible {
            var status = statuses[policy.name] ?? PolicyStatus(deviceID: device.id, policy: policy.name, state: .pending, updatedAt: now)
            if planning.contains(policy.name) {
                // A retry after a fault keeps its attempt count until it converges.
                status.state = .pending
                status.updatedAt = now
            } else {
                status.markConverged(at: now)
            }
            changed.append(status)
        }
        for item in planned {
            _ = try await registry.enqueueTask(
                deviceID: device.id, operation: item.operation, expiresAt: now.addingTimeInterval(operations.defaultLifetime),
                actor: Self.actorPrefix + item.policy, pinnedTo: nil)
        }
        try await registry.savePolicyStatuses(changed)
        return planned.count
    }

    /// Outside a contact's rounds (work queued on demand ran later): policies still marked pending
    /// whose desired state now holds become converged. It never queues work, so it cannot cycle.
    private func settle(deviceID: Int64, now: Date) async {
        await enterRound(deviceID)
        defer { inRound.remove(deviceID) }
        guard let statuses = try? await registry.policyStatuses(deviceID: deviceID), statuses.contains(where: { $0.state == .pending }),
            let device = try? await registry.device(.registryID(deviceID)),
            let parameters = try? await registry.parameters(deviceID: deviceID, under: ""),
            let open = try? await registry.tasks(deviceID: deviceID, states: [.queued, .running])
        else { return }
        let facts = DeviceFacts(device: device, parameters: parameters)
        let pending = statuses.filter { status in
            status.state == .pending && !open.contains { $0.origin == Self.actorPrefix + status.policy }
        }
        let policies = document.policies.filter { policy in pending.contains { $0.policy == policy.name } && policy.selector.matches(facts) }
        let planned = Set(DesiredStatePlanner.plan(policies, for: facts).map(\.policy))
        let converged = pending.filter { status in policies.contains { $0.name == status.policy } && !planned.contains(status.policy) }
            .map { status -> PolicyStatus in
                var status = status
                status.markConverged(at: now)
                return status
            }
        try? await registry.savePolicyStatuses(converged)
    }

    /// Waits until no other round of the device runs, then claims it (released with `inRound.remove`).
    private func enterRound(_ deviceID: Int64) async {
        while !inRound.insert(deviceID).inserted { try? await Task.sleep(for: .milliseconds(2)) }
    }

    private func markUnsettled(deviceID: Int64, now: Date) async {
        guard let statuses = try? await registry.policyStatuses(deviceID: deviceID) else { return }
        let unsettled = statuses.filter { $0.state == .pending }.map { status -> PolicyStatus in
            var status = status
            status.state = .unsettled
            status.lastFault = "still differing after \(configuration.maxRoundsPerContact) rounds in one contact"
            status.updatedAt = now
            return status
        }
        logger.notice("device unsettled", metadata: ["device": "\(deviceID)", "policies": "\(unsettled.map(\.policy))"])
        try? await registry.savePolicyStatuses(unsettled)
    }

    // MARK: Planning

    /// `tandem policy plan`: what `document` would change, touching no device.
    public func plan(_ document: PolicyDocument) async throws -> PolicyPlanReport {
        var policies = Dictionary(uniqueKeysWithValues: document.policies.map {
            ($0.name, PolicyPlanReport.PolicyEntry(name: $0.name, order: $0.order, selected: 0, converged: 0, changing: 0, operations: [:]))
        })
        var migrationEntries = document.migrations.map {
            PolicyPlanReport.MigrationEntry(name: $0.name, selected: 0, waves: $0.waves.map { PolicyPlanReport.WaveEntry(name: $0.name, percent: $0.percent, devices: 0) })
        }
        try await forEachDevice { device in
            let facts = DeviceFacts(device: device, parameters: try await self.registry.parameters(deviceID: device.id, under: ""))
            let selected = document.policies.filter { $0.selector.matches(facts) }
            let planned = DesiredStatePlanner.plan(selected, for: facts)
            for policy in selected {
                policies[policy.name]?.selected += 1
                let mine = planned.filter { $0.policy == policy.name }
                if mine.isEmpty {
                    policies[policy.name]?.converged += 1
                } else {
                    policies[policy.name]?.changing += 1
                    for summary in Set(mine.map { Self.summary($0.operation) }) { policies[policy.name]?.operations[summary, default: 0] += 1 }
                }
            }
            for (index, plan) in document.migrations.enumerated() where device.cwmpDeviceID != nil && plan.selector.matches(facts, salt: plan.name) {
                guard let wave = plan.wave(forKey: facts.key) else { continue }
                migrationEntries[index].selected += 1
                migrationEntries[index].waves[wave].devices += 1
            }
        }
        return PolicyPlanReport(policies: document.policies.compactMap { policies[$0.name] }, migrations: migrationEntries)
    }

    static func summary(_ operation: TandemCore.Operation) -> String {
        switch operation {
        case .get(let paths): "read " + paths.map(\.description).joined(separator: ", ")
        case .set(let values, _, _): "set " + values.map(\.path.description).joined(separator: ", ")
        case .add(let object, _): "add an instance to \(object)"
        case .download(let transfer): "download firmware \(transfer.url)"
        default: operation.name
        }
    }
}

extension PolicyStatus {
    /// Nothing left to do: the retry bookkeeping of earlier faults is cleared.
    mutating func markConverged(at now: Date) {
        state = .converged
        attempts = 0
        lastFault = nil
        nextAttemptAt = nil
        updatedAt = now
    }
}

/// What a policy document would change.
public struct PolicyPlanReport: Hashable, Sendable, Codable {
    public struct PolicyEntry: Hashable, Sendable, Codable {
        public var name: String
        public var order: Int
        /// Devices the policy selects.
        public var selected: Int
        public var converged: Int
        /// Devices that would get operations.
        public var changing: Int
        /// Operation summary → devices.
        public var operations: [String: Int]
    }

    public struct WaveEntry: Hashable, Sendable, Codable {
        public var name: String
        public var percent: Double
        public var devices: Int
    }

    public struct MigrationEntry: Hashable, Sendable, Codable {
        public var name: String
        public var selected: Int
        public var waves: [WaveEntry]
    }

    public var policies: [PolicyEntry]
    public var migrations: [MigrationEntry]
}
