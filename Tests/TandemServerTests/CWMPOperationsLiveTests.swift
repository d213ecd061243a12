import Engine
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Registry
import ServiceLifecycle
import Simulator
import TandemCore
import TandemServer
import Testing

/// What an HTTP file receiver got: PUT bodies by request path.
actor ReceivedFiles {
    private(set) var files: [String: [UInt8]] = [:]
    func store(_ path: String, _ bytes: [UInt8]) { files[path] = bytes }
    func file(_ path: String) -> [UInt8]? { files[path] }
}

/// An HTTP file server on loopback: `GET /firmware/NAME` serves a simulated image whose version is
/// the dotted number in NAME; `PUT /upload/NAME` stores the body in `received`.
func makeFileServer(received: ReceivedFiles, onPort: @escaping @Sendable (Int) -> Void) -> some ApplicationProtocol {
    let files = Router()
    files.get("/firmware/:name") { _, context in
        let name = context.parameters.get("name") ?? ""
        let version = name.firstMatch(of: #/(\d+(?:\.\d+)+)/#).map { String($0.1) } ?? "0"
        return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "firmware version=\(version)\n")))
    }
    files.put("/upload/:name") { request, _ in
        let body = try await request.body.collect(upTo: 1 << 20)
        await received.store(request.uri.path, Array(buffer: body))
        return Response(status: .created)
    }
    return Application(router: files, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                       onServerRunning: { onPort($0.localAddress?.port ?? 0) })
}

/// A CWMP device simulated on loopback with the real server, for the operations of the operations
/// issue: attributes, scheduled downloads and their cancellation, deployment units, supported
/// methods, uploads to a real HTTP receiver, wildcard and search expansion, and discovery of
/// vanished instances.
struct LiveCWMPDevice {
    let server: TandemServer
    let device: Device
    let cpe: SimulatedCPE
    let filePort: Int
    let received: ReceivedFiles

    func run(_ operation: TandemCore.Operation, timeout: Duration = .seconds(20)) async throws -> DeviceTask {
        let fresh = try #require(try await server.registry.device(.registryID(device.id)))
        let submission = try await server.operations.submit(operation, to: fresh, actor: "test")
        #expect(submission.connectionRequest?.isAccepted ?? true, "\(operation.name): \(String(describing: submission.connectionRequest))")
        return try await server.operations.wait(forTask: submission.task.id, timeout: timeout)
    }

    /// The ACS methods of the CPE's last completed session, once it has settled.
    /// The last session ended with `expected`, with no read of the tree just before it (an earlier
    /// task may share the session: work queued while it is open needs no Connection Request).
    func lastSessionMethods(_ expected: [String]) async throws -> Bool {
        try await USPControllerLiveTests.eventually(.seconds(10)) {
            let methods = await cpe.status().lastACSMethods
            guard methods.count >= expected.count, Array(methods.suffix(expected.count)) == expected else { return false }
            let before = methods.dropLast(expected.count)
            return expected.first == "GetParameterValues" || before.last != "GetParameterValues"
        }
    }

    static func with(serialPrefix: String, _ body: (LiveCWMPDevice) async throws -> Void) async throws {
        let directory = temporaryDirectory()
        defer { remove(directory) }
        var configuration = TandemConfiguration()
        configuration.dataDirectory = directory
        configuration.cwmp.listen = ListenAddress(host: "127.0.0.1", port: 0)
        configuration.cwmp.authMode = .digest
        configuration.cwmp.passwordTemplate = "pw-{serialNumber}"
        configuration.usp.webSocketListen = nil
        let server = try TandemServer(configuration: configuration, logger: Logger(label: "cwmp-ops-live"))
        let received = ReceivedFiles()
        let (ports, continuation) = AsyncStream.makeStream(of: (String, Int).self)
        let fileServer = makeFileServer(received: received) { continuation.yield(("files", $0)) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.makeCWMPApplication { continuation.yield(("cwmp", $0.localAddress?.port ?? 0)) }.runService() }
            group.addTask { try await fileServer.runService() }
            defer { group.cancelAll() }
            var bound: [String: Int] = [:]
            for await (name, port) in ports {
                bound[name] = port
                if bound.count == 2 { break }
            }
            let cwmpPort = try #require(bound["cwmp"]), filePort = try #require(bound["files"])
            let fleet = try SimulatedFleet(configuration: SimulatedFleet.Configuration(
                count: 1, serialPrefix: serialPrefix, acsURL: "http://127.0.0.1:\(cwmpPort)/cwmp", usernameTemplate: "{deviceId}",
                passwordTemplate: "pw-{serial}", connectionRequestUsernameTemplate: "{serial}", connectionRequestPasswordTemplate: "cr-{serial}",
                periodicInformEnable: false,
                device: .init(retryMinimumWait: .milliseconds(100), retryMaximumWait: .seconds(2), rebootDuration: .milliseconds(100), httpTimeout: .seconds(10))))
            group.addTask { try await fleet.run() }
            #expect(try await USPControllerLiveTests.eventually(.seconds(30)) { try await server.registry.countDevices(matching: DeviceFilter()) == 1 })
            let device = try #require(try await server.registry.devices(matching: DeviceFilter(), page: Page()).first)
            try await server.registry.setCredentials(
                deviceID: device.id, purpose: .connectionRequest, username: device.serialNumber, password: "cr-\(device.serialNumber)", actor: "test")
            let cpe = try #require(fleet.device(serialNumber: device.serialNumber))
            // Let the boot session end, so that tasks start with a connection request.
            #expect(try await USPControllerLiveTests.eventually(.seconds(10)) { await cpe.status().sessionsCompleted >= 1 })
            try await body(LiveCWMPDevice(server: server, device: device, cpe: cpe, filePort: filePort, received: received))
        }
    }
}

@Suite struct CWMPOperationsLiveTests {
    @Test func attributesMethodsTransfersAndDeploymentUnits() async throws {
        try await LiveCWMPDevice.with(serialPrefix: "OPS") { live in
            let p = { (s: String) in try PathExpression(s) }

            let methods = try await live.run(.supportedMethods)
            #expect(methods.state == .done)
            #expect(methods.result?.outputArguments["MethodList"] == SimulatedCPE.supportedMethods.joined(separator: ","))

            let setAttributes = try await live.run(.setAttributes([
                AttributeSetting(path: try p("Device.WiFi.SSID.1.SSID"), notification: .active, accessList: ["Subscriber"]),
                AttributeSetting(path: try p("Device.DeviceInfo.ProvisioningCode"), notification: .passive),
            ]))
            #expect(setAttributes.state == .done, "\(String(describing: setAttributes.fault))")
            let attributes = try await live.run(.getAttributes(paths: [try p("Device.WiFi.SSID.1.SSID"), try p("Device.DeviceInfo.ProvisioningCode")]))
            #expect(attributes.state == .done)
            let ssid = attributes.result?.entries.first { $0.path == "Device.WiFi.SSID.1.SSID" }
            #expect(ssid?.notification == 2)
            #expect(ssid?.accessList == ["Subscriber"])
            #expect(attributes.result?.entries.first { $0.path == "Device.DeviceInfo.ProvisioningCode" }?.notification == 1)

            // Upload of the configuration to a real HTTP receiver; the task completes with TransferComplete.
            let upload = try await live.run(.upload(FileTransfer(kind: .configuration, url: "http://127.0.0.1:\(live.filePort)/upload/config.cfg")))
            #expect(upload.state == .done, "\(String(describing: upload.fault))")
            let bytes = try #require(await live.received.file("/upload/config.cfg"))
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(text.hasPrefix("# tandem-sim configuration backup\n# device \(live.device.serialNumber)") || text.contains(live.device.serialNumber))
            let currentSSID = try #require(await live.cpe.value("Device.WiFi.SSID.1.SSID")).lexical
            #expect(text.contains("\nDevice.WiFi.SSID.1.SSID=\(currentSSID)\n"))

            // ScheduleDownload in an open window: TransferComplete with the task's CommandKey completes it.
            let scheduled = try await live.run(.scheduleDownload(
                FileTransfer(kind: .firmware, url: "http://127.0.0.1:\(live.filePort)/firmware/image-3.1.0.bin"),
                windows: [TransferWindow(start: 0, end: 600)]))
            #expect(scheduled.state == .done, "\(String(describing: scheduled.fault))")
            #expect(scheduled.result?.outputArguments["CompleteTime"] != nil)
            #expect(await live.cpe.value("Device.DeviceInfo.SoftwareVersion") == .string("3.1.0"))

            // A download scheduled for later, cancelled: the CPE drops it and its task is cancelled.
            let later = try await live.run(.scheduleDownload(
                FileTransfer(kind: .firmware, url: "http://127.0.0.1:\(live.filePort)/firmware/image-3.2.0.bin"),
                windows: [TransferWindow(start: 3600, end: 7200)]), timeout: .seconds(3))
            #expect(later.state == .running)
            #expect(await live.cpe.status().queuedTransfers == 1)
            let cancel = try await live.run(.cancelTransfer(commandKey: TaskCommandKey.make(forTask: later.id)))
            #expect(cancel.state == .done, "\(String(describing: cancel.fault))")
            #expect(await live.cpe.status().queuedTransfers == 0)
            #expect(try await live.server.registry.task(id: later.id)?.state == .cancelled)
            let again = try await live.run(.cancelTransfer(commandKey: TaskCommandKey.make(forTask: later.id)))
            #expect(again.state == .faulted)
            #expect(again.fault?.code == .cwmp(.invalidArguments))

            // ChangeDUState: completed by DUStateChangeComplete, one entry per unit.
            let uuid = "6f1c2a3b-0000-4000-8000-00000000abcd"
            let install = try await live.run(.changeDUState([
                .install(url: "http://127.0.0.1:\(live.filePort)/apps/app-1.2.ipk", uuid: uuid, username: nil, password: nil, executionEnvRef: nil),
                .uninstall(uuid: "6f1c2a3b-0000-4000-8000-0000000fffff", version: nil, executionEnvRef: nil),
            ]))
            #expect(install.state == .done, "\(String(describing: install.fault))")
            let entries = install.result?.entries ?? []
            #expect(entries.count == 2)
            #expect(entries.first?.outcome == .value(.string("Installed")))
            #expect(entries.first?.path.hasPrefix("Device.SoftwareModules.DeploymentUnit.") == true)
            #expect(install.result?.outputArguments["DU.1.UUID"] == uuid)
            #expect(install.result?.outputArguments["DU.1.Version"] == "1.2")
            guard case .fault(let fault)? = entries.last?.outcome else {
                Issue.record("the unknown unit should fault: \(entries)")
                return
            }
            #expect(fault.code == .cwmp(.unknownDeploymentUnit))
            #expect(try await live.server.registry.events(deviceID: live.device.id, limit: 100).contains { $0.kind == "softwareModules" && $0.summary.contains(uuid) })
            let uninstall = try await live.run(.changeDUState([.uninstall(uuid: uuid, version: nil, executionEnvRef: nil)]))
            #expect(uninstall.result?.entries.first?.outcome == .value(.string("Uninstalled")))
        }
    }

    @Test func wildcardsAndSearchesExpandForCWMPDevices() async throws {
        try await LiveCWMPDevice.with(serialPrefix: "EXP") { live in
            let p = { (s: String) in try PathExpression(s) }
            #expect(try await live.server.registry.parameters(deviceID: live.device.id, under: "Device.WiFi.SSID.").isEmpty)

            // Unknown tree: a refresh read first, then the real GetParameterValues, in one session.
            let get = try await live.run(.get(paths: [try p("Device.WiFi.SSID.*.SSID")]))
            #expect(get.state == .done, "\(String(describing: get.fault))")
            let ssid1 = try #require(await live.cpe.value("Device.WiFi.SSID.1.SSID"))
            let ssid2 = try #require(await live.cpe.value("Device.WiFi.SSID.2.SSID"))
            #expect(get.result?.entries.map(\.path) == ["Device.WiFi.SSID.1.SSID", "Device.WiFi.SSID.2.SSID"])
            #expect(get.result?.value(at: "Device.WiFi.SSID.1.SSID") == ssid1)
            #expect(get.result?.value(at: "Device.WiFi.SSID.2.SSID") == ssid2)
            #expect(try await live.lastSessionMethods(["GetParameterValues", "GetParameterValues"]))
            #expect(try await live.server.registry.parameters(deviceID: live.device.id, under: "Device.WiFi.SSID.2.Enable").first?.value == .boolean(true))

            let disable = try await live.run(.set(
                values: [ParameterSetting(path: try p("Device.WiFi.SSID.2.Enable"), value: .boolean(false))], allowPartial: false, parameterKey: nil))
            #expect(disable.state == .done)

            // Known tree: the search expands against the registry; only the real RPC goes out.
            let set = try await live.run(.set(
                values: [ParameterSetting(path: try p("Device.WiFi.SSID.[Enable==true].SSID"), value: .string("searched"))],
                allowPartial: false, parameterKey: nil))
            #expect(set.state == .done, "\(String(describing: set.fault))")
            #expect(set.result?.entries.map(\.path) == ["Device.WiFi.SSID.1.SSID"])
            #expect(await live.cpe.value("Device.WiFi.SSID.1.SSID") == .string("searched"))
            #expect(await live.cpe.value("Device.WiFi.SSID.2.SSID") == ssid2)
            #expect(try await live.lastSessionMethods(["SetParameterValues"]))

            let searchedGet = try await live.run(.get(paths: [try p("Device.WiFi.SSID.[Enable==false].")]))
            #expect(searchedGet.state == .done)
            #expect(searchedGet.result?.value(at: "Device.WiFi.SSID.2.SSID") == ssid2)
            #expect(searchedGet.result?.entries.allSatisfy { $0.path.hasPrefix("Device.WiFi.SSID.2.") } == true)

            // A search matching nothing: the empty result USP gives, without contacting the device's tree again.
            let nothing = try await live.run(.get(paths: [try p(#"Device.WiFi.SSID.[SSID=="no-such-ssid"].Enable"#)]))
            #expect(nothing.state == .done)
            #expect(nothing.result?.entries.isEmpty == true)

            // Unknown tree under a search on another table: refreshed, then read.
            let hosts = try await live.run(.get(paths: [try p(#"Device.Hosts.Host.[HostName~="tv-"].IPAddress"#)]))
            #expect(hosts.state == .done, "\(String(describing: hosts.fault))")
            #expect(hosts.result?.entries.map(\.path) == ["Device.Hosts.Host.3.IPAddress"])
            #expect(hosts.result?.value(at: "Device.Hosts.Host.3.IPAddress") == .string("192.168.1.102"))

            // A concrete prefix the device does not have: the device's fault (9005 invalid parameter name).
            let missing = try await live.run(.get(paths: [try p("Device.NoSuchObject.*.Name")]))
            #expect(missing.state == .faulted)
            #expect(missing.fault?.category == .invalidPath)
        }
    }

    @Test func discoverRemovesVanishedInstances() async throws {
        try await LiveCWMPDevice.with(serialPrefix: "DSC") { live in
            let now = Date()
            // The registry believes in an instance the device no longer has.
            try await live.server.registry.storeParameters(
                deviceID: live.device.id,
                [StoredParameter(path: "Device.WiFi.SSID.9.SSID", value: .string("gone"), updatedAt: now),
                 StoredParameter(path: "Device.WiFi.SSID.9.Enable", value: .boolean(true), updatedAt: now)],
                replacingSubtree: nil)
            // Next-level only: not a full listing, nothing is removed.
            let shallow = try await live.run(.discover(object: try PathExpression("Device.WiFi.SSID."), nextLevel: true))
            #expect(shallow.state == .done)
            #expect(try await live.server.registry.parameters(deviceID: live.device.id, under: "Device.WiFi.SSID.9.").count == 2)

            let discover = try await live.run(.discover(object: try PathExpression("Device.WiFi."), nextLevel: false))
            #expect(discover.state == .done)
            #expect(try await live.server.registry.parameters(deviceID: live.device.id, under: "Device.WiFi.SSID.9.").isEmpty)
            #expect(try await live.server.registry.parameters(deviceID: live.device.id, under: "Device.WiFi.SSID.1.SSID").first?.writable == true)
        }
    }
}
