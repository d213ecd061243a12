/// JSON form of operations, used by the task queue in the registry and by the REST API:
/// `{"op": "get", "paths": ["Device.DeviceInfo."]}`,
/// `{"op": "set", "values": [{"path": "Device.WiFi.SSID.1.SSID", "type": "string", "value": "home"}]}`, ...
extension Operation: Codable {
    private enum CodingKeys: String, CodingKey {
        case op, paths, values, allowPartial, parameterKey, object, parameters, objects, command, input
        case commandKey, transfer, delaySeconds, nextLevel, settings, windows, operations
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let op = try c.decode(String.self, forKey: .op)
        switch op {
        case "get":
            self = .get(paths: try c.decode([PathExpression].self, forKey: .paths))
        case "set":
            self = .set(
                values: try c.decode([ParameterSetting].self, forKey: .values),
                allowPartial: try c.decodeIfPresent(Bool.self, forKey: .allowPartial) ?? false,
                parameterKey: try c.decodeIfPresent(String.self, forKey: .parameterKey))
        case "add":
            self = .add(
                object: try c.decode(PathExpression.self, forKey: .object),
                parameters: try c.decodeIfPresent([ParameterSetting].self, forKey: .parameters) ?? [])
        case "delete":
            self = .delete(objects: try c.decode([PathExpression].self, forKey: .objects))
        case "operate":
            self = .operate(
                command: try c.decode(PathExpression.self, forKey: .command),
                input: try c.decodeIfPresent([String: String].self, forKey: .input) ?? [:],
                commandKey: try c.decodeIfPresent(String.self, forKey: .commandKey))
        case "reboot":
            self = .reboot(commandKey: try c.decodeIfPresent(String.self, forKey: .commandKey))
        case "factoryReset":
            self = .factoryReset
        case "download":
            self = .download(try c.decode(FileTransfer.self, forKey: .transfer))
        case "upload":
            self = .upload(try c.decode(FileTransfer.self, forKey: .transfer))
        case "scheduleInform":
            self = .scheduleInform(
                delaySeconds: try c.decode(UInt32.self, forKey: .delaySeconds),
                commandKey: try c.decodeIfPresent(String.self, forKey: .commandKey))
        case "discover":
            self = .discover(
                object: try c.decode(PathExpression.self, forKey: .object),
                nextLevel: try c.decodeIfPresent(Bool.self, forKey: .nextLevel) ?? false)
        case "getAttributes":
            self = .getAttributes(paths: try c.decode([PathExpression].self, forKey: .paths))
        case "setAttributes":
            self = .setAttributes(try c.decode([AttributeSetting].self, forKey: .settings))
        case "scheduleDownload":
            self = .scheduleDownload(try c.decode(FileTransfer.self, forKey: .transfer), windows: try c.decode([TransferWindow].self, forKey: .windows))
        case "cancelTransfer":
            self = .cancelTransfer(commandKey: try c.decode(String.self, forKey: .commandKey))
        case "changeDUState":
            self = .changeDUState(try c.decode([DeploymentUnitOperation].self, forKey: .operations))
        case "supportedMethods":
            self = .supportedMethods
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .op, in: c,
                debugDescription: "unknown operation \"\(op)\" (\(Operation.allNames.joined(separator: ", ")))")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .op)
        switch self {
        case .get(let paths):
            try c.encode(paths, forKey: .paths)
        case .set(let values, let allowPartial, let key):
            try c.encode(values, forKey: .values)
            try c.encode(allowPartial, forKey: .allowPartial)
            try c.encodeIfPresent(key, forKey: .parameterKey)
        case .add(let object, let parameters):
            try c.encode(object, forKey: .object)
            try c.encode(parameters, forKey: .parameters)
        case .delete(let objects):
            try c.encode(objects, forKey: .objects)
        case .operate(let command, let input, let key):
            try c.encode(command, forKey: .command)
            try c.encode(input, forKey: .input)
            try c.encodeIfPresent(key, forKey: .commandKey)
        case .reboot(let key):
            try c.encodeIfPresent(key, forKey: .commandKey)
        case .factoryReset:
            break
        case .download(let transfer), .upload(let transfer):
            try c.encode(transfer, forKey: .transfer)
        case .scheduleInform(let delay, let key):
            try c.encode(delay, forKey: .delaySeconds)
            try c.encodeIfPresent(key, forKey: .commandKey)
        case .discover(let object, let nextLevel):
            try c.encode(object, forKey: .object)
            try c.encode(nextLevel, forKey: .nextLevel)
        case .getAttributes(let paths):
            try c.encode(paths, forKey: .paths)
        case .setAttributes(let settings):
            try c.encode(settings, forKey: .settings)
        case .scheduleDownload(let transfer, let windows):
            try c.encode(transfer, forKey: .transfer)
            try c.encode(windows, forKey: .windows)
        case .cancelTransfer(let key):
            try c.encode(key, forKey: .commandKey)
        case .changeDUState(let operations):
            try c.encode(operations, forKey: .operations)
        case .supportedMethods:
            break
        }
    }
}

extension ParameterSetting {
    private enum CodingKeys: String, CodingKey { case path, type, value, required }

    /// `{"path": "...", "type": "unsignedInt", "value": "42", "required": true}`; `type` defaults
    /// to string.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let path = try c.decode(PathExpression.self, forKey: .path)
        let type = try c.decodeIfPresent(ValueType.self, forKey: .type) ?? .string
        let text = try c.decode(String.self, forKey: .value)
        let value: TypedValue
        do { value = try TypedValue(parsing: text, as: type) } catch {
            throw DecodingError.dataCorruptedError(forKey: .value, in: c, debugDescription: "\(path): \(error.message)")
        }
        self.init(path: path, value: value, required: try c.decodeIfPresent(Bool.self, forKey: .required) ?? true)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(path, forKey: .path)
        try c.encode(value.type, forKey: .type)
        try c.encode(value.lexical, forKey: .value)
        try c.encode(required, forKey: .required)
    }
}
