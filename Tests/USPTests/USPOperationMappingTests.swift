import TandemCore
import Testing
import USP

@Suite("Mapping between USP and the neutral operations")
struct USPOperationMappingTests {
    func path(_ text: String) throws -> PathExpression { try PathExpression(text) }

    @Test("get maps to Get of the same paths")
    func get() throws {
        let request = try USPMessage.Request(operation: .get(paths: [path("Device.DeviceInfo."), path("Device.WiFi.SSID.*.SSID")]))
        #expect(request == .get(USPGet(paramPaths: ["Device.DeviceInfo.", "Device.WiFi.SSID.*.SSID"])))
    }

    @Test("set groups parameters by parent object, in first-seen order, with lexical values")
    func set() throws {
        let operation = Operation.set(
            values: [
                ParameterSetting(path: try path("Device.WiFi.SSID.1.SSID"), value: .string("home")),
                ParameterSetting(path: try path("Device.DeviceInfo.ProvisioningCode"), value: .string("ABC")),
                ParameterSetting(path: try path("Device.WiFi.SSID.1.Enable"), value: .boolean(true), required: false),
                ParameterSetting(path: try path("Device.ManagementServer.PeriodicInformInterval"), value: .unsignedInt(300)),
            ],
            allowPartial: true, parameterKey: "ignored-by-usp")
        let message = try USPMessage(id: "set-9", operation: operation)
        #expect(
            message.request
                == .set(
                    USPSet(
                        allowPartial: true,
                        updateObjects: [
                            .init(
                                objectPath: "Device.WiFi.SSID.1.",
                                settings: [
                                    USPParameterSetting(name: "SSID", value: "home"),
                                    USPParameterSetting(name: "Enable", value: "true", required: false),
                                ]),
                            .init(objectPath: "Device.DeviceInfo.", settings: [USPParameterSetting(name: "ProvisioningCode", value: "ABC")]),
                            .init(
                                objectPath: "Device.ManagementServer.",
                                settings: [USPParameterSetting(name: "PeriodicInformInterval", value: "300")]),
                        ])))
    }

    @Test("add makes parameter names relative to the table")
    func add() throws {
        let operation = Operation.add(
            object: try path("Device.LocalAgent.Subscription."),
            parameters: [
                ParameterSetting(path: try path("Device.LocalAgent.Subscription.Enable"), value: .boolean(true)),
                ParameterSetting(path: try path("ReferenceList"), value: .string("Device.Boot!")),
            ])
        let request = try USPMessage.Request(operation: operation)
        #expect(
            request
                == .add(
                    USPAdd(createObjects: [
                        .init(
                            objectPath: "Device.LocalAgent.Subscription.",
                            settings: [
                                USPParameterSetting(name: "Enable", value: "true"),
                                USPParameterSetting(name: "ReferenceList", value: "Device.Boot!"),
                            ])
                    ])))
    }

    @Test("delete, operate, reboot and factoryReset map directly")
    func directMappings() throws {
        #expect(
            try USPMessage.Request(operation: .delete(objects: [path("Device.NAT.PortMapping.2.")]))
                == .delete(USPDelete(allowPartial: false, objectPaths: ["Device.NAT.PortMapping.2."])))
        #expect(
            try USPMessage.Request(
                operation: .operate(command: path("Device.IP.Diagnostics.IPPing()"), input: ["Host": "192.0.2.1"], commandKey: "k"))
                == .operate(
                    USPOperate(
                        command: "Device.IP.Diagnostics.IPPing()", commandKey: "k", sendResponse: true,
                        inputArguments: ["Host": "192.0.2.1"])))
        #expect(
            try USPMessage.Request(operation: .reboot(commandKey: "maint-7"))
                == .operate(USPOperate(command: "Device.Reboot()", commandKey: "maint-7")))
        #expect(try USPMessage.Request(operation: .factoryReset) == .operate(USPOperate(command: "Device.FactoryReset()")))
    }

    @Test("operations that need planning, and invalid ones, throw faults")
    func refusals() throws {
        let download = Operation.download(FileTransfer(kind: .firmware, url: "https://fw.example/img.bin"))
        #expect {
            try USPMessage.Request(operation: download)
        } throws: { error in
            (error as? Fault)?.category == .notSupported
        }
        #expect {
            let objectPath = ParameterSetting(path: try path("Device.WiFi."), value: .string("x"))
            return try USPMessage.Request(operation: .set(values: [objectPath], allowPartial: false, parameterKey: nil))
        } throws: { error in
            (error as? Fault)?.category == .invalidPath
        }
        #expect {
            try USPMessage.Request(operation: .get(paths: []))
        } throws: { error in
            (error as? Fault)?.category == .invalidArguments
        }
    }

    @Test("GetResp maps to one value per parameter and a fault per failed path (R-GET.0)")
    func getResult() throws {
        let result = try ExpectedMessages.getResponse.operationResult { path in
            path == "Device.DeviceInfo.UpTime" ? .unsignedInt : nil
        }
        #expect(
            result.entries.map(\.path) == [
                "Device.DeviceInfo.Manufacturer", "Device.DeviceInfo.SoftwareVersion", "Device.DeviceInfo.UpTime",
                "Device.WiFi.SSID.1.SSID", "Device.WiFi.SSID.2.SSID", "Device.Nope.",
            ])
        #expect(result.value(at: "Device.DeviceInfo.UpTime") == .unsignedInt(3600))
        #expect(result.value(at: "Device.WiFi.SSID.2.SSID") == .string("guest"))
        let fault = try #require(result.faults.first)
        #expect(result.faults.count == 1)
        #expect(fault.category == .invalidPath)
        #expect(fault.code == .usp(.invalidPath))
        #expect(fault.message == "Invalid path")
    }

    @Test("SetResp maps written parameters to done and per-parameter errors to their categories")
    func setResult() throws {
        let result = try ExpectedMessages.setResponse.operationResult()
        let outcomes = Dictionary(uniqueKeysWithValues: result.entries.map { ($0.path, $0.outcome) })
        #expect(outcomes["Device.WiFi.SSID.1.SSID"] == .done)
        #expect(outcomes["Device.WiFi.SSID.1.Enable"] == .fault(Fault(usp: .notWritable, message: "not writable")))
        #expect(outcomes["Device.DeviceInfo."] == .fault(Fault(usp: .requiredParameterFailed, message: "Required parameter failed")))
        #expect(outcomes["Device.DeviceInfo.ProvisioningCode"] == .fault(Fault(usp: .invalidValue, message: "Invalid value")))
        #expect(result.faults.map(\.category) == [.notWritable, .invalidValue, .invalidValue])
    }

    @Test("an Error message becomes the operation's fault; its param_errs become path faults")
    func errorResult() throws {
        #expect {
            try ExpectedMessages.error.operationResult()
        } throws: { error in
            guard let fault = error as? Fault else { return false }
            return fault.category == .invalidArguments && fault.code == .usp(.invalidArguments)
                && fault.message.contains("Device.WiFi.SSID.1.SSID") && fault.message.contains("Value too long")
        }
        let error = try #require(ExpectedMessages.error.error)
        #expect(error.pathResults.map(\.path) == ["Device.WiFi.SSID.1.SSID", "Device.WiFi.SSID.1.Status"])
        let categories = error.pathResults.compactMap { result -> FaultCategory? in
            if case .fault(let fault) = result.outcome { fault.category } else { nil }
        }
        #expect(categories == [.invalidValue, .notWritable])
    }

    @Test("AddResp gives the created instance, its keys and the failures")
    func addResult() throws {
        let result = try ExpectedMessages.addResponse.operationResult()
        #expect(result.createdObject == "Device.LocalAgent.Subscription.4.")
        #expect(result.value(at: "Device.LocalAgent.Subscription.4.ID") == .string("boot"))
        #expect(result.faults.map(\.category) == [.invalidPath, .objectFailure])
        #expect(result.faults.map(\.code) == [.usp(.unsupportedParameter), .usp(.notCreatable)])
    }

    @Test("DeleteResp and GetInstancesResp map paths and failures")
    func deleteAndInstances() throws {
        let deleted = try ExpectedMessages.deleteResponse.operationResult()
        #expect(deleted.entries.filter { $0.outcome == .done }.map(\.path) == ["Device.LocalAgent.Subscription.4.", "Device.NAT.PortMapping.2."])
        #expect(deleted.faults.map(\.category) == [.objectFailure, .invalidPath])
        let instances = try ExpectedMessages.getInstancesResponse.operationResult()
        #expect(instances.value(at: "Device.WiFi.SSID.2.Name") == .string("wl1"))
        #expect(instances.faults.map(\.code) == [.usp(.notATable)])
    }

    @Test("OperateResp merges output arguments, keeps the async Request path and maps command failures")
    func operateResult() throws {
        let result = try ExpectedMessages.operateResponse.operationResult()
        #expect(result.outputArguments == ["AverageResponseTime": "12", "SuccessCount": "3"])
        #expect(result.createdObject == "Device.LocalAgent.Request.7.")
        #expect(result.faults.map(\.category) == [.commandFailure])
    }

    @Test("GetSupportedDMResp reports writability per supported parameter")
    func supportedDMResult() throws {
        let result = try ExpectedMessages.getSupportedDMResponse.operationResult()
        let writable = Dictionary(uniqueKeysWithValues: result.entries.compactMap { entry in entry.writable.map { (entry.path, $0) } })
        #expect(writable["Device.WiFi.SSID.{i}.SSID"] == true)
        #expect(writable["Device.WiFi.SSID.{i}.LastChange"] == false)
        #expect(writable["Device.WiFi.Radio.{i}.Name"] == false)
        #expect(result.faults.map(\.code) == [.usp(.invalidPath)])
    }

    @Test("requests and NotifyResp are not operation results")
    func nonResults() {
        #expect(throws: Fault.self) { try ExpectedMessages.get.operationResult() }
        #expect(throws: Fault.self) { try ExpectedMessages.notifyResponse.operationResult() }
    }
}
