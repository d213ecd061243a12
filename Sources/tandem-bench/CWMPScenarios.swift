import AsyncHTTPClient
import CWMP
import Engine
import Foundation
import Registry
import TandemCore

extension BenchRun {
    /// `cwmp-sessions`: full sessions back to back for a set time, against Tandem and against the
    /// minimal HTTP responder (the floor), with the same client.
    func cwmpSessions() async throws -> [Measurement] {
        let name = "cwmp-sessions"
        let connections = quick ? 64 : 256
        let duration: Duration = quick ? .seconds(5) : .seconds(30)

        let floorPort = try await freePort()
        let floor = try startFloorResponder(port: floorPort)
        defer { if floor.isRunning { floor.terminate() } }
        try await waitForPort(floorPort, timeout: .seconds(30))
        let floorLoad = CWMPLoad(host: "127.0.0.1", port: floorPort)
        _ = try await floorLoad.runSessions(connections: connections, duration: .seconds(1), serialBase: 0)
        let floorTally = try await floorLoad.runSessions(connections: connections, duration: duration, serialBase: 0)
        if floor.isRunning { floor.terminate() }
        let floorRate = Double(floorTally.sessions) / duration.seconds
        progress("\(name): floor \(Int(floorRate)) sessions/s over \(connections) connections")

        return try await withServer(name) { server in
            let load = CWMPLoad(host: "127.0.0.1", port: server.cwmpPort)
            // Warm-up: every device registers (its first Inform creates its row).
            let warm = try await load.runSessions(connections: connections, duration: .seconds(2), serialBase: 0)
            try check(warm, name)
            let cpuBefore = server.cpuSeconds()
            let tally = try await load.runSessions(connections: connections, duration: duration, serialBase: 0)
            let cpu = server.cpuSeconds() - cpuBefore
            let peak = server.peakRSSKiB
            try check(tally, name)
            let rate = Double(tally.sessions) / duration.seconds
            var rows = [
                Measurement(name, "sessions/s", rate, "1/s", floor: floorRate),
                Measurement(name, "p50 session latency", tally.latencies.percentile(50), "ms", floor: floorTally.latencies.percentile(50)),
                Measurement(name, "p99 session latency", tally.latencies.percentile(99), "ms", floor: floorTally.latencies.percentile(99)),
                Measurement(name, "server CPU per 1000 sessions", tally.sessions > 0 ? cpu / Double(tally.sessions) * 1000 : 0, "s"),
                Measurement(name, "server peak RSS", peak / 1024, "MiB"),
                Measurement(name, "concurrent CPEs", Double(connections), "connections"),
            ]
            guard registryFloor else { return rows }
            // The registry's own ceiling, in the server's registry while it idles: the rows these
            // sessions' Informs write, by SQLite's C API alone on one core (RegistryWriteFloor).
            let informs = try Self.sessionInformRecords(connections: connections)
            let registryFloor = try RegistryWriteFloor(path: server.dataDirectory + "/" + SQLiteRegistryStore.fileName)
            let writes = quick ? 20_000 : 60_000
            // Each write reports a later UpTime, as each session did: one changed row an Inform.
            let registryRate = try registryFloor.write(
                (0..<writes).map { informs[$0 % informs.count].reporting(uptime: 2_000_000_000 + $0) },
                batch: Self.registryFloorBatch, at: Date())
            progress("\(name): SQLite alone writes these Informs' rows at \(Int(registryRate))/s on one core")
            rows.insert(Measurement(name, "sessions/s vs. SQLite alone on its rows", rate, "1/s", floor: registryRate), at: 1)
            return rows
        }
    }

    /// `cwmp-storm`: every device boots at once; all must end up registered, with no error but
    /// deliberate 503 Retry-After answers.
    func cwmpStorm() async throws -> [Measurement] {
        let name = "cwmp-storm"
        let devices = quick ? 2_000 : 20_000
        return try await withServer(name) { server in
            let load = CWMPLoad(host: "127.0.0.1", port: server.cwmpPort)
            let started = ContinuousClock.now
            let tally = try await load.runStorm(devices: devices, serialBase: 0)
            let drain = (ContinuousClock.now - started).seconds
            let registered = try await withAPI(server) { try await $0.deviceCount() }
            let peak = server.peakRSSKiB
            if tally.errors > 0 { progress("\(name): \(tally.errors) errors, first: \(tally.firstErrors.joined(separator: "; "))") }
            return [
                Measurement(name, "devices booting at once", Double(devices), "devices"),
                Measurement(name, "time to drain", drain, "s"),
                Measurement(name, "half the devices done by", tally.completions.percentile(50), "s"),
                Measurement(name, "99% of the devices done by", tally.completions.percentile(99), "s"),
                Measurement(name, "registered", Double(registered), "devices"),
                Measurement(name, "503 Retry-After answers", Double(tally.retryAfter503), "responses"),
                Measurement(name, "other errors", Double(tally.errors + max(0, devices - registered)), "errors"),
                Measurement(name, "server peak RSS", peak / 1024, "MiB"),
            ]
        }
    }

    /// Informs per transaction in the registry ceiling: the group commit batches whatever is
    /// queued (up to 256), which under this load is tens of Informs.
    static let registryFloorBatch = 32

    /// The registry's record of each simulated CPE's Inform, built as the session manager builds it
    /// (`InformRecord(_:remoteAddress:at:)`) from the decoded message the CPEs send.
    static func sessionInformRecords(connections: Int) throws -> [InformRecord] {
        let decoder = CWMPDecoder()
        let now = Date()
        return try (0..<connections).map { index in
            let bytes = Array(InformTemplate.xml(serial: String(format: "BENCH%08d", index), events: ["2 PERIODIC"], uptime: index).utf8)
            guard let inform = try decoder.decode(bytes, from: .cpe).inform else { throw BenchError("the benchmark Inform does not decode as one") }
            return InformRecord(inform, remoteAddress: "127.0.0.1", at: now)
        }
    }

    private func check(_ tally: CWMPLoadTally, _ name: String) throws {
        guard tally.errors == 0 else {
            throw BenchError("\(name): \(tally.errors) sessions failed: \(tally.firstErrors.joined(separator: "; "))")
        }
        guard tally.sessions > 0 else { throw BenchError("\(name): no session completed") }
    }

    /// `tandem-bench floor-http` in its own process, as the server would be.
    private func startFloorResponder(port: Int) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        process.arguments = ["floor-http", "--port", String(port)]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return process
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

extension InformRecord {
    /// The same Inform reporting another `Device.DeviceInfo.UpTime`.
    func reporting(uptime: Int) -> InformRecord {
        var record = self
        guard let index = record.parameters.firstIndex(where: { $0.path == "Device.DeviceInfo.UpTime" }) else {
            preconditionFailure("the benchmark's Informs report Device.DeviceInfo.UpTime")
        }
        record.parameters[index].value = .unsignedInt(UInt32(uptime % 4_000_000_000))
        return record
    }
}
