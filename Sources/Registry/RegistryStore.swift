import Foundation
import TandemCore

/// The device registry: every read and every named, transactional write Tandem makes.
///
/// One protocol, so that the embedded SQLite store (``SQLiteRegistryStore``) and the PostgreSQL
/// backend planned for multi-node deployments are interchangeable. Each write method is one
/// transaction that keeps the registry's invariants (one row per device, identifiers unique,
/// events appended in the same transaction as the change they describe).
public protocol RegistryStore: ProvisioningStore {
    // MARK: Devices

    /// Records a contact from a CWMP device: creates its row, or updates it, linking it with an
    /// existing USP row whose endpoint ID derives from the same identity (TR-369 R-ARC.2a).
    func recordCWMPContact(_ identity: CWMPDeviceID, details: DeviceDetails, at: Date) async throws -> Device

    /// Records an Inform in one transaction: the device row (created or linked), the parameters it
    /// carried, the event in the log; on `0 BOOTSTRAP`, first forgets every stored parameter.
    /// Returns what a session needs of the row, not the whole row (the Inform hot path).
    func recordInform(_ inform: InformRecord, at: Date) async throws -> RecordedInform

    /// Records a contact from a USP agent, linking it with an existing CWMP row when its `os::`/`ops::`
    /// ID, or the OUI and serial number it reports, match.
    func recordUSPContact(
        _ endpoint: EndpointID, identity: CWMPDeviceID?, details: DeviceDetails, at: Date
    ) async throws -> Device

    /// Finds a device by registry id, CWMP DeviceId or USP endpoint ID.
    func device(_ identifier: DeviceIdentifier) async throws -> Device?

    /// Lists devices in id order.
    func devices(matching filter: DeviceFilter, page: Page) async throws -> [Device]

    func countDevices(matching filter: DeviceFilter) async throws -> Int

    /// Adds and removes tags; returns the device's tags afterwards.
    func updateTags(deviceID: Int64, adding: [String], removing: [String], actor: String) async throws -> [String]

    // MARK: Credentials

    /// Stores the credentials for `purpose`, replacing earlier ones.
    func setCredentials(deviceID: Int64, purpose: CredentialPurpose, username: String, password: String, actor: String) async throws

    func credentials(deviceID: Int64, purpose: CredentialPurpose) async throws -> DeviceCredentials?

    /// The device whose CPE credentials have this username.
    func cpeCredentials(username: String) async throws -> DeviceCredentials?

    // MARK: API tokens

    /// Stores a new token; the name must be unused.
    func createToken(name: String, role: APIRole, secretHash: String, actor: String) async throws -> APIToken

    func token(id: Int64) async throws -> APIToken?

    func tokens() async throws -> [APIToken]

    /// Revokes the named token; returns false when there is no such live token.
    func revokeToken(name: String, actor: String) async throws -> Bool

    // MARK: Parameters

    /// Stores values; when `replacingSubtree` is given, first removes every stored parameter under it
    /// that is not in `parameters` (a fresh full read of that subtree).
    func storeParameters(
        deviceID: Int64, _ parameters: [StoredParameter], replacingSubtree: String?
    ) async throws

    /// Removes every parameter at or under `prefix` (a deleted object, or all after BOOTSTRAP).
    func removeParameters(deviceID: Int64, under prefix: String) async throws

    /// Stored parameters at or under `prefix` (all when empty), in path order.
    func parameters(deviceID: Int64, under prefix: String) async throws -> [StoredParameter]

    // MARK: Tasks

    func enqueueTask(deviceID: Int64, operation: TandemCore.Operation, expiresAt: Date?, actor: String) async throws -> DeviceTask

    func task(id: Int64) async throws -> DeviceTask?
    /// Only the state of a task (nil when there is no such task): no operation or result to decode.
    func taskState(id: Int64) async throws -> TaskState?

    /// Signalled after every committed change of a task to a final state or back to queued.
    var taskChanges: TaskChangeSignals { get }

    /// Tasks of a device, newest first; all states when `states` is empty.
    func tasks(deviceID: Int64, states: Set<TaskState>) async throws -> [DeviceTask]

    /// Marks the oldest queued, unexpired task of the device running and returns it; expires the
    /// overdue ones on the way.
    func claimNextTask(deviceID: Int64, at: Date) async throws -> DeviceTask?

    /// Finishes a task with its result and, in the same transaction, stores what the result taught
    /// about the device's parameters: first removes every parameter under `removingSubtrees`
    /// (deleted objects), then, under each of `replacingSubtrees` (subtrees the device listed in
    /// full), every parameter that `parameters` does not name (vanished instances), then stores
    /// `parameters`.
    func completeTask(
        id: Int64, result: OperationResult, parameters: [StoredParameter], replacingSubtrees: [String], removingSubtrees: [String], at: Date
    ) async throws

    /// Finishes a task with a fault, or requeues it when `retry` is true.
    func failTask(id: Int64, fault: Fault, retry: Bool, at: Date) async throws

    /// Cancels a queued or running task; returns false if it had already finished.
    func cancelTask(id: Int64, actor: String, at: Date) async throws -> Bool

    // MARK: Events

    func appendEvent(_ event: DeviceEvent) async throws

    /// Events of a device (or all devices when nil), newest first.
    func events(deviceID: Int64?, limit: Int) async throws -> [DeviceEvent]

    // MARK: Health

    func statistics() async throws -> RegistryStatistics
}

extension RegistryStore {
    /// Finishes a task with its result and, in the same transaction, stores what the result taught
    /// about the device's parameters.
    public func completeTask(id: Int64, result: OperationResult, parameters: [StoredParameter], at: Date) async throws {
        try await completeTask(id: id, result: result, parameters: parameters, replacingSubtrees: [], removingSubtrees: [], at: at)
    }
}
