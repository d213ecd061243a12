import Logging

/// Everything `tandem serve` needs, with defaults. Each key is documented in the README
/// ("Configuration") in the same order; `config.example.json` sets every one of them.
public struct TandemConfiguration: Hashable, Sendable {
    /// `dataDirectory`: where the registry file (`registry.sqlite`) lives. Relative paths are
    /// relative to the working directory.
    public var dataDirectory: String = "data"

    /// `log.level`: trace, debug, info, notice, warning, error or critical.
    public var logLevel: Logger.Level = .info

    /// `eventLoopThreads`: threads of the SwiftNIO event loops every listener and dialer shares.
    /// 0: half the cores, at least one; the other cores decode, run sessions and write the
    /// registry. (Measured on 2 cores: one event loop ran about 7 % more CWMP sessions per second
    /// than two, with 12 % less CPU per session: fewer wake-ups handing requests between threads.)
    public var eventLoopThreads = 0

    /// `memoryTrimSeconds`: how often freed heap pages go back to the kernel (``HeapTrimService``);
    /// 0 turns it off. A trim costs tens of milliseconds of one blocking-pool thread (36–60 ms
    /// measured in the test process, whose heap holds many servers), each arena locked in turn, so
    /// once a minute is cheap and still returns what a burst of connections left behind.
    public var memoryTrimSeconds = 60

    /// The event-loop thread count `eventLoopThreads` asks for on a machine with `cores` cores.
    public func effectiveEventLoopThreads(cores: Int) -> Int {
        eventLoopThreads > 0 ? eventLoopThreads : max(1, cores / 2)
    }

    public var cwmp = CWMP()
    public var api = API()
    public var usp = USP()
    /// `tls`: the certificate every HTTP listener (CWMP, REST API, USP WebSocket) serves; see
    /// TandemConfiguration+TLS.swift.
    public var tls = ServerTLS()

    /// `policyFile`: the provisioning and migration policy file (YAML or JSON); none by default.
    public var policyFile: String?
    public var provisioning = Provisioning()

    public init() {}

    /// The desired-state engine and the migration coordinator.
    public struct Provisioning: Hashable, Sendable {
        /// `provisioning.migrationTickSeconds`: how often migrations start and check devices.
        public var migrationTickSeconds = 5.0
        /// `provisioning.maxRoundsPerContact`: planning rounds per device contact before the device
        /// is reported unsettled.
        public var maxRoundsPerContact = 4
        /// `provisioning.retrySeconds`: first backoff after a policy's task faults (doubling, at most
        /// six hours).
        public var retrySeconds = 60
    }

    /// The CWMP (TR-069) front end.
    public struct CWMP: Hashable, Sendable {
        /// `cwmp.listen`: where CPEs POST (7547 is IANA's CWMP port).
        public var listen = ListenAddress(host: "0.0.0.0", port: 7547)
        /// `cwmp.auth.mode`: `digest` (default), `basic` (only sensible over TLS, TR-069 3.4.4) or
        /// `open`, which must be chosen explicitly.
        public var authMode: CWMPAuthMode = .digest
        /// `cwmp.auth.usernameTemplate` / `cwmp.auth.passwordTemplate`: credentials for devices
        /// without stored ones, with `{oui}`, `{productClass}`, `{serialNumber}` and `{deviceId}`
        /// placeholders. No password template means devices need stored credentials.
        public var usernameTemplate = "{deviceId}"
        public var passwordTemplate: String?
        /// `cwmp.maxBodyBytes`: largest SOAP envelope accepted (TR-069 requires at least 32 KiB).
        public var maxBodyBytes = 4 * 1024 * 1024
        /// `cwmp.sessionTimeoutSeconds`: a session with no request for this long is closed.
        public var sessionTimeoutSeconds = 30
        /// `cwmp.maxConcurrentSessions`: above this, new sessions get 503 with Retry-After.
        public var maxConcurrentSessions = 10_000
        /// `cwmp.backlog`: pending TCP connections the listener queues (capped by the kernel's
        /// `net.core.somaxconn`). An Inform storm opens thousands at once; a short queue drops their
        /// SYNs and the CPEs' TCP retries back off for a minute.
        public var backlog = 4096
        /// `cwmp.maxConnections`: open CPE connections at most; past it the listener stops accepting
        /// until one closes. 0: half the process's open-file limit (``OpenFileLimit``), so that a
        /// storm never takes the descriptors the registry and the other front ends need.
        public var maxConnections = 0
        /// `cwmp.retryAfterSeconds`: the longest Retry-After of the 503 answers above that limit.
        public var retryAfterSeconds = 60
        /// `cwmp.adaptiveRetryAfter`: spread refused CPEs over the time the open sessions take to
        /// drain (measured), up to `retryAfterSeconds`; false answers `retryAfterSeconds` to all.
        public var adaptiveRetryAfter = true
        /// `cwmp.getBatchSize`: parameter names per GetParameterValues request.
        public var getBatchSize = 64
        /// `cwmp.omitXMLDeclarationFor`: product classes whose CPEs reject the `<?xml ...?>` prolog.
        public var omitXMLDeclarationFor: [String] = []
        /// `cwmp.connectionRequest.usernameTemplate` / `passwordTemplate`: credentials for
        /// Connection Requests to devices without stored ones (same placeholders as `cwmp.auth`).
        public var connectionRequestUsernameTemplate: String?
        public var connectionRequestPasswordTemplate: String?
        /// `cwmp.maxFailedAuthenticationsPerMinute`: failed CPE authentications one address may make
        /// in a minute before it gets 429 (high: CPEs share addresses behind carrier-grade NAT).
        public var maxFailedAuthenticationsPerMinute = 100
        /// `cwmp.clientCertificates`: CPE client certificates over HTTPS (TR-069 3.4.4).
        public var clientCertificates = ClientCertificates()
    }

    /// The REST API (and `/healthz`, `/metrics`).
    public struct API: Hashable, Sendable {
        /// `api.listen`: where the REST API listens; loopback by default.
        public var listen = ListenAddress(host: "127.0.0.1", port: 8080)
        /// `api.maxFailedAuthenticationsPerMinute`: failed token checks one address may make in a
        /// minute before it gets 429 with Retry-After.
        public var maxFailedAuthenticationsPerMinute = 10
    }

    /// The USP (TR-369) controller.
    public struct USP: Hashable, Sendable {
        /// `usp.endpointId`: the controller's own endpoint ID (TR-369 section 2.2).
        public var endpointID = "self::tandem-controller"
        /// `usp.websocket.listen`: the WebSocket MTP server; null turns it off.
        public var webSocketListen: ListenAddress? = ListenAddress(host: "0.0.0.0", port: 8081)
        /// `usp.websocket.path`: the HTTP path agents connect to.
        public var webSocketPath = "/usp"
        /// `usp.mqtt.broker`: `mqtt://host:port` or `mqtts://host:port`; null turns MQTT off.
        public var mqttBroker: BrokerURL?
        /// `usp.mqtt.topic`: the topic the controller subscribes to; agents publish to it.
        public var mqttTopic = "usp/controller/tandem"
        /// `usp.stomp.broker`: `stomp://host:port` or `stomps://host:port`; null turns STOMP off.
        public var stompBroker: BrokerURL?
        /// `usp.stomp.destination`: the destination the controller subscribes to.
        public var stompDestination = "/queue/usp.controller.tandem"
        /// `usp.baselinePaths`: read from every agent on onboarding and after each Boot!.
        public var baselinePaths = ["Device.DeviceInfo."]
        /// `usp.valueChangePaths`: parameters the controller subscribes to with ValueChange.
        public var valueChangePaths: [String] = []
        /// `usp.requestTimeoutSeconds`: how long a request waits for its response (msg_id correlation).
        public var requestTimeoutSeconds = 30
        /// `usp.brokerRetry.initialSeconds` / `maximumSeconds`: the waits between attempts to reach
        /// the MQTT and STOMP brokers, doubling per attempt (R-MQTT.10/33 ConnectRetryTime and
        /// ConnectRetryMaxInterval; R-STOMP.7 ServerRetryInitialInterval and ServerRetryMaxInterval).
        /// nil keeps each MTP's own default (MQTT 1 s to 60 s, STOMP 5 s to 10 min).
        public var brokerRetryInitialSeconds: Double?
        public var brokerRetryMaximumSeconds: Double?
        /// `usp.mqtt.tls`, `usp.stomp.tls`: CA and client certificate towards the brokers (with
        /// `mqtts://` / `stomps://`); `usp.websocket.dialTLS`: the same for `wss://` agents.
        public var mqttTLS = ClientTLS()
        public var stompTLS = ClientTLS()
        public var webSocketDialTLS = ClientTLS()
    }
}

/// How CPEs authenticate to the CWMP front end.
public enum CWMPAuthMode: String, Hashable, Sendable, CaseIterable {
    case open, basic, digest
}
