import CLibXML2
import TandemCore

/// Decodes the RPC element of a body. Argument elements are unqualified in the schemas
/// (`elementFormDefault="unqualified"`) and are matched by local name in any namespace and any
/// order.
struct BodyReader {
    let sender: CWMPDecoder.Sender
    let method: String
    var warnings: [CWMPDecodeWarning] = []

    init(sender: CWMPDecoder.Sender, method: String) {
        self.sender = sender
        self.method = method
    }

    // MARK: Errors

    func missing(_ name: String, in parent: XMLElement) -> CWMPDecodingError {
        CWMPDecodingError(.missingElement, "<\(parent.name)> has no <\(name)>", line: parent.line)
    }

    func invalid(_ element: XMLElement, _ expected: String) -> CWMPDecodingError {
        CWMPDecodingError(.invalidValue, "<\(element.name)> \"\(element.trimmedText)\" is not \(expected)", line: element.line)
    }

    // MARK: Scalars

    /// Text exactly as written: keys, passwords, messages, values.
    func raw(_ element: XMLElement) -> String { element.text }

    /// Text without surrounding whitespace: names, URLs, types, versions.
    func trimmed(_ element: XMLElement) -> String { element.trimmedText }

    func integer<T: FixedWidthInteger>(_ element: XMLElement, as _: T.Type = T.self) throws(CWMPDecodingError) -> T {
        guard let value = element.withText(XMLScalars.integer), let exact = T(exactly: value) else {
            throw invalid(element, T.isSigned ? "an integer in \(T.min)...\(T.max)" : "an unsigned integer up to \(T.max)")
        }
        return exact
    }

    func boolean(_ element: XMLElement) throws(CWMPDecodingError) -> Bool {
        guard let value = element.withText(XMLScalars.boolean) else { throw invalid(element, "a boolean (true, false, 1 or 0)") }
        return value
    }

    func faultCode(_ element: XMLElement) throws(CWMPDecodingError) -> CWMPFaultCode {
        CWMPFaultCode(try integer(element, as: Int.self))
    }

    /// A dateTime field; malformed text is kept with a warning, never an error.
    mutating func time(_ element: XMLElement) -> CWMPTime {
        time(trimmedText: element.trimmedText, field: element.name)
    }

    mutating func time(trimmedText: String, field: String) -> CWMPTime {
        let time = CWMPTime(text: trimmedText)
        if time.value == nil { warnings.append(.malformedDateTime(field: field, text: time.text)) }
        return time
    }

    // MARK: Arrays

    /// Compares a declared `soapenc:arrayType` count with the actual one; a mismatch is a warning
    /// only (protocol digest A.2: ignore on input).
    mutating func checkCount(_ array: XMLElement, actual: Int) {
        checkCount(element: array.name, declared: array.arrayType.flatMap(XMLScalars.arrayCount), actual: actual)
    }

    mutating func checkCount(element: String, declared: Int?, actual: Int) {
        guard let declared, declared != actual else { return }
        warnings.append(.arrayCountMismatch(element: element, declared: declared, actual: actual))
    }

    /// An array of strings (`ParameterNames`, `MethodList`, `AccessList`).
    mutating func strings(_ array: XMLElement) -> [String] {
        var out: [String] = []
        out.reserveCapacity(array.childCount)
        for item in array.children { out.append(item.trimmedText) }
        checkCount(array, actual: out.count)
        return out
    }

    /// Applies each item of an array element with `body`, checking the declared count.
    mutating func items<T>(_ array: XMLElement, _ body: (inout BodyReader, XMLElement) throws(CWMPDecodingError) -> T) throws(CWMPDecodingError) -> [T] {
        var out: [T] = []
        out.reserveCapacity(array.childCount)
        for item in array.children { out.append(try body(&self, item)) }
        checkCount(array, actual: out.count)
        return out
    }

    /// A `ParameterValueList`. Values without `xsi:type` are strings; values whose text does not
    /// parse as the declared type are kept as strings with a warning; a repeated name keeps its
    /// last value at the position of its first occurrence.
    mutating func parameterValues(_ array: XMLElement) throws(CWMPDecodingError) -> [CWMPParameterValue] {
        var list: [CWMPParameterValue] = []
        list.reserveCapacity(array.childCount)
        for item in array.children {
            var name: String?
            var valueElement: XMLElement?
            for field in item.children {
                if field.isNamed("Name") {
                    name = field.trimmedText
                } else if field.isNamed("Value") {
                    valueElement = field
                }
            }
            guard let name else { throw missing("Name", in: item) }
            let value = valueElement.map { typedValue($0, parameter: name) } ?? .string("")
            list.append(CWMPParameterValue(name: name, value: value))
        }
        checkCount(array, actual: list.count)
        return deduplicated(list)
    }

    private mutating func typedValue(_ element: XMLElement, parameter: String) -> TypedValue {
        typedValue(text: element.text, declaredType: element.xsiType, parameter: parameter)
    }

    /// `text` as the type `declaredType` (an `xsi:type` value) names; a string when there is none.
    mutating func typedValue(text: String, declaredType declared: UnsafePointer<xmlChar>?, parameter: String) -> TypedValue {
        guard let declared else { return .string(text) }
        guard let type = XMLScalars.valueType(declared) else {
            warnings.append(.valueKeptAsString(parameter: parameter, declaredType: String(cString: declared)))
            return .string(text)
        }
        if type == .string { return .string(text) }
        do {
            return try TypedValue(parsing: text, as: type)
        } catch {
            warnings.append(.valueKeptAsString(parameter: parameter, declaredType: String(cString: declared)))
            return .string(text)
        }
    }

    /// Last value wins; a duplicate is reported once per name.
    mutating func deduplicated(_ list: [CWMPParameterValue]) -> [CWMPParameterValue] {
        guard list.count > 1 else { return list }
        if list.count <= 32 {
            var hasDuplicate = false
            outer: for index in 1..<list.count {
                // Lengths first: UTF-8 counts are stored, and most names differ in length.
                let name = list[index].name
                for earlier in 0..<index where list[earlier].name.utf8.count == name.utf8.count && list[earlier].name == name {
                    hasDuplicate = true
                    break outer
                }
            }
            guard hasDuplicate else { return list }
        }
        var positions: [String: Int] = [:]
        positions.reserveCapacity(list.count)
        var out: [CWMPParameterValue] = []
        out.reserveCapacity(list.count)
        var reported: Set<String> = []
        for entry in list {
            if let position = positions[entry.name] {
                out[position].value = entry.value
                if reported.insert(entry.name).inserted { warnings.append(.duplicateParameter(entry.name)) }
            } else {
                positions[entry.name] = out.count
                out.append(entry)
            }
        }
        return out
    }

    // MARK: Dispatch

    mutating func readRPC(_ rpc: XMLElement) throws(CWMPDecodingError) -> CWMPBody {
        switch sender {
        case .cpe:
            if let request = try readCPERequest(rpc) { return .cpeRequest(request) }
            if let response = try readCPEResponse(rpc) { return .cpeResponse(response) }
        case .acs:
            if let request = try readACSRequest(rpc) { return .acsRequest(request) }
            if let response = try readACSResponse(rpc) { return .acsResponse(response) }
        }
        return .unknownMethod(rpc.name)
    }

    // MARK: SOAP Fault (TR-069 A.5; cwmp-1-2.xsd Fault)

    mutating func readSOAPFault(_ element: XMLElement, namespace: inout CWMPNamespace) throws(CWMPDecodingError) -> CWMPFault {
        var soapCode = ""
        var soapString = ""
        var detailFault: XMLElement?
        for child in element.children {
            if child.isNamed("faultcode") {
                soapCode = child.withText(CString.localPart)
            } else if child.isNamed("faultstring") {
                soapString = child.trimmedText
            } else if child.isNamed("detail") {
                detailFault = child.child("Fault")
            }
        }
        guard let detailFault else {
            // A bare SOAP fault (a SOAP stack refusing the envelope): keep its text, classify it as
            // the responder's internal error.
            warnings.append(.faultWithoutDetail)
            let code: CWMPFaultCode = sender == .cpe ? .internalError : .acsInternalError
            return CWMPFault(
                code: code, message: soapString.isEmpty ? code.name : soapString,
                soapFaultCode: soapCode.isEmpty ? "Server" : soapCode, soapFaultString: soapString)
        }
        if let uri = detailFault.namespaceURI, let cwmp = CWMPNamespace(uri: uri) { namespace = cwmp }
        var code: CWMPFaultCode?
        var message = ""
        var parameterFaults: [CWMPFault.ParameterFault] = []
        for child in detailFault.children {
            if child.isNamed("FaultCode") {
                code = try faultCode(child)
            } else if child.isNamed("FaultString") {
                message = raw(child)
            } else if child.isNamed("SetParameterValuesFault") {
                var name: String?
                var entryCode: CWMPFaultCode?
                var entryMessage = ""
                for field in child.children {
                    if field.isNamed("ParameterName") {
                        name = field.trimmedText
                    } else if field.isNamed("FaultCode") {
                        entryCode = try faultCode(field)
                    } else if field.isNamed("FaultString") {
                        entryMessage = raw(field)
                    }
                }
                guard let name else { throw missing("ParameterName", in: child) }
                guard let entryCode else { throw missing("FaultCode", in: child) }
                parameterFaults.append(CWMPFault.ParameterFault(parameterName: name, code: entryCode, message: entryMessage))
            }
        }
        guard let code else { throw missing("FaultCode", in: detailFault) }
        return CWMPFault(
            code: code, message: message, parameterFaults: parameterFaults, soapFaultCode: soapCode.isEmpty ? nil : soapCode,
            soapFaultString: soapString)
    }
}
