import Testing
import TandemCore

@Suite struct PathExpressionTests {
    @Test(arguments: [
        "Device.", "Device.DeviceInfo.", "Device.DeviceInfo.SoftwareVersion", "InternetGatewayDevice.LANDevice.1.WLANConfiguration.2.SSID",
        "Device.WiFi.SSID.1.", "Device.IP.Interface.*.Status", "Device.IP.Interface.[Name==\"eth0\"].IPv4Address.[Status==\"Enabled\"].IPAddress",
        "Device.WiFi.AccessPoint.[SSIDReference+.SSID==\"MyHome\"].Enable", "Device.NAT.PortMapping.1.Interface+.Name",
        "Device.DNS.Client.Server.1.Interface#2+.Name", "Device.Bridging.Bridge.1.Port.1.LowerLayers#*+.Name",
        "Device.IP.Interface.[Stats.ErrorsSent>0&&Enable==true].", "Device.Reboot()", "Device.IP.Interface.[Name==\"eth0\"].Reset()",
        "Device.Boot!", "Device.X_ACME-COM_Thing.Value", "Device.Hosts.Host.[PhysAddress~=\"aa\"].", "Device.A.[X<=-3&&Y>=1.5&&Z!=2].",
        "Device.A.[S==\"a%22b%25c\"].",
    ])
    func roundTripsCanonicalText(_ text: String) throws {
        let path = try PathExpression(text)
        #expect(path.description == text)
        #expect(try PathExpression(path.description) == path)
    }

    @Test func classifiesKinds() throws {
        #expect(try PathExpression("Device.DeviceInfo.").kind == .object)
        #expect(try PathExpression("Device.DeviceInfo.Manufacturer").kind == .parameter)
        #expect(try PathExpression("Device.Reboot()").kind == .command)
        #expect(try PathExpression("Device.Boot!").kind == .event)
    }

    @Test func exposesSegments() throws {
        let path = try PathExpression("Device.IP.Interface.[Name==\"eth0\"&&Enable==true].IPv4Address.3.IPAddress")
        #expect(path.root == "Device")
        #expect(path.leafName == "IPAddress")
        #expect(!path.isConcrete)
        #expect(path.isSearch)
        guard case .search(let conditions) = path.segments[3] else {
            Issue.record("expected a search segment")
            return
        }
        #expect(conditions.count == 2)
        #expect(conditions[0].path == [.name("Name")])
        #expect(conditions[0].op == .equal)
        #expect(conditions[0].value == .string("eth0"))
        #expect(conditions[0].isKeyEquality)
        #expect(conditions[1].value == .bare("true"))
        #expect(path.segments[5] == .instance(3))
    }

    @Test func decodesPercentEscapesInSearchStrings() throws {
        let path = try PathExpression("Device.A.[S==\"say %22hi%22 100%25\"].")
        guard case .search(let conditions) = path.segments[2] else {
            Issue.record("expected a search segment")
            return
        }
        #expect(conditions[0].value == .string("say \"hi\" 100%"))
    }

    @Test func toleratesWhitespaceAroundOperators() throws {
        let path = try PathExpression("Device.A.[ Name == \"x\" && Enable == true ].B")
        #expect(path.description == "Device.A.[Name==\"x\"&&Enable==true].B")
    }

    @Test func referenceSegments() throws {
        let path = try PathExpression("Device.A.1.Ref#3+.B#*+.Name")
        #expect(path.segments[3] == .reference("Ref", index: .position(3)))
        #expect(path.segments[4] == .reference("B", index: .all))
        #expect(try PathExpression("Device.A.Ref+.X").segments[2] == .reference("Ref", index: nil))
    }

    @Test func concretePathsAndContainment() throws {
        let object = try PathExpression("Device.WiFi.SSID.1.")
        let parameter = try PathExpression("Device.WiFi.SSID.1.SSID")
        #expect(object.isConcrete && parameter.isConcrete)
        #expect(object.contains(parameter))
        #expect(try !PathExpression("Device.WiFi.SSID.2.").contains(parameter))
        #expect(parameter.parent == object)
        #expect(object.appending("SSID") == parameter)
    }

    @Test(arguments: [
        ("", 1, "empty path"),
        (".Device", 1, "empty path segment"),
        ("Device..X", 8, "empty path segment"),
        ("1.Device", 1, "starts with a root object name"),
        ("*.X", 1, "starts with a root object name"),
        ("Device.0.X", 8, "instance numbers start at 1"),
        ("Device.01.X", 8, "leading zero"),
        ("Device.A.99999999999.X", 10, "too large"),
        ("Device.1abc", 8, "cannot start with a digit"),
        ("Device.A.[]", 10, "empty search expression"),
        ("Device.A.[Name==\"x\"", 20, "not closed with ']'"),
        ("Device.A.[Name=\"x\"]", 15, "use '=='"),
        ("Device.A.[Name==\"x\"||B==1]", 20, "no OR"),
        ("Device.A.[Name==\"x].", 17, "not closed with '\"'"),
        ("Device.A.[Name>\"x\"].", 15, "strings compare only"),
        ("Device.A.[Enable<true].", 17, "booleans compare only"),
        ("Device.A.[N>abc].", 13, "needs a number"),
        ("Device.A.[1.X==1].", 11, "may not descend into a table"),
        ("Device.A.[X==1&B==2].", 15, "expected '&&' or ']'"),
        ("Device.A.[X==\"%2\"].", 15, "%HH escape"),
        ("Device.A.[X==].", 14, "expected a value"),
        ("Device.A.[X].", 12, "expected an operator"),
        ("Device.Reboot(", 15, "expected ')'"),
        ("Device.Reboot().X", 16, "nothing may follow"),
        ("Device.Boot!x", 13, "nothing may follow"),
        ("Device.A.{i}.", 10, "'{i}' placeholders"),
        ("Device.A#x+", 10, "list position"),
        ("Device.A#2", 11, "expected '+'"),
        ("Device.A/B", 9, "unexpected '/'"),
        ("Device.Ä", 8, "expected a name"),
        ("Device.*()", 9, "only a name can be a command"),
    ])
    func reportsTheColumnOfAnError(text: String, column: Int, message: String) {
        #expect {
            try PathExpression(text)
        } throws: { error in
            guard let error = error as? PathParseError else { return false }
            return error.column == column && error.message.contains(message) && error.input == text
        }
    }

    @Test func columnCountsCharactersNotBytes() {
        #expect {
            try PathExpression("Device.A.[S==\"é\"]&")
        } throws: { error in
            (error as? PathParseError)?.column == 18
        }
    }

    @Test func refusesOverlongPaths() {
        let long = "Device." + String(repeating: "A.", count: 3000)
        #expect(throws: PathParseError.self) { try PathExpression(long) }
    }

    @Test func survivesArbitraryBytes() {
        // Every prefix of a tricky path either parses or fails with a column inside or just past it.
        let text = "Device.IP.Interface.[Name==\"e%22th0\"&&Stats.ErrorsSent>=0].Ref#*+.Reset()"
        for end in text.indices {
            let prefix = String(text[..<end])
            do {
                _ = try PathExpression(prefix)
            } catch {
                #expect(error.column >= 1 && error.column <= prefix.count + 1)
            }
        }
    }
}

@Suite struct PathMatchingTests {
    static let tree: [String: TypedValue] = [
        "Device.WiFi.SSID.1.SSID": .string("home"), "Device.WiFi.SSID.1.Enable": .boolean(true), "Device.WiFi.SSID.1.Stats.ErrorsSent": .unsignedInt(3),
        "Device.WiFi.SSID.2.SSID": .string("guest"), "Device.WiFi.SSID.2.Enable": .boolean(false), "Device.WiFi.SSID.2.Stats.ErrorsSent": .unsignedInt(12),
        "Device.WiFi.SSID.10.SSID": .string("guest-5g"), "Device.WiFi.SSID.10.Enable": .boolean(true), "Device.WiFi.SSID.10.Stats.ErrorsSent": .unsignedInt(0),
        "Device.DeviceInfo.SoftwareVersion": .string("1.0"),
    ]

    func expand(_ text: String, missing: PathExpression.MissingValuePolicy = .unknown, in tree: [String: TypedValue] = tree) throws -> [String] {
        try PathExpression(text).expand(over: tree.keys, missingValues: missing) { tree[$0] }
    }

    @Test func wildcardsSelectEveryInstanceInTreeOrder() throws {
        #expect(try expand("Device.WiFi.SSID.*.SSID") == ["Device.WiFi.SSID.1.SSID", "Device.WiFi.SSID.2.SSID", "Device.WiFi.SSID.10.SSID"])
        #expect(try expand("Device.WiFi.SSID.*.") == ["Device.WiFi.SSID.1.", "Device.WiFi.SSID.2.", "Device.WiFi.SSID.10."])
        #expect(try expand("Device.WiFi.SSID.*.Stats.") == ["Device.WiFi.SSID.1.Stats.", "Device.WiFi.SSID.2.Stats.", "Device.WiFi.SSID.10.Stats."])
        #expect(try expand("Device.WiFi.SSID.*.Missing").isEmpty)
        #expect(try expand("Device.Hosts.Host.*.IPAddress").isEmpty)
    }

    @Test func searchesFilterOnValues() throws {
        #expect(try expand("Device.WiFi.SSID.[Enable==true].SSID") == ["Device.WiFi.SSID.1.SSID", "Device.WiFi.SSID.10.SSID"])
        #expect(try expand("Device.WiFi.SSID.[Enable==false].") == ["Device.WiFi.SSID.2."])
        #expect(try expand(#"Device.WiFi.SSID.[SSID=="guest"].Enable"#) == ["Device.WiFi.SSID.2.Enable"])
        #expect(try expand(#"Device.WiFi.SSID.[SSID~="guest"].SSID"#) == ["Device.WiFi.SSID.2.SSID", "Device.WiFi.SSID.10.SSID"])
        #expect(try expand("Device.WiFi.SSID.[Stats.ErrorsSent>2].") == ["Device.WiFi.SSID.1.", "Device.WiFi.SSID.2."])
        #expect(try expand("Device.WiFi.SSID.[Stats.ErrorsSent>2&&Enable==true].") == ["Device.WiFi.SSID.1."])
        #expect(try expand("Device.WiFi.SSID.[Stats.ErrorsSent<=3].SSID") == ["Device.WiFi.SSID.1.SSID", "Device.WiFi.SSID.10.SSID"])
        #expect(try expand(#"Device.WiFi.SSID.[SSID=="nothing"].SSID"#).isEmpty)
    }

    @Test func missingValuesAskForARefreshOrDoNotMatch() throws {
        #expect {
            try expand(#"Device.WiFi.SSID.[Status=="Up"].SSID"#)
        } throws: { error in
            guard case .unknownValue(let path)? = error as? PathExpression.ExpansionError else { return false }
            return path.hasPrefix("Device.WiFi.SSID.") && path.hasSuffix(".Status")
        }
        #expect(try expand(#"Device.WiFi.SSID.[Status=="Up"].SSID"#, missing: .noMatch).isEmpty)
        #expect(throws: PathExpression.ExpansionError.self) { try expand("Device.WiFi.AccessPoint.[SSIDReference+.SSID==\"home\"].Enable") }
    }

    @Test func concretePathsMatchThemselvesAndPrefixesAreConcrete() throws {
        #expect(try expand("Device.WiFi.SSID.2.SSID") == ["Device.WiFi.SSID.2.SSID"])
        #expect(try PathExpression("Device.WiFi.SSID.*.SSID").concretePrefix.description == "Device.WiFi.SSID.")
        #expect(try PathExpression("Device.IP.Interface.[Name==\"lan\"].IPv4Address.*.").concretePrefix.description == "Device.IP.Interface.")
        #expect(try PathExpression("Device.DeviceInfo.SoftwareVersion").concretePrefix.description == "Device.DeviceInfo.")
        #expect(try PathExpression("Device.DeviceInfo.").concretePrefix.description == "Device.DeviceInfo.")
    }

    @Test func conditionsCompareByType() throws {
        let p = try PathExpression("Device.X.[A>=10&&B==1&&C!=\"x\"].")
        guard case .search(let conditions) = p.segments[2] else {
            Issue.record("expected a search")
            return
        }
        #expect(conditions[0].holds(for: .unsignedInt(10)))
        #expect(!conditions[0].holds(for: .unsignedInt(9)))
        #expect(conditions[1].holds(for: .boolean(true)))
        #expect(conditions[2].holds(for: .string("y")))
        #expect(!conditions[2].holds(for: .string("x")))
    }
}
