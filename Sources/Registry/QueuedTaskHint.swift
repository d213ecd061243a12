import Synchronization

/// Which devices may have queued tasks, kept in memory so that a claim for a device without one
/// (nearly every CWMP session's end, every idle USP agent, an agent whose last task just ran) is
/// answered without a trip to the registry.
///
/// The store is the only writer of tasks (the command line queues work through the REST API), and
/// only two of its writes make a task queued: ``SQLiteRegistryStore/enqueueTask(deviceID:operation:expiresAt:actor:pinnedTo:)``
/// and a retried ``SQLiteRegistryStore/failTask(id:fault:retry:at:)``. Each notes the device after
/// its transaction committed and before it returns, so whoever queued the work and then wakes the
/// device (`acceptsQueuedWork`, a connection request, the USP task runner) finds it noted.
///
/// A claim whose transaction leaves nothing queued for the device (it took the last task, or found
/// none) forgets the device, but only if no task was noted since the claim took its ``mark(_:)``:
/// each note stamps the device with a new number from one counter, so a note between the mark and
/// the forgetting (a task committed after the claim's transaction) keeps the device, and so does a
/// note after an earlier forgetting, whichever claim tries to forget it later.
final class QueuedTaskHint: Sendable {
    private struct State {
        var marks: [Int64: UInt64] = [:]
        var counter: UInt64 = 0
    }

    private let state: Mutex<State>

    init(devices: some Sequence<Int64>) {
        var initial = State()
        for device in devices {
            initial.counter += 1
            initial.marks[device] = initial.counter
        }
        state = Mutex(initial)
    }

    /// A task of the device was queued (and committed).
    func noteQueued(_ deviceID: Int64) {
        state.withLock { state in
            state.counter += 1
            state.marks[deviceID] = state.counter
        }
    }

    /// Nil when the device has no queued task; otherwise the stamp of its latest note, for
    /// ``forget(_:ifStill:)`` once a claim's transaction has left nothing queued.
    func mark(_ deviceID: Int64) -> UInt64? {
        state.withLock { $0.marks[deviceID] }
    }

    /// Forgets the device unless a task was noted after `mark` was taken.
    func forget(_ deviceID: Int64, ifStill mark: UInt64) {
        state.withLock { state in
            if state.marks[deviceID] == mark { state.marks[deviceID] = nil }
        }
    }
}
