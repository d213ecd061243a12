import CLibXML2
import TandemCore

/// The Inform (TR-069 A.3.3.1) read straight from libxml2's SAX2 events, without a document tree.
///
/// Every session starts with an Inform, so it is the message an ACS decodes most. Building and
/// freeing libxml2's tree costs about as much as tokenising the XML; this reader skips the tree and
/// fills the envelope as the elements go by. It understands exactly the shape `EnvelopeReader` and
/// `BodyReader.readInform` accept and produces the same envelope, warnings included. Whatever it is
/// not sure of (another method, a DOCTYPE, an XML or namespace error, a decoding error, an entity or
/// an empty value in an attribute it reads, a text run past libxml2's text-node limit) makes it
/// decline: `read` returns nil and the caller decodes the message with the tree, which gives the
/// error or the result. Both readers share the hardening of `XMLParser` (no DTD, no
/// entity expansion, no network, the size and depth limits) and the scalar rules of `BodyReader`.
enum InformStreamReader {
    /// The envelope of an Inform, or nil when the tree must decide.
    static func read(_ buffer: UnsafeRawBufferPointer, encoding: String?, limits: XMLParser.Limits) -> CWMPEnvelope? {
        guard let base = buffer.baseAddress, buffer.count > 0, buffer.count <= limits.maximumBytes, buffer.count <= Int(Int32.max)
        else { return nil }
        XMLParser.prepareThread()
        guard let context = xmlNewParserCtxt() else { return nil }
        defer { xmlFreeParserCtxt(context) }
        guard let sax = context.pointee.sax else { return nil }

        let state = UnsafeMutablePointer<InformStream>.allocate(capacity: 1)
        state.initialize(to: InformStream(maximumDepth: limits.maximumDepth))
        defer {
            state.pointee.release()
            state.deinitialize(count: 1)
            state.deallocate()
        }
        // Only these callbacks: no startDocument, so libxml2 builds no document; no getEntity or
        // entity declarations, so only the five predefined entities and character references are
        // replaced (both arrive as characters); a structured error handler, so no parser error
        // reaches libxml2's stderr printer (and `XMLParser.prepareThread` silences the others).
        var handler = xmlSAXHandler()
        handler.initialized = XML_SAX2_MAGIC
        handler.startElementNs = { userData, localName, _, uri, _, _, attributeCount, _, attributes in
            guard let state = InformStream.from(userData), let localName else { return }
            if !state.pointee.start(localName, uri: uri, attributeCount: Int(attributeCount), attributes: attributes) {
                InformStream.stop(userData)
            }
        }
        handler.endElementNs = { userData, _, _, _ in
            guard let state = InformStream.from(userData) else { return }
            if !state.pointee.end() { InformStream.stop(userData) }
        }
        let characters: charactersSAXFunc = { userData, bytes, count in
            guard let state = InformStream.from(userData), let bytes, count > 0 else { return }
            if !state.pointee.characters(UnsafeBufferPointer(start: bytes, count: Int(count))) { InformStream.stop(userData) }
        }
        // Whitespace between elements goes to the same callback, as it goes into the tree's text.
        handler.characters = characters
        handler.ignorableWhitespace = characters
        handler.internalSubset = { userData, _, _, _ in
            InformStream.from(userData)?.pointee.declined = true
            InformStream.stop(userData)
        }
        handler.reference = { userData, _ in
            InformStream.from(userData)?.pointee.declined = true
            InformStream.stop(userData)
        }
        handler.serror = { _, _ in
            // The tree decodes the message again and reports the error; a warning alone (a relative
            // namespace URI) leaves the document well-formed, and wellFormed is checked below.
        }
        sax.pointee = handler
        context.pointee._private = UnsafeMutableRawPointer(state)
        let document: xmlDocPtr? = encoding.withOptionalCString { encodingName in
            base.withMemoryRebound(to: CChar.self, capacity: buffer.count) { bytes in
                xmlCtxtReadMemory(context, bytes, Int32(buffer.count), nil, encodingName, XMLParser.options)
            }
        }
        context.pointee._private = nil
        if let document { xmlFreeDoc(document) }
        // An element or attribute with an undeclared prefix is only a namespace error: the document
        // stays well-formed, and the tree names the node by its whole QName (`x:Inform`), which
        // matches nothing, while the callbacks pass the local name without a URI.
        guard context.pointee.wellFormed != 0, context.pointee.nsWellFormed != 0, document == nil else { return nil }
        return state.pointee.result()
    }
}

/// The reader's state, reached from the callbacks through the context's `_private` pointer.
private struct InformStream {
    /// What an open element is to the reader. Leaves collect their direct text.
    enum Role: UInt8 {
        /// Ignored with everything inside it, as the tree reader ignores unknown elements.
        case skip
        case envelope, header, body, inform, deviceID, events, event, parameters, parameter
        case headerField
        case manufacturer, oui, productClass, serialNumber
        case eventCode, commandKey
        case maxEnvelopes, currentTime, retryCount
        case parameterName, parameterValue

        var collectsText: Bool { rawValue >= Role.headerField.rawValue }
    }

    let maximumDepth: Int
    var roles: [Role] = []
    var declined = false
    var sawBody = false
    var sawRPC = false
    var sawInformEnd = false
    /// The direct text of the innermost open leaf.
    var text = TextBuffer(capacity: 256)
    /// Bytes of character data since the last element start or end. libxml2's tree refuses a text
    /// node above `XML_MAX_TEXT_LENGTH` (10,000,000 bytes after conversion to UTF-8, which a 4 MiB
    /// message in a one-byte charset can reach) and the document with it; the reader declines first.
    var textRun = 0

    var envelope = CWMPEnvelope(body: .unknownMethod(""))
    var headerNamespace: CWMPNamespace?
    /// The header element open now, if it is one CWMP defines (header elements do not nest).
    var headerField: CWMPHeaderField?
    var headerWarnings: [CWMPDecodeWarning] = []
    var reader = BodyReader(sender: .cpe, method: "Inform")

    var manufacturer = ""
    var oui = ""
    var productClass = ""
    var serialNumber = ""
    var deviceID: CWMPDeviceID?

    var eventList: [CWMPEvent] = []
    var eventsDeclared: Int?
    var eventCode = ""
    var commandKey = ""
    var events: [CWMPEvent] = []

    var maxEnvelopes: UInt32 = 1
    var currentTime = CWMPTime.unknown
    var retryCount: UInt32 = 0

    var parameterList: [CWMPParameterValue] = []
    var parametersDeclared: Int?
    var parameterName: String?
    var valueText: String?
    /// The `xsi:type` of the parameter's last Value; empty when it has none.
    var valueType = TextBuffer(capacity: 32)
    var parameters: [CWMPParameterValue] = []

    /// Frees the text buffers; the state is not used afterwards.
    func release() {
        text.free()
        valueType.free()
    }

    init(maximumDepth: Int) {
        self.maximumDepth = maximumDepth
        roles.reserveCapacity(min(maximumDepth, 16))
        eventList.reserveCapacity(4)
        parameterList.reserveCapacity(32)
    }

    static func from(_ userData: UnsafeMutableRawPointer?) -> UnsafeMutablePointer<InformStream>? {
        guard let context = userData?.assumingMemoryBound(to: xmlParserCtxt.self), let opaque = context.pointee._private else { return nil }
        return opaque.assumingMemoryBound(to: InformStream.self)
    }

    static func stop(_ userData: UnsafeMutableRawPointer?) {
        xmlStopParser(userData?.assumingMemoryBound(to: xmlParserCtxt.self))
    }

    // MARK: Events

    /// Opens an element; false declines the message.
    mutating func start(
        _ name: UnsafePointer<xmlChar>, uri: UnsafePointer<xmlChar>?, attributeCount: Int,
        attributes: UnsafeMutablePointer<UnsafePointer<xmlChar>?>?
    ) -> Bool {
        textRun = 0
        guard roles.count < maximumDepth else { return decline() }
        let role: Role
        switch roles.last {
        case nil:
            guard CString.equals(name, "Envelope"), let uri, CString.equals(uri, "http://schemas.xmlsoap.org/soap/envelope/") else {
                return decline()
            }
            role = .envelope
        case .envelope:
            if sawBody {
                role = .skip
            } else if CString.equals(name, "Header") {
                role = .header
            } else if CString.equals(name, "Body") {
                sawBody = true
                role = .body
            } else {
                role = .skip
            }
        case .header:
            headerField = CWMPHeaderField(localName: name)
            if headerField == nil {
                // TR-069 (2004) NoMoreRequests and unknown headers: ignored, as EnvelopeReader does.
                headerWarnings.append(.ignoredHeader(String(cString: name)))
                role = .skip
            } else {
                if headerNamespace == nil, let uri { headerNamespace = CWMPNamespace(uri: String(cString: uri)) }
                role = .headerField
            }
        case .body:
            if sawRPC {
                role = .skip
            } else {
                sawRPC = true
                guard CString.equals(name, "Inform") else { return decline() }
                if let uri {
                    guard let namespace = CWMPNamespace(uri: String(cString: uri)) else { return decline() }
                    envelope.namespace = namespace
                } else {
                    envelope.namespace = headerNamespace ?? .v1_0
                }
                role = .inform
            }
        case .inform:
            if CString.equals(name, "DeviceId") {
                (manufacturer, oui, productClass, serialNumber) = ("", "", "", "")
                role = .deviceID
            } else if CString.equals(name, "Event") {
                eventList.removeAll(keepingCapacity: true)
                guard Self.arrayCount(attributeCount, attributes, into: &eventsDeclared) else { return decline() }
                role = .events
            } else if CString.equals(name, "ParameterList") {
                parameterList.removeAll(keepingCapacity: true)
                guard Self.arrayCount(attributeCount, attributes, into: &parametersDeclared) else { return decline() }
                role = .parameters
            } else {
                role = Self.role(of: name, in: Self.informFields)
            }
        case .deviceID:
            role = Self.role(of: name, in: Self.deviceIDFields)
        case .events:
            (eventCode, commandKey) = ("", "")
            role = .event
        case .event:
            role = Self.role(of: name, in: Self.eventFields)
        case .parameters:
            parameterName = nil
            valueText = nil
            valueType.reset()
            role = .parameter
        case .parameter:
            if CString.equals(name, "Name") {
                role = .parameterName
            } else if CString.equals(name, "Value") {
                guard Self.xsiType(attributeCount, attributes, into: &valueType) else { return decline() }
                role = .parameterValue
            } else {
                role = .skip
            }
        case .skip?, .headerField?, .manufacturer?, .oui?, .productClass?, .serialNumber?, .eventCode?, .commandKey?, .maxEnvelopes?,
            .currentTime?, .retryCount?, .parameterName?, .parameterValue?:
            // Inside a leaf or an ignored element: the tree reader reads only a leaf's own text.
            role = .skip
        }
        if role.collectsText { text.reset() }
        roles.append(role)
        return true
    }

    /// Appends a leaf's text; false declines the message.
    mutating func characters(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        textRun += bytes.count
        guard textRun <= Self.maximumTextRun else { return decline() }
        guard let role = roles.last, role.collectsText else { return true }
        text.append(bytes)
        return true
    }

    static let maximumTextRun = 10_000_000

    /// Closes the innermost element; false declines the message.
    mutating func end() -> Bool {
        textRun = 0
        guard let role = roles.popLast() else { return decline() }
        switch role {
        case .skip, .envelope, .header, .body:
            break
        case .headerField:
            headerField?.apply(text: text.terminated(), to: &envelope)
        case .inform:
            sawInformEnd = true
        case .deviceID:
            do throws(IdentityError) {
                deviceID = try CWMPDeviceID(manufacturer: manufacturer, oui: oui, productClass: productClass, serialNumber: serialNumber)
            } catch {
                return decline()
            }
        case .manufacturer:
            manufacturer = trimmedText()
        case .oui:
            oui = trimmedText()
        case .productClass:
            productClass = trimmedText()
        case .serialNumber:
            serialNumber = trimmedText()
        case .events:
            reader.checkCount(element: "Event", declared: eventsDeclared, actual: eventList.count)
            events = eventList
        case .event:
            guard !eventCode.isEmpty else { return decline() }
            eventList.append(CWMPEvent(code: CWMPEventCode(eventCode), commandKey: commandKey))
        case .eventCode:
            eventCode = trimmedText()
        case .commandKey:
            commandKey = rawText()
        case .maxEnvelopes:
            maxEnvelopes = XMLScalars.integer(text.terminated()).flatMap(UInt32.init(exactly:)) ?? 1
        case .currentTime:
            currentTime = reader.time(trimmedText: trimmedText(), field: "CurrentTime")
        case .retryCount:
            retryCount = XMLScalars.integer(text.terminated()).flatMap(UInt32.init(exactly:)) ?? 0
        case .parameters:
            reader.checkCount(element: "ParameterList", declared: parametersDeclared, actual: parameterList.count)
            parameters = reader.deduplicated(parameterList)
        case .parameter:
            guard let name = parameterName else { return decline() }
            let value: TypedValue
            if let valueText {
                let declared = valueType.count == 0 ? nil : valueType.terminated()
                value = reader.typedValue(text: valueText, declaredType: declared, parameter: name)
            } else {
                value = .string("")
            }
            parameterList.append(CWMPParameterValue(name: name, value: value))
        case .parameterName:
            parameterName = trimmedText()
        case .parameterValue:
            valueText = rawText()
        }
        return true
    }

    /// The decoded envelope, or nil when the document was not a complete Inform.
    func result() -> CWMPEnvelope? {
        guard !declined, sawInformEnd, let deviceID else { return nil }
        var envelope = envelope
        envelope.body = .cpeRequest(
            .inform(
                CPERequest.Inform(
                    deviceID: deviceID, events: events, maxEnvelopes: maxEnvelopes, currentTime: currentTime, retryCount: retryCount,
                    parameters: parameters)))
        envelope.warnings = headerWarnings + reader.warnings
        return envelope
    }

    // MARK: Helpers

    private mutating func decline() -> Bool {
        declined = true
        return false
    }

    /// The leaves of each structure, by local name in any namespace; anything else is skipped.
    private static let informFields: [(StaticString, Role)] = [
        ("MaxEnvelopes", .maxEnvelopes), ("CurrentTime", .currentTime), ("RetryCount", .retryCount),
    ]
    private static let deviceIDFields: [(StaticString, Role)] = [
        ("Manufacturer", .manufacturer), ("OUI", .oui), ("ProductClass", .productClass), ("SerialNumber", .serialNumber),
    ]
    private static let eventFields: [(StaticString, Role)] = [("EventCode", .eventCode), ("CommandKey", .commandKey)]

    private static func role(of name: UnsafePointer<xmlChar>, in fields: [(StaticString, Role)]) -> Role {
        for (literal, role) in fields where CString.equals(name, literal) { return role }
        return .skip
    }

    /// Text exactly as written.
    private func rawText() -> String { String(decoding: text.bytes, as: UTF8.self) }

    /// Text without surrounding XML whitespace.
    private func trimmedText() -> String { CString.trimmedString(text.terminated()) }

    /// SAX2 passes attributes as five pointers each: local name, prefix, namespace URI, value start,
    /// value end. The value is not NUL-terminated.
    private static func attribute(
        _ count: Int, _ attributes: UnsafeMutablePointer<UnsafePointer<xmlChar>?>?,
        where matches: (UnsafePointer<xmlChar>, UnsafePointer<xmlChar>?) -> Bool
    ) -> UnsafeBufferPointer<UInt8>? {
        guard let attributes else { return nil }
        for index in 0..<count {
            let fields = attributes + 5 * index
            guard let name = fields[0], matches(name, fields[2]), let start = fields[3], let end = fields[4] else { continue }
            return UnsafeBufferPointer(start: start, count: end - start)
        }
        return nil
    }

    /// A value the tree would see differently (empty: no text node; `&`: an entity libxml2 hands
    /// over unexpanded) declines the message.
    private static func isPlain(_ value: UnsafeBufferPointer<UInt8>) -> Bool {
        !value.isEmpty && !value.contains(UInt8(ascii: "&"))
    }

    /// `soapenc:arrayType` in any namespace or none (`XMLElement.arrayType`); false declines.
    private static func arrayCount(
        _ count: Int, _ attributes: UnsafeMutablePointer<UnsafePointer<xmlChar>?>?, into declared: inout Int?
    ) -> Bool {
        declared = nil
        guard let value = attribute(count, attributes, where: { name, _ in CString.equals(name, "arrayType") }) else { return true }
        guard isPlain(value) else { return false }
        var terminated = Array(value)
        terminated.append(0)
        declared = terminated.withUnsafeBufferPointer { XMLScalars.arrayCount($0.baseAddress!) }
        return true
    }

    /// `xsi:type` with any XML Schema instance namespace (`XMLElement.xsiType`); false declines.
    private static func xsiType(
        _ count: Int, _ attributes: UnsafeMutablePointer<UnsafePointer<xmlChar>?>?, into type: inout TextBuffer
    ) -> Bool {
        type.reset()
        let found = attribute(count, attributes) { name, uri in
            guard let uri else { return false }
            return CString.equals(name, "type") && XMLElement.isSchemaInstance(uri)
        }
        guard let value = found else { return true }
        guard isPlain(value) else { return false }
        type.append(value)
        return true
    }
}

/// A growable byte buffer that the reader reuses for every leaf's text, with room for a NUL after
/// the bytes. Freed by its owner (`release`), never copied.
private struct TextBuffer {
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    func free() { base.deallocate() }

    mutating func reset() { count = 0 }

    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        if count + bytes.count >= capacity {
            capacity = max(capacity * 2, count + bytes.count + 1)
            let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
            grown.initialize(from: base, count: count)
            base.deallocate()
            base = grown
        }
        (base + count).initialize(from: source, count: bytes.count)
        count += bytes.count
    }

    var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: count) }

    /// The bytes followed by a NUL, as `XMLScalars` reads them; valid until the next change.
    func terminated() -> UnsafePointer<UInt8> {
        base[count] = 0
        return UnsafePointer(base)
    }
}
