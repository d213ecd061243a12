import AsyncHTTPClient
import Engine
import Foundation
import HTTPTypes
import MTPMQTT
import MTPWebSocket
import NIOCore
import NIOHTTP1
import NIOSSL
import NIOWebSocket
import ServiceLifecycle
import Testing

/// Runs a command to completion; throws with its standard error when it fails.
@discardableResult
func runTool(_ executable: String, _ arguments: [String], in directory: String? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let output = out.fileHandleForReading.readDataToEndOfFile()
    let errors = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw TestFailure("\(executable) \(arguments.joined(separator: " ")) failed: \(String(decoding: errors, as: UTF8.self))")
    }
    return String(decoding: output, as: UTF8.self)
}

/// A private CA, a server certificate for 127.0.0.1 and localhost, a client certificate signed by
/// the CA and one signed by a CA nobody trusts, all made with the openssl command at test time.
struct TestCertificates {
    let directory: String

    var caFile: String { directory + "/ca.pem" }
    var serverCertificate: String { directory + "/server.pem" }
    var serverKey: String { directory + "/server.key" }
    var clientCertificate: String { directory + "/client.pem" }
    var clientKey: String { directory + "/client.key" }
    var rogueClientCertificate: String { directory + "/rogue-client.pem" }
    var rogueClientKey: String { directory + "/rogue-client.key" }

    static func make() throws -> TestCertificates {
        let certificates = TestCertificates(directory: temporaryDirectory("tandem-certs"))
        try certificates.makeCA("ca", name: "Tandem Test CA")
        try certificates.makeCA("rogue-ca", name: "Rogue CA")
        try certificates.issue("server", by: "ca", name: "localhost", extensions: "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth")
        try certificates.issue("client", by: "ca", name: "00D09E-TLSCPE-0001", extensions: "extendedKeyUsage=clientAuth")
        try certificates.issue("rogue-client", by: "rogue-ca", name: "00D09E-TLSCPE-0001", extensions: "extendedKeyUsage=clientAuth")
        return certificates
    }

    private func makeCA(_ stem: String, name: String) throws {
        try runTool("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-keyout", "\(stem).key", "-out", "\(stem).pem", "-subj", "/CN=\(name)",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ], in: directory)
    }

    private func issue(_ stem: String, by ca: String, name: String, extensions: String) throws {
        try runTool("/usr/bin/openssl", [
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "\(stem).key", "-out", "\(stem).csr", "-subj", "/CN=\(name)",
        ], in: directory)
        try Data("basicConstraints=CA:FALSE\n\(extensions)\n".utf8).write(to: URL(fileURLWithPath: "\(directory)/\(stem).ext"))
        try runTool("/usr/bin/openssl", [
            "x509", "-req", "-in", "\(stem).csr", "-CA", "\(ca).pem", "-CAkey", "\(ca).key", "-CAcreateserial",
            "-days", "2", "-out", "\(stem).pem", "-extfile", "\(stem).ext",
        ], in: directory)
    }

    /// A client TLS configuration trusting the test CA, optionally presenting a client certificate.
    func clientTLS(trustingCA: Bool = true, certificate: String? = nil, key: String? = nil) throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        if trustingCA { tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile)) }
        if let certificate, let key {
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        }
        return tls
    }

}

/// One request over a client of its own (trusting what `tls` says), shut down before returning:
/// the answer's status, body text and headers (names lowercased).
func fetch(
    _ url: String, method: String = "GET", body: String? = nil, bytes: Data? = nil, headers: [(String, String)] = [], tls: TLSConfiguration? = nil
) async throws -> (status: Int, body: String, headers: [String: [String]]) {
    var configuration = HTTPClient.Configuration()
    configuration.tlsConfiguration = tls
    configuration.timeout = .init(connect: .seconds(5), read: .seconds(30))
    let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    do {
        var request = HTTPClientRequest(url: url)
        request.method = .init(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        if let bytes { request.body = .bytes(ByteBuffer(bytes: bytes)) }
        let response = try await client.execute(request, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 16 * 1024 * 1024)
        var fields: [String: [String]] = [:]
        for (name, value) in response.headers { fields[name.lowercased(), default: []].append(value) }
        try await client.shutdown()
        return (Int(response.status.code), String(buffer: bytes), fields)
    } catch {
        try? await client.shutdown()
        throw error
    }
}

/// A private mosquitto with a plain listener and a TLS listener that requires a client certificate
/// signed by the test CA. Stop it with `stop()`.
final class TLSMosquitto: @unchecked Sendable {
    let plainPort: Int
    let tlsPort: Int
    private let process: Process
    private let directory: String

    init(certificates: TestCertificates) throws {
        directory = temporaryDirectory("tandem-mosquitto")
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: directory)
        // mosquitto drops root privileges; it must read the key it serves.
        for file in [certificates.serverKey, certificates.serverCertificate, certificates.caFile] {
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file)
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: certificates.directory)
        plainPort = try freeTCPPort()
        tlsPort = try freeTCPPort()
        let configuration = """
            per_listener_settings false
            allow_anonymous true
            persistence false
            log_dest file \(directory)/mosquitto.log
            listener \(plainPort) 127.0.0.1
            listener \(tlsPort) 127.0.0.1
            cafile \(certificates.caFile)
            certfile \(certificates.serverCertificate)
            keyfile \(certificates.serverKey)
            require_certificate true
            tls_version tlsv1.2

            """
        try Data(configuration.utf8).write(to: URL(fileURLWithPath: directory + "/mosquitto.conf"))
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/mosquitto")
        process.arguments = ["-c", directory + "/mosquitto.conf"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if canConnect(port: plainPort) && canConnect(port: tlsPort) { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw TestFailure("mosquitto did not start: \(log)")
    }

    var log: String { (try? String(contentsOfFile: directory + "/mosquitto.log", encoding: .utf8)) ?? "" }

    func stop() {
        killBroker(process)
        remove(directory)
    }
}

/// Whether mosquitto is installed (Scripts/test installs it); without it under CI the test fails,
/// elsewhere it is skipped like the other broker tests.
func mosquittoAvailable() -> Bool {
    if FileManager.default.isExecutableFile(atPath: "/usr/sbin/mosquitto") { return true }
    if ProcessInfo.processInfo.environment["CI"] == "true" { Issue.record("/usr/sbin/mosquitto is missing: Scripts/test installs it") }
    return false
}

/// Stops a test broker with SIGKILL and reaps it. SIGTERM is not used: a child spawned from a test
/// process that has set up signal handling (ServiceLifecycle) may inherit SIGTERM blocked, and then
/// never stops.
func killBroker(_ process: Process) {
    guard process.isRunning else { return }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
}

/// A TCP port nobody listens on at the moment.
func freeTCPPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestFailure("socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw TestFailure("bind() failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
func canConnect(port: Int) -> Bool {
    guard let fd = connectLoopback(port: port) else { return false }
    close(fd)
    return true
}

/// A blocking TCP socket connected to 127.0.0.1:`port`, or nil; the caller closes it.
func connectLoopback(port: Int) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
    guard connected else {
        close(fd)
        return nil
    }
    return fd
}

/// The real `tandem serve` binary, its listening ports read from its standard output and its log
/// written to a file (so that a chatty log can never block it).
final class ServerProcess: @unchecked Sendable {
    let process: Process
    let logFile: String
    private(set) var ports: [String: Int] = [:]

    /// Starts `tandem serve ARGUMENTS` and waits until every listener in `listeners` reports its port.
    /// `shell`, when given, is bash code run before `exec tandem serve ...` (limits, signal dispositions).
    init(_ arguments: [String], listeners: Set<String> = ["api", "cwmp"], timeout: TimeInterval = 60, shell: String? = nil) throws {
        logFile = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-serve-\(UUID().uuidString).log").path
        guard FileManager.default.createFile(atPath: logFile, contents: nil) else { throw TestFailure("cannot create \(logFile)") }
        process = Process()
        if let shell {
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = ["-c", shell + "; exec \"$0\" serve \"$@\"", try tandemExecutable().path] + arguments
        } else {
            process.executableURL = try tandemExecutable()
            process.arguments = ["serve"] + arguments
        }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
        try process.run()
        var collected = ""
        let deadline = Date().addingTimeInterval(timeout)
        while !listeners.isSubset(of: ports.keys), Date() < deadline {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            collected += String(decoding: chunk, as: UTF8.self)
            for line in collected.split(separator: "\n") where line.hasPrefix("tandem: ") && line.contains(" listening on ") {
                let name = line.dropFirst("tandem: ".count).prefix { $0 != " " }
                if let colon = line.lastIndex(of: ":"), let port = Int(line[line.index(after: colon)...]) { ports[String(name)] = port }
            }
        }
        guard listeners.isSubset(of: ports.keys) else {
            process.terminate()
            throw TestFailure("tandem serve did not report \(listeners.sorted()): \(collected)\n\(log)")
        }
    }

    var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    /// SIGKILL: no shutdown code runs.
    func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM and wait.
    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(atPath: logFile)
    }
}
