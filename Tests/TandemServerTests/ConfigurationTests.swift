import Foundation
import Logging
import TandemServer
import Testing

@Suite struct ConfigurationTests {
    @Test func exampleFileLoadsAndMatchesTheDocumentedDefaults() throws {
        let path = repositoryRoot.appendingPathComponent("config.example.json").path
        let loaded = try TandemConfiguration.load(file: path)
        #expect(loaded == TandemConfiguration())
        #expect(loaded.cwmp.listen == ListenAddress(host: "0.0.0.0", port: 7547))
        #expect(loaded.api.listen == ListenAddress(host: "127.0.0.1", port: 8080))
        #expect(loaded.cwmp.authMode == .digest)
        #expect(loaded.usp.mqttBroker == nil)
    }

    @Test func eventLoopThreadsDefaultToHalfTheCores() {
        let automatic = TandemConfiguration()
        #expect(automatic.effectiveEventLoopThreads(cores: 1) == 1)
        #expect(automatic.effectiveEventLoopThreads(cores: 2) == 1)
        #expect(automatic.effectiveEventLoopThreads(cores: 16) == 8)
    }

    @Test func everyKeyIsDocumentedInTheReadme() throws {
        let readme = try String(contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let example = try JSONSerialization.jsonObject(with: Data(contentsOf: repositoryRoot.appendingPathComponent("config.example.json")))
        func keys(_ value: Any, _ prefix: String) -> [String] {
            guard let object = value as? [String: Any] else { return [prefix] }
            return object.flatMap { key, child in keys(child, prefix.isEmpty ? key : "\(prefix).\(key)") }
        }
        let all = keys(example, "")
        #expect(all.count >= 17)
        for key in all {
            #expect(readme.contains("`\(key)`"), "README.md does not document \(key)")
        }
    }

    @Test func readsEverySetting() throws {
        let json = """
            {"dataDirectory": "/var/lib/tandem", "log": {"level": "debug"}, "eventLoopThreads": 3, "memoryTrimSeconds": 15,
             "cwmp": {"listen": "[::]:7547", "auth": {"mode": "basic", "usernameTemplate": "{oui}-{serialNumber}", "passwordTemplate": "x{serialNumber}"},
                      "maxBodyBytes": 65536, "sessionTimeoutSeconds": 10, "maxConcurrentSessions": 5, "retryAfterSeconds": 9, "adaptiveRetryAfter": false, "backlog": 512, "maxConnections": 3000},
             "api": {"listen": "0.0.0.0:9000"},
             "usp": {"endpointId": "oui:00256D:ctrl", "websocket": {"listen": null, "path": "/agents"},
                     "mqtt": {"broker": "mqtts://broker.example", "topic": "usp/c"},
                     "stomp": {"broker": "stomp://10.1.1.1:61613", "destination": "/queue/c"},
                     "brokerRetry": {"initialSeconds": 2, "maximumSeconds": 120}},
             "policyFile": "policies.yaml"}
            """
        let c = try TandemConfiguration.load(json: Data(json.utf8), source: "test")
        #expect(c.dataDirectory == "/var/lib/tandem")
        #expect(c.logLevel == .debug)
        #expect(c.eventLoopThreads == 3)
        #expect(c.memoryTrimSeconds == 15)
        #expect(c.effectiveEventLoopThreads(cores: 64) == 3)
        #expect(c.cwmp.listen == ListenAddress(host: "::", port: 7547))
        #expect(c.cwmp.authMode == .basic)
        #expect(c.cwmp.usernameTemplate == "{oui}-{serialNumber}")
        #expect(c.cwmp.passwordTemplate == "x{serialNumber}")
        #expect(c.cwmp.maxBodyBytes == 65536)
        #expect(c.cwmp.sessionTimeoutSeconds == 10)
        #expect(c.cwmp.maxConcurrentSessions == 5)
        #expect(c.cwmp.retryAfterSeconds == 9)
        #expect(c.cwmp.adaptiveRetryAfter == false)
        #expect(c.cwmp.backlog == 512)
        #expect(c.cwmp.maxConnections == 3000)
        #expect(c.api.listen.port == 9000)
        #expect(c.usp.endpointID == "oui:00256D:ctrl")
        #expect(c.usp.webSocketListen == nil)
        #expect(c.usp.webSocketPath == "/agents")
        #expect(c.usp.mqttBroker?.description == "mqtts://broker.example:8883")
        #expect(c.usp.mqttBroker?.usesTLS == true)
        #expect(c.usp.mqttTopic == "usp/c")
        #expect(c.usp.stompBroker?.port == 61613)
        #expect(c.usp.stompDestination == "/queue/c")
        #expect(c.usp.brokerRetryInitialSeconds == 2 && c.usp.brokerRetryMaximumSeconds == 120)
        #expect(c.policyFile == "policies.yaml")
    }

    @Test(arguments: [
        (#"{"cwmp": {"lissten": "0.0.0.0:1"}}"#, "cwmp.lissten", "did you mean cwmp.listen"),
        (#"{"cwmp": {"listen": "nohost"}}"#, "cwmp.listen", "has no port"),
        (#"{"cwmp": {"listen": "h:70000"}}"#, "cwmp.listen", "0 to 65535"),
        (#"{"cwmp": {"listen": 7547}}"#, "cwmp.listen", "must be a string"),
        (#"{"eventLoopThreads": -1}"#, "eventLoopThreads", "0"),
        (#"{"cwmp": {"auth": {"mode": "none"}}}"#, "cwmp.auth.mode", "open, basic or digest"),
        (#"{"cwmp": {"auth": {"usernameTemplate": "{mac}"}}}"#, "cwmp.auth", "unknown placeholder {mac}"),
        (#"{"cwmp": {"maxBodyBytes": 100}}"#, "cwmp.maxBodyBytes", "between 32768"),
        (#"{"cwmp": {"maxBodyBytes": 1.5}}"#, "cwmp.maxBodyBytes", "whole number"),
        (#"{"cwmp": {"sessionTimeoutSeconds": true}}"#, "cwmp.sessionTimeoutSeconds", "whole number"),
        (#"{"api": "127.0.0.1:1"}"#, "api", "must be an object"),
        (#"{"api": {"listen": "0.0.0.0:7547"}}"#, "api.listen", "already used by cwmp.listen"),
        (#"{"usp": {"endpointId": "controller"}}"#, "usp.endpointId", "no authority scheme"),
        (#"{"usp": {"mqtt": {"broker": "http://x"}}}"#, "usp.mqtt.broker", "expected one of mqtt, mqtts"),
        (#"{"usp": {"mqtt": {"topic": "usp/#"}}}"#, "usp.mqtt.topic", "wildcards"),
        (#"{"usp": {"websocket": {"path": "usp"}}}"#, "usp.websocket.path", "must start with '/'"),
        (#"{"usp": {"brokerRetry": {"initialSeconds": 0}}}"#, "usp.brokerRetry.initialSeconds", "between 1"),
        (#"{"usp": {"brokerRetry": {"initialSeconds": 30, "maximumSeconds": 10}}}"#, "usp.brokerRetry.maximumSeconds", "not be below initialSeconds"),
        (#"{"log": {"level": "loud"}}"#, "log.level", "unknown level"),
        (#"{"dataDirectory": ""}"#, "dataDirectory", "must not be empty"),
        (#"{"extra": 1}"#, "extra", "unknown key"),
    ])
    func badValuesNameTheKey(json: String, key: String, message: String) {
        #expect {
            try TandemConfiguration.load(json: Data(json.utf8), source: "bad.json")
        } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            return error.key == key && error.message.contains(message) && error.description.hasPrefix("bad.json: \(key): ")
        }
    }

    @Test func syntaxErrorsGiveLineAndColumn() {
        #expect {
            try TandemConfiguration.load(json: Data("{\n  \"api\": {\n    \"listen\": oops\n  }\n}".utf8), source: "c.json")
        } throws: { error in
            let text = "\(error)"
            return text.hasPrefix("c.json: not valid JSON") && text.contains("line 3")
        }
        #expect(throws: ConfigurationError.self) { try TandemConfiguration.load(json: Data("[1]".utf8), source: "c.json") }
        #expect(throws: ConfigurationError.self) { try TandemConfiguration.load(file: "/nonexistent/tandem.json") }
    }

    @Test func addressParsing() throws {
        #expect(try ListenAddress(parsing: "[::1]:8080") == ListenAddress(host: "::1", port: 8080))
        #expect(try ListenAddress(parsing: "[::1]:8080").description == "[::1]:8080")
        #expect(try ListenAddress(parsing: "localhost:0").port == 0)
        for bad in ["::1:80", ":80", "host:", "[::1]80", "host:-1"] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try ListenAddress(parsing: bad) }
        }
        #expect(try BrokerURL(parsing: "mqtt://127.0.0.1", schemes: ["mqtt": 1883]).port == 1883)
        #expect(try BrokerURL(parsing: "mqtt://[::1]:1884", schemes: ["mqtt": 1883]).host == "::1")
        for bad in ["127.0.0.1:1883", "mqtt://user:pw@h:1", "mqtt://h:1/path", "mqtt://h:0"] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try BrokerURL(parsing: bad, schemes: ["mqtt": 1883]) }
        }
    }
}
