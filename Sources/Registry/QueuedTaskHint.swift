import Synchronization

/// Which devices may have queued tasks, kept in memory so that a device that never had one (nearly
/// every CWMP session's end, every idle USP agent) is answered without a trip to a reader connection:
/// a thread hop and a read transaction per session otherwise.
///
/// The store is the only writer of tasks (the command line queues work through the REST API), and
/// only two of its writes make a task queued: ``SQLiteRegistryStore/enqueueTask(deviceID:operation:expiresAt:actor:pinnedTo:)``
/// and a retried ``SQLiteRegistryStore/failTask(id:fault:retry:at:)``. Each notes the device after
/// its transaction committed and before it returns, so whoever queued the work and then wakes the
/// device (`acceptsQueuedWork`, a connection request, the USP task runner) finds it noted.
///
/// The set only grows (at most one entry per device): a device that once had a task is checked in
/// the registry at each claim, as before the hint. Forgetting a device whose claim found nothing
/// would need the check and the forgetting to be ordered against every commit that queues a task.
final class QueuedTaskHint: Sendable {
    private let devices: Mutex<Set<Int64>>

    init(devices: some Sequence<Int64>) {
        self.devices = Mutex(Set(devices))
    }

    /// A task of the device was queued (and committed).
    func noteQueued(_ deviceID: Int64) {
        _ = devices.withLock { $0.insert(deviceID) }
    }

    /// Whether the device may have queued tasks.
    func mayHaveQueued(_ deviceID: Int64) -> Bool {
        devices.withLock { $0.contains(deviceID) }
    }
}
