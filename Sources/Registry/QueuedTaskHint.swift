import Synchronization

/// Which devices may have queued tasks, kept in memory so that a device with none (nearly every
/// CWMP session's end, every idle USP agent) is answered without a trip to a reader connection: a
/// thread hop and a read transaction per session otherwise.
///
/// The store is the only writer of tasks (the command line queues work through the REST API), and
/// only two of its writes make a task queued: ``SQLiteRegistryStore/enqueueTask(deviceID:operation:expiresAt:actor:pinnedTo:)``
/// and a retried ``SQLiteRegistryStore/failTask(id:fault:retry:at:)``. Each notes the device after
/// its transaction committed, with a new mark. A claim that finds nothing queued forgets the device
/// only if no write noted it since the claim began, so a task committed while the claim was reading
/// is never forgotten. A stale entry (a cancelled or expired task) only costs one read.
final class QueuedTaskHint: Sendable {
    private struct State {
        var marks: [Int64: UInt64]
        var nextMark: UInt64 = 0
    }

    private let state: Mutex<State>

    init(devices: some Sequence<Int64>) {
        state = Mutex(State(marks: Dictionary(devices.map { ($0, 0) }, uniquingKeysWith: { first, _ in first })))
    }

    /// A task of the device was queued (and committed).
    func noteQueued(_ deviceID: Int64) {
        state.withLock { state in
            state.nextMark += 1
            state.marks[deviceID] = state.nextMark
        }
    }

    /// The device's mark when it may have queued tasks; nil when it has none.
    func mark(_ deviceID: Int64) -> UInt64? {
        state.withLock { $0.marks[deviceID] }
    }

    /// The registry showed no queued task for the device: forgets it, unless a task was queued after
    /// `mark` was read.
    func forget(_ deviceID: Int64, ifStill mark: UInt64) {
        state.withLock { state in
            if state.marks[deviceID] == mark { state.marks[deviceID] = nil }
        }
    }
}
