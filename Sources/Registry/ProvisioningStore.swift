import Foundation
import TandemCore

/// A policy file as applied.
public struct StoredPolicyDocument: Hashable, Sendable, Codable {
    public var id: Int64
    public var fileName: String
    public var text: String
    public var appliedAt: Date
    public var actor: String
}

/// Where a device stands with one policy.
public struct PolicyStatus: Hashable, Sendable, Codable {
    public enum State: String, Hashable, Sendable, Codable, CaseIterable {
        /// Nothing left to do.
        case converged
        /// Operations are queued or running.
        case pending
        /// The last attempt faulted; retried after `nextAttemptAt`.
        case faulted
        /// Still differing after the round limit of a contact.
        case unsettled
    }

    public var deviceID: Int64
    public var policy: String
    public var state: State
    public var attempts: Int
    public var lastFault: String?
    public var nextAttemptAt: Date?
    public var updatedAt: Date

    public init(deviceID: Int64, policy: String, state: State, attempts: Int = 0, lastFault: String? = nil, nextAttemptAt: Date? = nil, updatedAt: Date) {
        self.deviceID = deviceID
        self.policy = policy
        self.state = state
        self.attempts = attempts
        self.lastFault = lastFault
        self.nextAttemptAt = nextAttemptAt
        self.updatedAt = updatedAt
    }
}

/// A migration as a whole.
public struct MigrationStatus: Hashable, Sendable, Codable {
    public enum State: String, Hashable, Sendable, Codable {
        case running, paused
        case rollingBack = "rolling-back"
    }

    public var name: String
    public var state: State
    public var reason: String?
    public var updatedAt: Date
}

/// One device's progress through a migration (issue: cwmp, enabling, verifying, usp; or rolled-back,
/// failed).
public struct MigrationDeviceRecord: Hashable, Sendable, Codable {
    public enum State: String, Hashable, Sendable, Codable, CaseIterable {
        case cwmp, enabling, verifying, usp
        case rollingBack = "rolling-back"
        case rolledBack = "rolled-back"
        case failed

        /// The device will not move again in this migration.
        public var isFinal: Bool { self == .usp || self == .rolledBack || self == .failed }
    }

    public var migration: String
    public var deviceID: Int64
    public var state: State
    public var wave: Int
    /// The template step whose task runs (enabling) or the rollback step (rolling-back).
    public var step: Int
    public var taskID: Int64?
    public var template: String
    /// The USP endpoint ID the agent is expected to present.
    public var endpointID: String
    /// Objects created so far, by template name (`client` → `Device.MQTT.Client.2.`).
    public var bindings: [String: String]
    /// Objects created, in creation order.
    public var created: [String]
    /// Values to restore on rollback (path → lexical value, type).
    public var restore: [String: TypedValue]
    public var startedAt: Date
    public var deadline: Date?
    public var reason: String?
    public var updatedAt: Date

    public init(
        migration: String, deviceID: Int64, state: State, wave: Int, step: Int = 0, taskID: Int64? = nil, template: String = "",
        endpointID: String = "", bindings: [String: String] = [:], created: [String] = [], restore: [String: TypedValue] = [:],
        startedAt: Date, deadline: Date? = nil, reason: String? = nil, updatedAt: Date
    ) {
        self.migration = migration
        self.deviceID = deviceID
        self.state = state
        self.wave = wave
        self.step = step
        self.taskID = taskID
        self.template = template
        self.endpointID = endpointID
        self.bindings = bindings
        self.created = created
        self.restore = restore
        self.startedAt = startedAt
        self.deadline = deadline
        self.reason = reason
        self.updatedAt = updatedAt
    }
}

/// Counts of a migration's devices per wave and state.
public struct MigrationCounts: Hashable, Sendable, Codable {
    /// `counts[wave][state]`.
    public var counts: [Int: [MigrationDeviceRecord.State: Int]]

    public init(counts: [Int: [MigrationDeviceRecord.State: Int]] = [:]) { self.counts = counts }

    public func count(wave: Int? = nil, _ states: Set<MigrationDeviceRecord.State>) -> Int {
        counts.filter { wave == nil || $0.key == wave }.values.reduce(0) { total, byState in
            total + byState.filter { states.contains($0.key) }.values.reduce(0, +)
        }
    }
}

/// The registry's share of provisioning: policy documents, per-device policy status, migrations.
/// Every write is one transaction, with its event in the same transaction.
public protocol ProvisioningStore: Sendable {
    /// Stores a policy document; it is in force from now on.
    func storePolicyDocument(fileName: String, text: String, actor: String, at: Date) async throws -> StoredPolicyDocument
    /// The document in force, if any.
    func currentPolicyDocument() async throws -> StoredPolicyDocument?

    func policyStatuses(deviceID: Int64) async throws -> [PolicyStatus]
    /// Writes statuses; an event is appended for each change of state.
    func savePolicyStatuses(_ statuses: [PolicyStatus]) async throws
    /// Devices per policy and state.
    func policyStatusCounts() async throws -> [String: [PolicyStatus.State: Int]]

    func migrationStatus(name: String) async throws -> MigrationStatus?
    func setMigrationStatus(name: String, state: MigrationStatus.State, reason: String?, actor: String, at: Date) async throws

    func migrationDevice(migration: String, deviceID: Int64) async throws -> MigrationDeviceRecord?
    /// The device's migration records, in any migration.
    func migrationDevices(deviceID: Int64) async throws -> [MigrationDeviceRecord]
    func migrationDevices(migration: String, states: Set<MigrationDeviceRecord.State>) async throws -> [MigrationDeviceRecord]
    /// Writes the record; when `event` is given, appends it to the device's log in the same
    /// transaction (state changes are the migration's history).
    func saveMigrationDevice(_ record: MigrationDeviceRecord, event: String?, actor: String) async throws
    func migrationCounts(migration: String) async throws -> MigrationCounts
    /// Devices the migration started since `date` (for the hourly rate).
    func migrationStarts(migration: String, since date: Date) async throws -> Int

    /// Sets the protocol Tandem manages the device over (after a verified migration).
    func setActiveProtocol(deviceID: Int64, _ protocol: ManagementProtocol, actor: String, at: Date) async throws
    /// Queues a task that only `pinnedTo` may run (nil: whichever protocol the device is managed over).
    func enqueueTask(
        deviceID: Int64, operation: TandemCore.Operation, expiresAt: Date?, actor: String, pinnedTo: ManagementProtocol?
    ) async throws -> DeviceTask
    /// Claims the oldest queued task that `protocol` may run: those pinned to it, and unpinned ones
    /// as `unpinned` says.
    func claimNextTask(deviceID: Int64, at: Date, over protocol: ManagementProtocol, unpinned: UnpinnedTasks) async throws -> DeviceTask?
}

/// Whether a claim over one protocol takes the device's unpinned tasks (those either protocol may
/// run); tasks pinned to the claiming protocol are always taken.
public enum UnpinnedTasks: Sendable {
    case include
    case exclude
    /// Only while the device is managed over the claiming protocol, as its row says in the claim's
    /// own transaction: a USP agent's runner, which has no session state that knows it, needs no
    /// read of the device first (and no switch of protocol can slip between that read and the claim).
    case whenManagedOverClaimingProtocol
}

extension ProvisioningStore {
    /// Claims the oldest queued task that `protocol` may run: those pinned to it, and unpinned ones
    /// when `includeUnpinned`.
    public func claimNextTask(deviceID: Int64, at: Date, over protocol: ManagementProtocol, includeUnpinned: Bool) async throws -> DeviceTask? {
        try await claimNextTask(deviceID: deviceID, at: at, over: `protocol`, unpinned: includeUnpinned ? .include : .exclude)
    }
}
