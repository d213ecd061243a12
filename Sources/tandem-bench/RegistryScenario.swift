import Foundation
import Registry
import TandemCore

extension BenchRun {
    /// `registry-scale`: N devices with 30 parameters each written into the SQLite registry through
    /// the registry's own write path (batched transactions, then single Informs as the ACS makes
    /// them, against the same rows written by SQLite's C API alone); the size, a policy selection,
    /// and the first page of `tandem devices --filter`.
    func registryScale() async throws -> [Measurement] {
        let name = "registry-scale"
        let devices = registryDevices
        let directory = workDir + "/" + name
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/" + SQLiteRegistryStore.fileName
        let batch = 2_000
        let now = Date()

        var loadSeconds = 0.0
        var informRate = 0.0
        var informFloor = 0.0
        do {
            let store = try SQLiteRegistryStore(path: path)
            let started = ContinuousClock.now
            var written = 0
            while written < devices {
                let count = min(batch, devices - written)
                let records = try (written..<(written + count)).map { try Self.informRecord(index: $0, at: now, events: ["0 BOOTSTRAP", "1 BOOT"]) }
                try await store.recordInforms(records, at: now)
                written += count
                if written % 100_000 == 0 { progress("\(name): \(written) devices written") }
            }
            loadSeconds = (ContinuousClock.now - started).seconds

            // Periodic Informs as the ACS records them: one transaction each, several at a time,
            // against the same rows written by SQLite's C API alone in transactions of as many
            // (RegistryWriteFloor). Runs alternate, Tandem first and last, so that neither gets the
            // warmer pages; the records are built before either clock starts.
            let updates = quick ? 10_000 : 50_000
            let workers = 8
            var informs = try (0..<updates).map { index in
                try Self.informRecord(index: (index * 7_919) % devices, at: now, events: ["2 PERIODIC"])
            }
            var tandemRates: [Double] = []
            var floorRates: [Double] = []
            let turns = ["tandem", "floor", "floor", "tandem"]
            // One connection for both floor turns: its page cache warms as the registry's do.
            let floor = try RegistryWriteFloor(path: path)
            let eventsBefore = try floor.eventCount()
            for (number, turn) in turns.enumerated() {
                // Every turn reports a later UpTime than the one before: one changed row an Inform,
                // as a CPE's periodic Informs bring (set before the clock starts).
                for index in informs.indices { informs[index] = informs[index].reporting(uptime: 2 + number * updates + index) }
                if turn == "floor" {
                    floorRates.append(try floor.write(informs, batch: workers, at: now))
                    continue
                }
                let turnInforms = informs
                let informStart = ContinuousClock.now
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for worker in 0..<workers {
                        group.addTask {
                            for index in stride(from: worker, to: updates, by: workers) {
                                _ = try await store.recordInform(turnInforms[index], at: now)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                tandemRates.append(Double(updates) / (ContinuousClock.now - informStart).seconds)
            }
            // Each turn wrote every Inform's event: neither side skipped its writes.
            let events = try floor.eventCount() - eventsBefore
            guard events == Int64(turns.count * updates) else {
                throw BenchError("\(name): \(events) Inform events written, expected \(turns.count * updates)")
            }
            informRate = tandemRates.reduce(0, +) / Double(tandemRates.count)
            informFloor = floorRates.reduce(0, +) / Double(floorRates.count)
        }

        // A fresh connection reads, as a policy evaluation would (the CLI below is its own process).
        let selection = try await timed {
            let store = try SQLiteRegistryStore(path: path)
            let count = try await store.countDevices(matching: DeviceFilter(productClass: "BenchGateway", softwareVersion: "2.0.0"))
            guard count == (devices + 9) / 10 else { throw BenchError("selection counted \(count) devices, expected \((devices + 9) / 10)") }
        }
        let listing = try await timed {
            _ = try runTool(tandem, ["devices", "--data-dir", directory, "--filter", "softwareVersion=2.0.0", "--limit", "100"])
        }
        let size = ["", "-wal", "-shm"].reduce(0.0) { total, suffix in
            total + Double((try? FileManager.default.attributesOfItem(atPath: path + suffix)[.size] as? Int) ?? 0)
        }
        return [
            Measurement(name, "devices (30 parameters each)", Double(devices), "devices"),
            Measurement(name, "database size", size / 1_048_576, "MiB"),
            Measurement(name, "batched write rate", Double(devices) / loadSeconds, "devices/s"),
            Measurement(name, "policy selection (count)", selection * 1000, "ms"),
            Measurement(name, "tandem devices --filter page", listing * 1000, "ms"),
            Measurement(name, "Inform update rate", informRate, "1/s", floor: informFloor),
        ]
    }

    /// Device `index`: one in ten runs software 2.0.0 (what the selection looks for).
    static func informRecord(index: Int, at date: Date, events: [String]) throws -> InformRecord {
        let serial = String(format: "REG%09d", index)
        let identity = try CWMPDeviceID(manufacturer: "Tandem Bench", oui: "ACDE48", productClass: "BenchGateway", serialNumber: serial)
        let version = index % 10 == 0 ? "2.0.0" : "1.0.0"
        var parameters = [
            StoredParameter(path: "Device.DeviceInfo.SoftwareVersion", value: .string(version), updatedAt: date),
            StoredParameter(path: "Device.DeviceInfo.SerialNumber", value: .string(serial), updatedAt: date),
            StoredParameter(path: "Device.ManagementServer.ConnectionRequestURL", value: .string("http://10.\(index >> 16 & 255).\(index >> 8 & 255).\(index & 255):7547/cr"), updatedAt: date),
        ]
        parameters.append(StoredParameter(path: "Device.DeviceInfo.UpTime", value: .unsignedInt(1), updatedAt: date))
        for n in 1...26 {
            parameters.append(StoredParameter(path: "Device.Bench.Object.\(n).Value", value: .string("value-\(n)-\(index % 97)"), updatedAt: date))
        }
        let details = DeviceDetails(manufacturer: "Tandem Bench", modelName: "TBG-1", softwareVersion: version, hardwareVersion: "HW1.0", dataModelRoot: "Device")
        return InformRecord(identity: identity, details: details, eventCodes: events, parameters: parameters, remoteAddress: "192.0.2.1")
    }
}

/// Seconds `body` took.
func timed(_ body: () async throws -> Void) async throws -> Double {
    let started = ContinuousClock.now
    try await body()
    return (ContinuousClock.now - started).seconds
}
