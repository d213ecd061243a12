import Prometheus
import Registry
import TandemCore

/// The `/metrics` exposition: process figures and registry figures, gathered at scrape time into a
/// swift-prometheus registry that later front ends add their counters to.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()

    private let cpu: Gauge
    private let resident: Gauge
    private let virtual: Gauge
    private let openFDs: Gauge
    private let startTime: Gauge
    private let devices: Gauge
    private let devicesByProtocol: [ManagementProtocol: Gauge]
    private let parameters: Gauge
    private let tasksByState: [TaskState: Gauge]
    private let events: Gauge
    private let cwmpSessions: Gauge

    init() {
        let registry = self.registry
        /// Full metric names are written out; the descriptor's unit is folded into them.
        func gauge(_ name: String, labels: [(String, String)] = [], help: String) -> Gauge {
            registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
        }
        // Gauges, not counters, for CPU seconds and events: their values are read from outside
        // (the kernel, the registry) rather than incremented here.
        cpu = gauge("process_cpu_seconds_total", help: "User and system CPU time spent, in seconds.")
        resident = gauge("process_resident_memory_bytes", help: "Resident memory size in bytes.")
        virtual = gauge("process_virtual_memory_bytes", help: "Virtual memory size in bytes.")
        openFDs = gauge("process_open_fds", help: "Number of open file descriptors.")
        startTime = gauge("process_start_time_seconds", help: "Start time of the process since the Unix epoch, in seconds.")
        devices = gauge("tandem_registry_devices", help: "Devices in the registry.")
        var byProtocol: [ManagementProtocol: Gauge] = [:]
        for proto in ManagementProtocol.allCases {
            byProtocol[proto] = gauge("tandem_registry_devices_active", labels: [("protocol", proto.rawValue)], help: "Devices in the registry by the protocol they are managed over.")
        }
        devicesByProtocol = byProtocol
        parameters = gauge("tandem_registry_parameters", help: "Parameter values stored in the registry.")
        var byState: [TaskState: Gauge] = [:]
        for state in TaskState.allCases {
            byState[state] = gauge("tandem_registry_tasks", labels: [("state", state.rawValue)], help: "Tasks in the registry by state.")
        }
        tasksByState = byState
        events = gauge("tandem_registry_events", help: "Events appended to the registry's event log.")
        cwmpSessions = gauge("tandem_cwmp_sessions", help: "CWMP sessions open now.")
    }

    func render(statistics: RegistryStatistics, process: ProcessFigures, cwmpSessions openSessions: Int) -> [UInt8] {
        cwmpSessions.set(Double(openSessions))
        if let value = process.cpuSeconds { cpu.set(value) }
        if let value = process.residentBytes { resident.set(value) }
        if let value = process.virtualBytes { virtual.set(value) }
        if let value = process.openFileDescriptors { openFDs.set(value) }
        if let value = process.startTimeSeconds { startTime.set(value) }
        devices.set(Double(statistics.devices))
        for (proto, gauge) in devicesByProtocol { gauge.set(Double(statistics.devicesByProtocol[proto] ?? 0)) }
        parameters.set(Double(statistics.parameters))
        for (state, gauge) in tasksByState { gauge.set(Double(statistics.tasksByState[state] ?? 0)) }
        events.set(Double(statistics.events))
        return registry.emitToBuffer()
    }
}
