import AsyncHTTPClient
import Engine
import Foundation
import GRDB
import HTTPTypes
import HummingbirdWSClient
import Logging
import MTPMQTT
import MTPWebSocket
import NIOCore
import NIOHTTP1
import NIOWebSocket
import Registry
import ServiceLifecycle
import TandemCore
import Testing

/// `kill -9` of the real `tandem serve` under CWMP, USP and API load, then a restart on the same
/// data directory: everything acknowledged is in the registry, the database is intact, queued tasks
/// resume.
@Suite struct CrashConsistencyTests {
    static let inform = try! String(contentsOf: repositoryRoot.appendingPathComponent("Fixtures/cwmp/cpe-inform-boot.xml"), encoding: .utf8)
    static let boot = try! Data(contentsOf: repositoryRoot.appendingPathComponent("Fixtures/usp/msg-notify-event.bin"))

    static func inform(serial: String) -> String {
        inform.replacingOccurrences(of: "<SerialNumber>4857544312345678</SerialNumber>", with: "<SerialNumber>\(serial)</SerialNumber>")
    }

    /// A USP Record (TR-369 usp-record-1-4.proto: 1 version, 2 to_id, 3 from_id, 7 no_session_context
    /// { 2 payload }) carrying the Boot! notification fixture.
    static func bootRecord(from: String, to: String) -> [UInt8] {
        func varint(_ value: Int) -> [UInt8] {
            var value = UInt64(value), out: [UInt8] = []
            repeat {
                out.append(UInt8(value & 0x7F) | (value > 0x7F ? 0x80 : 0))
                value >>= 7
            } while value > 0
            return out
        }
        func field(_ number: Int, _ bytes: [UInt8]) -> [UInt8] { varint(number << 3 | 2) + varint(bytes.count) + bytes }
        return field(1, Array("1.4".utf8)) + field(2, Array(to.utf8)) + field(3, Array(from.utf8)) + field(7, field(2, Array(boot)))
    }

    /// Acknowledgements collected while the server runs; read after the kill.
    final class Acknowledged: @unchecked Sendable {
        private let lock = NSLock()
        private var _cwmp: [String] = [], _usp: [String] = [], _tasks: [Int] = []
        private var _killed = false
        /// Set when the server is killed: from then on a failed request ends its direction's load
        /// (before, it was a refusal under load, and the load goes on).
        var killed: Bool {
            get { lock.withLock { _killed } }
            set { lock.withLock { _killed = newValue } }
        }
        func cwmp(_ serial: String) { lock.withLock { _cwmp.append(serial) } }
        func usp(_ id: String) { lock.withLock { _usp.append(id) } }
        func task(_ id: Int) { lock.withLock { _tasks.append(id) } }
        var all: (cwmp: [String], usp: [String], tasks: [Int]) { lock.withLock { (_cwmp, _usp, _tasks) } }
    }

    @Test func killNineUnderLoadLosesNothingAcknowledged() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let created = try runTandem(["token", "create", "--data-dir", directory, "--name", "crash", "--role", "operator"])
        let token = try #require(created.stdout.split(whereSeparator: \.isWhitespace).last.map(String.init))
        let arguments = [
            "--data-dir", directory, "--api-listen", "127.0.0.1:0", "--cwmp-listen", "127.0.0.1:0", "--usp-ws-listen", "127.0.0.1:0",
            "--cwmp-auth", "open", "--usp-endpoint-id", "self::tandem-crash", "--log-level", "warning",
        ]
        let first = try ServerProcess(arguments, listeners: ["api", "cwmp", "usp-websocket"])
        let api = first.ports["api"]!, cwmp = first.ports["cwmp"]!
        let ws = first.ports["usp-websocket"]!
        let acknowledged = Acknowledged()
        let auth = [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")]

        // Load from three directions until the kill; each acknowledgement is recorded only when the
        // server gave it (InformResponse, NotifyResp, 2xx).
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for index in 0..<10_000 {
                    let serial = String(format: "CRASH%06d", index)
                    guard let answer = try? await fetch("http://127.0.0.1:\(cwmp)/", method: "POST", body: Self.inform(serial: serial)) else {
                        if acknowledged.killed { return } else { continue }
                    }
                    if answer.status == 200 && answer.body.contains("InformResponse") { acknowledged.cwmp(serial) }
                }
            }
            group.addTask {
                for index in 0..<10_000 {
                    let endpoint = String(format: "os::00D09E-USPCRASH%05d", index)
                    guard (try? await Self.notifyBoot(port: ws, endpoint: endpoint)) == true else {
                        if acknowledged.killed { return } else { continue }
                    }
                    acknowledged.usp(endpoint)
                }
            }
            group.addTask {
                // Tasks for the CWMP devices already acknowledged (they have no connection-request URL,
                // so the tasks stay queued).
                for _ in 0..<10_000 {
                    guard let serial = acknowledged.all.cwmp.last else {
                        try? await Task.sleep(for: .milliseconds(20))
                        continue
                    }
                    guard let answer = try? await fetch(
                        "http://127.0.0.1:\(api)/api/v1/devices/00D09E-HG8245-\(serial)/tasks", method: "POST",
                        body: #"{"operation": {"op": "reboot"}}"#, headers: auth)
                    else {
                        if acknowledged.killed { return } else { continue }
                    }
                    if answer.status / 100 == 2, let object = try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any],
                        let id = object["id"] as? Int
                    {
                        acknowledged.task(id)
                    }
                }
            }
            group.addTask {
                // The kill comes once every direction has had a few acknowledgements (at least 4 s
                // of load; up to 60 s when a full parallel test run slows the server down).
                let start = ContinuousClock.now
                while ContinuousClock.now - start < .seconds(60) {
                    let (cwmp, usp, tasks) = acknowledged.all
                    if ContinuousClock.now - start >= .seconds(4), cwmp.count > 5, usp.count > 5, tasks.count > 5 { break }
                    try? await Task.sleep(for: .milliseconds(100))
                }
                acknowledged.killed = true
                first.kill9()
            }
        }
        #expect(first.process.terminationReason == .uncaughtSignal)
        let (cwmpDone, uspDone, tasksDone) = acknowledged.all
        #expect(cwmpDone.count > 5 && uspDone.count > 5 && tasksDone.count > 5, "load too light: \(cwmpDone.count) \(uspDone.count) \(tasksDone.count)")

        // The database file is intact and holds everything acknowledged.
        let database = try DatabaseQueue(path: directory + "/registry.sqlite")
        try await database.read { db in
            #expect(try String.fetchOne(db, sql: "PRAGMA integrity_check") == "ok")
            let identifiers = Set(try String.fetchAll(db, sql: "SELECT value FROM deviceIdentifier"))
            for serial in cwmpDone { #expect(identifiers.contains("00D09E-HG8245-\(serial)"), "Inform of \(serial) acknowledged but lost") }
            let queued = Set(try Int.fetchAll(db, sql: "SELECT id FROM task WHERE state = 'queued'"))
            for id in tasksDone { #expect(queued.contains(id), "task \(id) acknowledged but lost") }
        }
        try database.close()
        let restarted = try ServerProcess(arguments)
        defer { restarted.stop() }
        for endpoint in uspDone {
            let answer = try await fetch("http://127.0.0.1:\(restarted.ports["api"]!)/api/v1/devices/\(endpoint)", headers: auth)
            #expect(answer.status == 200, "Boot! of \(endpoint) acknowledged but lost")
        }

        // Queued tasks resume: the device's next session gets the Reboot it was queued.
        let taskID = try #require(tasksDone.first)
        let task = try await fetch("http://127.0.0.1:\(restarted.ports["api"]!)/api/v1/tasks/\(taskID)", headers: auth)
        let deviceID = try #require((try JSONSerialization.jsonObject(with: Data(task.body.utf8)) as? [String: Any])?["deviceId"] as? Int)
        let device = try await fetch("http://127.0.0.1:\(restarted.ports["api"]!)/api/v1/devices/\(deviceID)", headers: auth)
        let serial = try #require((try JSONSerialization.jsonObject(with: Data(device.body.utf8)) as? [String: Any])?["serialNumber"] as? String)
        let session = try await Self.cwmpSession(port: restarted.ports["cwmp"]!, serial: serial)
        #expect(session.contains("Reboot"), "the queued Reboot did not resume: \(session)")
    }

    /// Sends one Boot! as `endpoint` and waits for its NotifyResp (which echoes msg_id "notify-boot").
    static func notifyBoot(port: Int, endpoint: String) async throws -> Bool {
        let answered = Box(false)
        _ = try await WebSocketClient.connect(
            url: "ws://127.0.0.1:\(port)/usp?eid=\(endpoint)",
            configuration: WebSocketClientConfiguration(additionalHeaders: [.secWebSocketProtocol: "v1.usp"]),
            logger: Logger(label: "crash-ws")
        ) { inbound, outbound, _ in
            try await outbound.write(.binary(ByteBuffer(bytes: bootRecord(from: endpoint, to: "self::tandem-crash"))))
            for try await frame in inbound.messages(maxSize: 1 << 20) {
                if case .binary(let buffer) = frame, String(decoding: buffer.readableBytesView, as: UTF8.self).contains("notify-boot") {
                    answered.value = true
                    try await outbound.close(.normalClosure, reason: nil)
                    return
                }
            }
        }
        return answered.value
    }

    /// An Inform and an empty POST with the session cookie; the second answer's body.
    static func cwmpSession(port: Int, serial: String) async throws -> String {
        let informed = try await fetch("http://127.0.0.1:\(port)/", method: "POST", body: inform(serial: serial))
        let cookie = try #require(informed.headers["set-cookie"]?.first?.split(separator: ";").first.map(String.init))
        let next = try await fetch("http://127.0.0.1:\(port)/", method: "POST", body: "", headers: [("Cookie", cookie)])
        return next.body
    }
}

final class Box<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}

/// A full disk, simulated by a file-size limit (RLIMIT_FSIZE, which binds root too; SIGXFSZ ignored
/// so that writes fail with EFBIG instead of killing the process): the CPE gets a clear Fault 8002,
/// the server keeps running, and after a restart without the limit the database is intact and holds
/// every acknowledged Inform.
@Suite struct FullDiskTests {
    static func inform(serial: String, parameters: Int) -> String {
        var list = ""
        for index in 0..<parameters {
            list += "<ParameterValueStruct><Name>Device.X_TEST.Filler.\(index).Value</Name><Value xsi:type=\"xsd:string\">\(String(repeating: "f", count: 100))</Value></ParameterValueStruct>"
        }
        return CrashConsistencyTests.inform(serial: serial)
            .replacingOccurrences(of: "</ParameterList>", with: list + "</ParameterList>")
            .replacingOccurrences(of: "ParameterValueStruct[7]", with: "ParameterValueStruct[\(7 + parameters)]")
    }

    @Test func aFullDiskGivesClearErrorsAndNoCorruption() async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        let arguments = ["--data-dir", directory, "--api-listen", "127.0.0.1:0", "--cwmp-listen", "127.0.0.1:0", "--usp-ws-listen", "127.0.0.1:0", "--cwmp-auth", "open"]
        let limited = try ServerProcess(arguments, shell: "trap '' XFSZ; ulimit -f 2048")
        let cwmp = limited.ports["cwmp"]!
        var acknowledged: [String] = []
        var refused = 0
        for index in 0..<200 where refused < 3 {
            let serial = String(format: "FULL%04d", index)
            let answer = try await fetch("http://127.0.0.1:\(cwmp)/", method: "POST", body: Self.inform(serial: serial, parameters: 500))
            if answer.body.contains("InformResponse") {
                acknowledged.append(serial)
            } else {
                // TR-069 A.5: 8002 Internal error, the CPE retries later.
                #expect(answer.body.contains("8002"), "\(answer.status): \(answer.body.prefix(300))")
                refused += 1
            }
        }
        #expect(refused == 3, "the file-size limit was never reached")
        #expect(!acknowledged.isEmpty)
        // Still serving: liveness answers and the log names the problem.
        #expect(try await fetch("http://127.0.0.1:\(limited.ports["api"]!)/healthz").status / 100 != 0)
        #expect(limited.process.isRunning)
        #expect(limited.log.contains("cannot record Inform"))
        limited.stop()

        let saved = acknowledged
        let restarted = try ServerProcess(arguments)
        defer { restarted.stop() }
        let database = try DatabaseQueue(path: directory + "/registry.sqlite")
        try await database.read { db in
            #expect(try String.fetchOne(db, sql: "PRAGMA integrity_check") == "ok")
            let identifiers = Set(try String.fetchAll(db, sql: "SELECT value FROM deviceIdentifier"))
            for serial in saved { #expect(identifiers.contains("00D09E-HG8245-\(serial)"), "\(serial) acknowledged but lost") }
        }
        try database.close()
    }
}
