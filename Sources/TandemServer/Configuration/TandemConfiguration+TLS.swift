import Foundation
import NIOSSL

/// `tls`: one certificate for every HTTP listener. With `certificateFile` and `privateKeyFile` set,
/// the CWMP front end, the REST API and the USP WebSocket server speak only HTTPS/WSS
/// (`tandem serve --tls-cert FILE --tls-key FILE`).
public struct ServerTLS: Hashable, Sendable {
    /// `tls.certificateFile`: PEM certificate chain, the server's certificate first.
    public var certificateFile: String?
    /// `tls.privateKeyFile`: its PEM private key.
    public var privateKeyFile: String?

    public init(certificateFile: String? = nil, privateKeyFile: String? = nil) {
        self.certificateFile = certificateFile
        self.privateKeyFile = privateKeyFile
    }

    public var isEnabled: Bool { certificateFile != nil }
}

/// `cwmp.clientCertificates`: CPE certificates checked during the TLS handshake of the CWMP
/// listener (TR-069 3.4.4 lets a CPE authenticate with a certificate). They add to HTTP
/// authentication; they do not replace it.
public struct ClientCertificates: Hashable, Sendable {
    /// `cwmp.clientCertificates.caFile`: PEM CA certificates that sign CPE certificates. When set, a
    /// CPE that presents a certificate not signed by them is refused in the handshake.
    public var caFile: String?
    /// `cwmp.clientCertificates.required`: refuse CPEs that present no certificate.
    public var required = false

    public init(caFile: String? = nil, required: Bool = false) {
        self.caFile = caFile
        self.required = required
    }
}

/// TLS towards a broker or an agent's WebSocket server: whom to trust and what to present.
public struct ClientTLS: Hashable, Sendable {
    /// PEM CA certificates to trust instead of the system's trust store.
    public var caFile: String?
    /// PEM client certificate chain and its private key (both or neither).
    public var certificateFile: String?
    public var privateKeyFile: String?

    public init(caFile: String? = nil, certificateFile: String? = nil, privateKeyFile: String? = nil) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.privateKeyFile = privateKeyFile
    }

    /// A NIO client configuration: TLS 1.2 or later, full verification against `caFile` (or the
    /// system roots), the client certificate when set.
    public func makeClientConfiguration() throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let caFile { configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile)) }
        if let certificateFile, let privateKeyFile {
            configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificateFile).map { .certificate($0) }
            configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: privateKeyFile, format: .pem))
        }
        return configuration
    }
}

extension TandemConfiguration {
    /// The TLS server configuration of the REST API and USP WebSocket listeners; nil without `tls`.
    public func serverTLSConfiguration() throws(ConfigurationError) -> TLSConfiguration? {
        guard let certificateFile = tls.certificateFile, let privateKeyFile = tls.privateKeyFile else { return nil }
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(certificateFile) } catch {
            throw ConfigurationError(key: "tls.certificateFile", "\(certificateFile): not a readable PEM certificate (\(error))")
        }
        guard !chain.isEmpty else { throw ConfigurationError(key: "tls.certificateFile", "\(certificateFile): no certificate in the file") }
        let key: NIOSSLPrivateKey
        do { key = try NIOSSLPrivateKey(file: privateKeyFile, format: .pem) } catch {
            throw ConfigurationError(key: "tls.privateKeyFile", "\(privateKeyFile): not a readable PEM private key (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12  // TR-069 3.4.4 and TR-369 R-SEC.4 ask for TLS 1.2 or later.
        do {
            _ = try NIOSSLContext(configuration: configuration)
        } catch {
            throw ConfigurationError(key: "tls.privateKeyFile", "\(privateKeyFile) does not match \(certificateFile) (\(error))")
        }
        return configuration
    }

    /// The CWMP listener's TLS configuration: the server's, plus CPE certificate checks.
    public func cwmpTLSConfiguration() throws(ConfigurationError) -> TLSConfiguration? {
        guard var configuration = try serverTLSConfiguration() else { return nil }
        if let caFile = cwmp.clientCertificates.caFile {
            do { configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile)) } catch {
                throw ConfigurationError(key: "cwmp.clientCertificates.caFile", "\(caFile): not a readable PEM certificate (\(error))")
            }
            // CPEs are not named in a way hostname checks could use; the chain is what counts.
            configuration.certificateVerification = cwmp.clientCertificates.required ? .noHostnameVerification : .optionalVerification
        }
        return configuration
    }

    /// The client TLS configuration for `key` (`usp.mqtt.tls`, ...), with errors naming it.
    func clientTLSConfiguration(_ tls: ClientTLS, key: String) throws(ConfigurationError) -> TLSConfiguration {
        do { return try tls.makeClientConfiguration() } catch {
            throw ConfigurationError(key: key, "cannot read the CA or client certificate files (\(error))")
        }
    }

    /// Cross-key TLS checks (called from `validate`): pairs set together, client certificates only
    /// with a server certificate, every file loadable.
    func validateTLS(source: String?) throws(ConfigurationError) {
        guard (tls.certificateFile == nil) == (tls.privateKeyFile == nil) else {
            throw ConfigurationError(key: "tls", source: source, "certificateFile and privateKeyFile go together (--tls-cert and --tls-key)")
        }
        if cwmp.clientCertificates.caFile != nil || cwmp.clientCertificates.required {
            guard tls.isEnabled else {
                throw ConfigurationError(key: "cwmp.clientCertificates", source: source, "client certificates need TLS (tls.certificateFile)")
            }
            guard cwmp.clientCertificates.caFile != nil else {
                throw ConfigurationError(key: "cwmp.clientCertificates.required", source: source, "needs cwmp.clientCertificates.caFile")
            }
        }
        for (key, client) in [("usp.mqtt.tls", usp.mqttTLS), ("usp.stomp.tls", usp.stompTLS), ("usp.websocket.dialTLS", usp.webSocketDialTLS)] {
            guard (client.certificateFile == nil) == (client.privateKeyFile == nil) else {
                throw ConfigurationError(key: key, source: source, "certificateFile and privateKeyFile go together")
            }
        }
        do {
            _ = try cwmpTLSConfiguration()
            _ = try clientTLSConfiguration(usp.webSocketDialTLS, key: "usp.websocket.dialTLS")
            _ = try clientTLSConfiguration(usp.stompTLS, key: "usp.stomp.tls")
            _ = try clientTLSConfiguration(usp.mqttTLS, key: "usp.mqtt.tls")
        } catch {
            throw ConfigurationError(key: error.key, source: source, error.message)
        }
    }

    /// Reads `tls`, `cwmp.clientCertificates`, `usp.mqtt.tls`, `usp.stomp.tls` and
    /// `usp.websocket.dialTLS` (the other keys of those sections are read in `apply`).
    mutating func applyTLS(_ root: JSONObjectReader) throws(ConfigurationError) {
        if let section = try root.object("tls") {
            try section.checkKeys(["certificateFile", "privateKeyFile"])
            tls.certificateFile = try section.optionalString("certificateFile")
            tls.privateKeyFile = try section.optionalString("privateKeyFile")
        }
        if let certificates = try root.object("cwmp")?.object("clientCertificates") {
            try certificates.checkKeys(["caFile", "required"])
            cwmp.clientCertificates.caFile = try certificates.optionalString("caFile")
            if let required = try certificates.bool("required") { cwmp.clientCertificates.required = required }
        }
        let usp = try root.object("usp")
        if let section = try usp?.object("mqtt")?.object("tls") { self.usp.mqttTLS = try Self.clientTLS(section) }
        if let section = try usp?.object("stomp")?.object("tls") { self.usp.stompTLS = try Self.clientTLS(section) }
        if let section = try usp?.object("websocket")?.object("dialTLS") { self.usp.webSocketDialTLS = try Self.clientTLS(section) }
    }

    private static func clientTLS(_ section: JSONObjectReader) throws(ConfigurationError) -> ClientTLS {
        try section.checkKeys(["caFile", "certificateFile", "privateKeyFile"])
        return ClientTLS(
            caFile: try section.optionalString("caFile"), certificateFile: try section.optionalString("certificateFile"),
            privateKeyFile: try section.optionalString("privateKeyFile"))
    }
}
