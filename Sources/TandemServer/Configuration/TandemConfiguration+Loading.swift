import Foundation
import Logging
import TandemCore

extension TandemConfiguration {
    /// Reads a JSON configuration file over the defaults. Unknown keys, wrong types and bad values
    /// are errors that name the key, so a typo never silently falls back to a default.
    public static func load(file path: String) throws(ConfigurationError) -> TandemConfiguration {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ConfigurationError(key: nil, source: path, "cannot read the file (\(error.localizedDescription))")
        }
        return try load(json: data, source: path)
    }

    /// Parses JSON configuration text; `source` names it in errors.
    public static func load(json data: Data, source: String) throws(ConfigurationError) -> TandemConfiguration {
        let object: JSONValue
        do { object = try JSONDecoder().decode(JSONValue.self, from: data) } catch {
            throw ConfigurationError(key: nil, source: source, "not valid JSON: \(Self.describeSyntaxError(in: data))")
        }
        guard case .object(let root) = object else {
            throw ConfigurationError(key: nil, source: source, "the top level must be a JSON object")
        }
        var configuration = TandemConfiguration()
        do {
            try configuration.apply(JSONObjectReader(root, prefix: ""))
        } catch {
            throw ConfigurationError(key: error.key, source: source, error.message)
        }
        try configuration.validate(source: source)
        return configuration
    }

    /// Foundation's JSON parsers report a byte offset at best; turn it into a line and column.
    private static func describeSyntaxError(in data: Data) -> String {
        var detail = "syntax error"
        do { _ = try JSONSerialization.jsonObject(with: data) } catch {
            detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? detail
        }
        let bytes = [UInt8](data)
        var offset = bytes.count
        if let range = detail.range(of: #"character (\d+)"#, options: .regularExpression),
            let number = Int(detail[range].dropFirst("character ".count))
        {
            offset = min(number, bytes.count)
            detail = detail.replacingCharacters(in: range, with: "here").replacingOccurrences(of: "around here", with: "")
                .trimmingCharacters(in: CharacterSet(charactersIn: " ."))
        }
        let before = bytes[..<offset]
        let line = before.count(where: { $0 == UInt8(ascii: "\n") }) + 1
        let column = offset - (before.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0) + 1
        return "\(detail.trimmingCharacters(in: CharacterSet(charactersIn: " ."))) at line \(line), column \(column)"
    }

    private mutating func apply(_ reader: JSONObjectReader) throws(ConfigurationError) {
        try reader.checkKeys(["dataDirectory", "log", "eventLoopThreads", "memoryTrimSeconds", "cwmp", "api", "usp", "policyFile", "provisioning", "tls"])
        if let section = try reader.object("provisioning") {
            try section.checkKeys(["migrationTickSeconds", "maxRoundsPerContact", "retrySeconds"])
            if let seconds = try section.integer("migrationTickSeconds", in: 1...3600) { provisioning.migrationTickSeconds = Double(seconds) }
            if let rounds = try section.integer("maxRoundsPerContact", in: 1...32) { provisioning.maxRoundsPerContact = rounds }
            if let seconds = try section.integer("retrySeconds", in: 1...86_400) { provisioning.retrySeconds = seconds }
        }
        try applyTLS(reader)
        if let value = try reader.string("dataDirectory") { dataDirectory = value }
        if let policy = try reader.optionalString("policyFile") { policyFile = policy }
        if let threads = try reader.integer("eventLoopThreads", in: 0...1024) { eventLoopThreads = threads }
        if let seconds = try reader.integer("memoryTrimSeconds", in: 0...86_400) { memoryTrimSeconds = seconds }
        if let log = try reader.object("log") {
            try log.checkKeys(["level"])
            if let level = try log.string("level") {
                guard let parsed = Logger.Level(rawValue: level) else {
                    throw ConfigurationError(key: log.key("level"), "unknown level \"\(level)\" (trace, debug, info, notice, warning, error, critical)")
                }
                logLevel = parsed
            }
        }
        if let section = try reader.object("cwmp") {
            try section.checkKeys([
                "listen", "auth", "maxBodyBytes", "sessionTimeoutSeconds", "maxConcurrentSessions", "getBatchSize", "omitXMLDeclarationFor", "clientCertificates",
                "maxFailedAuthenticationsPerMinute", "connectionRequest", "retryAfterSeconds", "adaptiveRetryAfter", "backlog", "maxConnections",
            ])
            if let request = try section.object("connectionRequest") {
                try request.checkKeys(["usernameTemplate", "passwordTemplate"])
                if let template = try request.optionalString("usernameTemplate") { cwmp.connectionRequestUsernameTemplate = template }
                if let template = try request.optionalString("passwordTemplate") { cwmp.connectionRequestPasswordTemplate = template }
            }
            if let listen = try section.address("listen") { cwmp.listen = listen }
            if let auth = try section.object("auth") {
                try auth.checkKeys(["mode", "usernameTemplate", "passwordTemplate"])
                if let mode = try auth.string("mode") {
                    guard let parsed = CWMPAuthMode(rawValue: mode) else {
                        throw ConfigurationError(key: auth.key("mode"), "unknown mode \"\(mode)\" (open, basic or digest)")
                    }
                    cwmp.authMode = parsed
                }
                if let template = try auth.string("usernameTemplate") { cwmp.usernameTemplate = template }
                if let template = try auth.optionalString("passwordTemplate") { cwmp.passwordTemplate = template }
            }
            if let bytes = try section.integer("maxBodyBytes", in: 32 * 1024...256 * 1024 * 1024) { cwmp.maxBodyBytes = bytes }
            if let seconds = try section.integer("sessionTimeoutSeconds", in: 1...3600) { cwmp.sessionTimeoutSeconds = seconds }
            if let sessions = try section.integer("maxConcurrentSessions", in: 1...10_000_000) { cwmp.maxConcurrentSessions = sessions }
            if let batch = try section.integer("getBatchSize", in: 1...10_000) { cwmp.getBatchSize = batch }
            if let seconds = try section.integer("retryAfterSeconds", in: 1...86_400) { cwmp.retryAfterSeconds = seconds }
            if let adaptive = try section.bool("adaptiveRetryAfter") { cwmp.adaptiveRetryAfter = adaptive }
            if let backlog = try section.integer("backlog", in: 1...65_535) { cwmp.backlog = backlog }
            if let connections = try section.integer("maxConnections", in: 0...10_000_000) { cwmp.maxConnections = connections }
            if let classes = try section.stringArray("omitXMLDeclarationFor") { cwmp.omitXMLDeclarationFor = classes }
            if let failures = try section.integer("maxFailedAuthenticationsPerMinute", in: 1...1_000_000) { cwmp.maxFailedAuthenticationsPerMinute = failures }
        }
        if let section = try reader.object("api") {
            try section.checkKeys(["listen", "maxFailedAuthenticationsPerMinute"])
            if let listen = try section.address("listen") { api.listen = listen }
            if let failures = try section.integer("maxFailedAuthenticationsPerMinute", in: 1...1_000_000) { api.maxFailedAuthenticationsPerMinute = failures }
        }
        if let section = try reader.object("usp") {
            try section.checkKeys(["endpointId", "websocket", "mqtt", "stomp", "baselinePaths", "valueChangePaths", "requestTimeoutSeconds", "brokerRetry"])
            if let id = try section.string("endpointId") { usp.endpointID = id }
            if let paths = try section.stringArray("baselinePaths") { usp.baselinePaths = paths }
            if let paths = try section.stringArray("valueChangePaths") { usp.valueChangePaths = paths }
            if let seconds = try section.integer("requestTimeoutSeconds", in: 1...3600) { usp.requestTimeoutSeconds = seconds }
            if let retry = try section.object("brokerRetry") {
                try retry.checkKeys(["initialSeconds", "maximumSeconds"])
                if let seconds = try retry.integer("initialSeconds", in: 1...3600) { usp.brokerRetryInitialSeconds = Double(seconds) }
                if let seconds = try retry.integer("maximumSeconds", in: 1...86_400) { usp.brokerRetryMaximumSeconds = Double(seconds) }
            }
            if let ws = try section.object("websocket") {
                try ws.checkKeys(["listen", "path", "dialTLS"])
                if ws.isNull("listen") { usp.webSocketListen = nil } else if let listen = try ws.address("listen") { usp.webSocketListen = listen }
                if let path = try ws.string("path") { usp.webSocketPath = path }
            }
            if let mqtt = try section.object("mqtt") {
                try mqtt.checkKeys(["broker", "topic", "tls"])
                if let broker = try mqtt.optionalString("broker") {
                    do { usp.mqttBroker = try BrokerURL(parsing: broker, schemes: ["mqtt": 1883, "mqtts": 8883]) } catch {
                        throw error.at(key: mqtt.key("broker"), source: nil)
                    }
                }
                if let topic = try mqtt.string("topic") { usp.mqttTopic = topic }
            }
            if let stomp = try section.object("stomp") {
                try stomp.checkKeys(["broker", "destination", "tls"])
                if let broker = try stomp.optionalString("broker") {
                    do { usp.stompBroker = try BrokerURL(parsing: broker, schemes: ["stomp": 61613, "stomps": 61614]) } catch {
                        throw error.at(key: stomp.key("broker"), source: nil)
                    }
                }
                if let destination = try stomp.string("destination") { usp.stompDestination = destination }
            }
        }
    }

    /// Checks that hold across keys. Called after the file and again after command-line overrides.
    public func validate(source: String? = nil) throws(ConfigurationError) {
        try validateTLS(source: source)
        guard !dataDirectory.isEmpty else { throw ConfigurationError(key: "dataDirectory", source: source, "must not be empty") }
        do { _ = try EndpointID(usp.endpointID) } catch {
            throw ConfigurationError(key: "usp.endpointId", source: source, error.message)
        }
        for (key, paths) in [("usp.baselinePaths", usp.baselinePaths), ("usp.valueChangePaths", usp.valueChangePaths)] {
            for path in paths {
                do { _ = try PathExpression(path) } catch {
                    throw ConfigurationError(key: key, source: source, "\(path): \(error)")
                }
            }
        }
        guard usp.webSocketPath.hasPrefix("/") else {
            throw ConfigurationError(key: "usp.websocket.path", source: source, "must start with '/'")
        }
        guard !usp.mqttTopic.isEmpty, !usp.mqttTopic.contains("+"), !usp.mqttTopic.contains("#") else {
            throw ConfigurationError(key: "usp.mqtt.topic", source: source, "must be a topic name without the wildcards + and #")
        }
        guard !usp.stompDestination.isEmpty else {
            throw ConfigurationError(key: "usp.stomp.destination", source: source, "must not be empty")
        }
        if let initial = usp.brokerRetryInitialSeconds, let maximum = usp.brokerRetryMaximumSeconds, maximum < initial {
            throw ConfigurationError(key: "usp.brokerRetry.maximumSeconds", source: source, "must not be below initialSeconds (\(initial))")
        }
        if (cwmp.connectionRequestUsernameTemplate == nil) != (cwmp.connectionRequestPasswordTemplate == nil) {
            throw ConfigurationError(key: "cwmp.connectionRequest", source: source, "give both usernameTemplate and passwordTemplate, or neither")
        }
        let templates = [cwmp.usernameTemplate] + [cwmp.passwordTemplate, cwmp.connectionRequestUsernameTemplate, cwmp.connectionRequestPasswordTemplate].compactMap { $0 }
        for template in templates {
            var rest = Substring(template)
            while let open = rest.firstIndex(of: "{") {
                guard let close = rest[open...].firstIndex(of: "}") else {
                    throw ConfigurationError(key: "cwmp.auth", source: source, "unclosed '{' in template \"\(template)\"")
                }
                let name = rest[rest.index(after: open)..<close]
                guard ["oui", "productClass", "serialNumber", "deviceId"].contains(name) else {
                    throw ConfigurationError(key: "cwmp.auth", source: source, "unknown placeholder {\(name)} (oui, productClass, serialNumber, deviceId)")
                }
                rest = rest[rest.index(after: close)...]
            }
        }
        var seen: [ListenAddress: String] = [:]
        for (key, address) in [("cwmp.listen", cwmp.listen), ("api.listen", api.listen)] + (usp.webSocketListen.map { [("usp.websocket.listen", $0)] } ?? [])
        where address.port != 0 {
            if let other = seen[address] {
                throw ConfigurationError(key: key, source: source, "\(address) is already used by \(other)")
            }
            seen[address] = key
        }
    }
}

/// Typed access to one JSON object of the configuration, remembering its dotted key.
enum JSONValue: Decodable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }
}

struct JSONObjectReader {
    let values: [String: JSONValue]
    let prefix: String

    init(_ values: [String: JSONValue], prefix: String) {
        self.values = values
        self.prefix = prefix
    }

    func key(_ name: String) -> String { prefix.isEmpty ? name : "\(prefix).\(name)" }

    func checkKeys(_ known: Set<String>) throws(ConfigurationError) {
        for name in values.keys.sorted() where !known.contains(name) {
            let hint = known.min { a, b in a.distance(to: name) < b.distance(to: name) }
            throw ConfigurationError(key: key(name), "unknown key" + (hint.map { " (did you mean \(key($0))?)" } ?? ""))
        }
    }

    func isNull(_ name: String) -> Bool {
        if case .null? = values[name] { return true }
        return false
    }

    func string(_ name: String) throws(ConfigurationError) -> String? {
        guard let value = values[name] else { return nil }
        guard case .string(let text) = value else { throw ConfigurationError(key: key(name), "must be a string") }
        return text
    }

    /// A string that may be null; returns nil for both absent and null.
    func optionalString(_ name: String) throws(ConfigurationError) -> String? {
        if isNull(name) { return nil }
        return try string(name)
    }

    func bool(_ name: String) throws(ConfigurationError) -> Bool? {
        guard let value = values[name] else { return nil }
        guard case .bool(let flag) = value else { throw ConfigurationError(key: key(name), "must be true or false") }
        return flag
    }

    func integer(_ name: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
        guard let value = values[name] else { return nil }
        guard case .number(let number) = value, number == number.rounded(), abs(number) < 1e15 else {
            throw ConfigurationError(key: key(name), "must be a whole number")
        }
        let integer = Int(number)
        guard range.contains(integer) else {
            throw ConfigurationError(key: key(name), "must be between \(range.lowerBound) and \(range.upperBound), got \(integer)")
        }
        return integer
    }

    func stringArray(_ name: String) throws(ConfigurationError) -> [String]? {
        guard let value = values[name] else { return nil }
        guard case .array(let items) = value else { throw ConfigurationError(key: key(name), "must be an array of strings") }
        var strings: [String] = []
        for item in items {
            guard case .string(let text) = item else { throw ConfigurationError(key: key(name), "must be an array of strings") }
            strings.append(text)
        }
        return strings
    }

    func address(_ name: String) throws(ConfigurationError) -> ListenAddress? {
        guard let text = try string(name) else { return nil }
        do { return try ListenAddress(parsing: text) } catch { throw error.at(key: key(name), source: nil) }
    }

    func object(_ name: String) throws(ConfigurationError) -> JSONObjectReader? {
        guard let value = values[name] else { return nil }
        guard case .object(let object) = value else { throw ConfigurationError(key: key(name), "must be an object") }
        return JSONObjectReader(object, prefix: key(name))
    }
}

extension String {
    /// Levenshtein distance, for "did you mean" hints on unknown keys.
    fileprivate func distance(to other: String) -> Int {
        let a = Array(self.lowercased()), b = Array(other.lowercased())
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
