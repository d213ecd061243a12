import TandemCore

extension USPMessage.Request {
    /// The USP request for a protocol-neutral operation, where the mapping is direct (protocol
    /// digest D.3):
    ///
    /// - `get` → Get of the paths;
    /// - `set` → Set, parameters grouped by their parent object (`param` relative to `obj_path`),
    ///   `allow_partial` kept; USP has no ParameterKey, so `parameterKey` is not sent;
    /// - `add` → Add of one object, parameter names made relative to it;
    /// - `delete` → Delete of the objects, holistic (`allow_partial` false);
    /// - `operate` → Operate with `send_resp` true;
    /// - `reboot` → Operate `Device.Reboot()`; `factoryReset` → Operate `Device.FactoryReset()`;
    /// - `supportedMethods` → GetSupportedProtocol.
    ///
    /// Download, upload, scheduleInform, the attribute operations, cancelTransfer and changeDUState
    /// need planning (choosing the `FirmwareImage.{i}`,
    /// activation, file types), which the engine does with ``USPOperate``; they throw here.
    ///
    /// - Throws: the operation's own validation fault (`invalidArguments` / `invalidPath`), or
    ///   `notSupported` for the operations above that are not a direct mapping.
    public init(operation: Operation) throws(Fault) {
        try operation.validate()
        switch operation {
        case .get(let paths):
            self = .get(USPGet(paramPaths: paths.map(\.description)))
        case .set(let values, let allowPartial, _):
            var order: [String] = []
            var groups: [String: [USPParameterSetting]] = [:]
            for setting in values {
                guard let parent = setting.path.parent, case .name(let name)? = setting.path.segments.last else {
                    throw Fault(category: .invalidPath, message: "cannot set \(setting.path): it has no parent object")
                }
                let objectPath = parent.description
                if groups[objectPath] == nil { order.append(objectPath) }
                groups[objectPath, default: []].append(
                    USPParameterSetting(name: name, value: setting.value.lexical, required: setting.required))
            }
            self = .set(
                USPSet(
                    allowPartial: allowPartial,
                    updateObjects: order.map { USPSet.UpdateObject(objectPath: $0, settings: groups[$0] ?? []) }))
        case .add(let object, let parameters):
            let settings = parameters.map { setting in
                let name: String
                if object.contains(setting.path), setting.path.segments.count > object.segments.count {
                    name = setting.path.segments.dropFirst(object.segments.count).map(\.description).joined(separator: ".")
                } else {
                    name = setting.path.description
                }
                return USPParameterSetting(name: name, value: setting.value.lexical, required: setting.required)
            }
            self = .add(USPAdd(allowPartial: false, createObjects: [USPAdd.CreateObject(objectPath: object.description, settings: settings)]))
        case .delete(let objects):
            self = .delete(USPDelete(allowPartial: false, objectPaths: objects.map(\.description)))
        case .operate(let command, let input, let commandKey):
            self = .operate(USPOperate(command: command.description, commandKey: commandKey ?? "", sendResponse: true, inputArguments: input))
        case .reboot(let commandKey):
            self = .operate(USPOperate(command: "Device.Reboot()", commandKey: commandKey ?? "", sendResponse: true))
        case .factoryReset:
            self = .operate(USPOperate(command: "Device.FactoryReset()", sendResponse: true))
        case .discover(let object, let nextLevel):
            self = .getInstances(USPGetInstances(objectPaths: [object.description], firstLevelOnly: nextLevel))
        case .supportedMethods:
            self = .getSupportedProtocol(USPGetSupportedProtocol())
        case .download, .upload, .scheduleInform, .getAttributes, .setAttributes, .scheduleDownload, .cancelTransfer, .changeDUState:
            throw Fault(
                category: .notSupported,
                message: "\(operation.name) has no direct USP request; the engine plans it as an Operate "
                    + "(e.g. Device.DeviceInfo.FirmwareImage.{i}.Download())")
        }
    }
}

extension USPMessage {
    /// The request Message for `operation` (see ``USPMessage/Request/init(operation:)``).
    public init(id: String, operation: Operation) throws(Fault) {
        self.init(id: id, request: try Request(operation: operation))
    }
}
