import NIOSSL

extension STOMPTransport {
    /// How the controller reaches its STOMP broker and who it is there.
    public struct Configuration: Sendable {
        /// The broker's host name or address.
        public var host: String
        /// The broker's STOMP port (61613 is customary; 61614 with TLS).
        public var port: Int
        /// TLS to the broker (R-STOMP.36: TLS 1.2 or later); nil for plain TCP.
        public var tls: TLS?
        /// `login` / `passcode` for the STOMP frame (R-STOMP.3); leave nil with client-certificate auth.
        public var login: String?
        public var passcode: String?
        /// The `host` header (R-STOMP.5); the broker's host name when nil.
        public var virtualHost: String?
        /// The controller's endpoint ID, sent as `endpoint-id` (R-STOMP.4).
        public var endpointID: String
        /// The destination the controller subscribes to and gives as `reply-to-dest` (for ActiveMQ and
        /// Artemis a `/queue/…` name). A `subscribe-dest` from the broker replaces it (R-STOMP.6).
        public var destination: String
        /// The heart-beats offered and asked for (R-STOMP.8–11); `.disabled` sends `0,0`.
        public var heartBeat = STOMPConnection.HeartBeat(outgoing: .seconds(30), incoming: .seconds(30))
        /// Silence of this many negotiated receive intervals ends the connection.
        public var heartBeatTolerance: Double = 2
        /// The limit on each handshake step: TCP/TLS connection, CONNECTED, the SUBSCRIBE receipt.
        public var handshakeTimeout: Duration = .seconds(10)
        /// How long `send` waits for the broker's RECEIPT, and shutdown for DISCONNECT's.
        public var receiptTimeout: Duration = .seconds(10)
        /// Whether `send` waits for a RECEIPT (the broker has the record) or returns once it is written.
        public var requestSendReceipts = true
        /// The reconnection waits (R-STOMP.7, R-STOMP.25).
        public var backoff = STOMPConnection.Backoff()
        /// Limits on received frames.
        public var limits = STOMPFrameLimits()
        /// How often the connection checks its timers (heart-beats, timeouts, retry waits). Keep it well
        /// under the shortest heart-beat interval.
        public var tickInterval: Duration = .milliseconds(250)

        public init(host: String, port: Int = 61613, endpointID: String, destination: String) {
            self.host = host
            self.port = port
            self.endpointID = endpointID
            self.destination = destination
        }

        /// TLS settings, read into an `NIOSSLContext` when the transport is made.
        public struct TLS: Sendable {
            /// Certificates that may sign the broker's certificate.
            public enum TrustRoots: Sendable, Hashable {
                /// The system's trust store.
                case system
                /// A PEM file of CA certificates.
                case pemFile(String)
            }

            public var trustRoots: TrustRoots = .system
            /// A PEM certificate chain and its PEM private key, for client-certificate authentication.
            public var certificateChainFile: String?
            public var privateKeyFile: String?
            /// The name to verify the broker's certificate against (and send as SNI); the configured
            /// host when nil. Certificates may use wildcards (R-STOMP.37).
            public var serverName: String?
            /// Whether to verify the broker's certificate. Turn off only for tests.
            public var verifyCertificate = true

            public init(trustRoots: TrustRoots = .system) {
                self.trustRoots = trustRoots
            }
        }

        /// The state machine's settings.
        var connectionSettings: STOMPConnection.Settings {
            var settings = STOMPConnection.Settings(endpointID: endpointID, destination: destination, host: virtualHost ?? host)
            settings.login = login
            settings.passcode = passcode
            settings.heartBeat = heartBeat
            settings.heartBeatTolerance = heartBeatTolerance
            settings.handshakeTimeout = handshakeTimeout
            settings.receiptTimeout = receiptTimeout
            settings.requestSendReceipts = requestSendReceipts
            settings.backoff = backoff
            return settings
        }

        /// Checks the values and builds the TLS context.
        func makeSSLContext() throws -> NIOSSLContext? {
            guard !host.isEmpty, (1...65535).contains(port) else {
                throw STOMPError(.invalidConfiguration, "the broker address \(host):\(port) is not usable")
            }
            guard !endpointID.isEmpty else {
                throw STOMPError(.invalidConfiguration, "the endpoint ID is empty (R-STOMP.4 requires one)")
            }
            guard !destination.isEmpty else {
                throw STOMPError(.invalidConfiguration, "the destination is empty")
            }
            guard heartBeatTolerance >= 1, tickInterval > .zero else {
                throw STOMPError(.invalidConfiguration, "heartBeatTolerance must be at least 1 and tickInterval positive")
            }
            guard let tls else { return nil }
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.minimumTLSVersion = .tlsv12  // R-STOMP.36
            configuration.certificateVerification = tls.verifyCertificate ? .fullVerification : .none
            do {
                switch tls.trustRoots {
                case .system: configuration.trustRoots = .default
                case .pemFile(let path): configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(path))
                }
                switch (tls.certificateChainFile, tls.privateKeyFile) {
                case (let chain?, let key?):
                    configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(chain).map { .certificate($0) }
                    configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
                case (nil, nil):
                    break
                default:
                    throw STOMPError(.invalidConfiguration, "a client certificate needs both certificateChainFile and privateKeyFile")
                }
                return try NIOSSLContext(configuration: configuration)
            } catch let error as STOMPError {
                throw error
            } catch {
                throw STOMPError(.invalidConfiguration, "TLS: \(error)")
            }
        }
    }
}
