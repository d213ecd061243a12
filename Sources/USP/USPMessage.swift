import TandemCore

/// A USP Message (TR-369 "Messages", `usp-msg-1-4.proto`): a header with the `msg_id` and a body
/// that is a request, a response or an Error.
///
/// `msg_type` is not stored: TR-369 makes it informational and lets the body win when they differ
/// (R-MSG.10), so ``type`` is derived from the body and encoding always writes a consistent header.
public struct USPMessage: Hashable, Sendable {
    /// `Header.msg_id`: unique among the sender's outstanding requests; a response or Error
    /// repeats the request's (R-MSG.9).
    public var id: String
    public var body: Body

    /// `Body.msg_body`.
    public enum Body: Hashable, Sendable {
        case request(Request)
        case response(Response)
        case error(USPErrorMessage)
    }

    /// `Request.req_type`. The Controller sends Get through GetSupportedProtocol; Agents send
    /// Notify, and USP Services send Register and Deregister to a Broker.
    public enum Request: Hashable, Sendable {
        case get(USPGet)
        case getSupportedDM(USPGetSupportedDM)
        case getInstances(USPGetInstances)
        case set(USPSet)
        case add(USPAdd)
        case delete(USPDelete)
        case operate(USPOperate)
        case notify(USPNotify)
        case getSupportedProtocol(USPGetSupportedProtocol)
        case register(USPRegister)
        case deregister(USPDeregister)
    }

    /// `Response.resp_type`.
    public enum Response: Hashable, Sendable {
        case getResponse(USPGetResponse)
        case getSupportedDMResponse(USPGetSupportedDMResponse)
        case getInstancesResponse(USPGetInstancesResponse)
        case setResponse(USPSetResponse)
        case addResponse(USPAddResponse)
        case deleteResponse(USPDeleteResponse)
        case operateResponse(USPOperateResponse)
        case notifyResponse(USPNotifyResponse)
        case getSupportedProtocolResponse(USPGetSupportedProtocolResponse)
        case registerResponse(USPRegisterResponse)
        case deregisterResponse(USPDeregisterResponse)
    }

    /// `Header.MsgType`, with the schema's numbers.
    public enum MessageType: Int, Hashable, Sendable, CaseIterable, CustomStringConvertible {
        case error = 0
        case get = 1
        case getResponse = 2
        case notify = 3
        case set = 4
        case setResponse = 5
        case operate = 6
        case operateResponse = 7
        case add = 8
        case addResponse = 9
        case delete = 10
        case deleteResponse = 11
        case getSupportedDM = 12
        case getSupportedDMResponse = 13
        case getInstances = 14
        case getInstancesResponse = 15
        case notifyResponse = 16
        case getSupportedProtocol = 17
        case getSupportedProtocolResponse = 18
        case register = 19
        case registerResponse = 20
        case deregister = 21
        case deregisterResponse = 22

        /// The schema's enumeration name (`GET_SUPPORTED_DM_RESP`).
        public var description: String {
            switch self {
            case .error: "ERROR"
            case .get: "GET"
            case .getResponse: "GET_RESP"
            case .notify: "NOTIFY"
            case .set: "SET"
            case .setResponse: "SET_RESP"
            case .operate: "OPERATE"
            case .operateResponse: "OPERATE_RESP"
            case .add: "ADD"
            case .addResponse: "ADD_RESP"
            case .delete: "DELETE"
            case .deleteResponse: "DELETE_RESP"
            case .getSupportedDM: "GET_SUPPORTED_DM"
            case .getSupportedDMResponse: "GET_SUPPORTED_DM_RESP"
            case .getInstances: "GET_INSTANCES"
            case .getInstancesResponse: "GET_INSTANCES_RESP"
            case .notifyResponse: "NOTIFY_RESP"
            case .getSupportedProtocol: "GET_SUPPORTED_PROTO"
            case .getSupportedProtocolResponse: "GET_SUPPORTED_PROTO_RESP"
            case .register: "REGISTER"
            case .registerResponse: "REGISTER_RESP"
            case .deregister: "DEREGISTER"
            case .deregisterResponse: "DEREGISTER_RESP"
            }
        }

        /// The response type that answers this request type; nil for responses, Error and Notify
        /// with `send_resp` false.
        public var responseType: MessageType? {
            switch self {
            case .get: .getResponse
            case .set: .setResponse
            case .operate: .operateResponse
            case .add: .addResponse
            case .delete: .deleteResponse
            case .getSupportedDM: .getSupportedDMResponse
            case .getInstances: .getInstancesResponse
            case .notify: .notifyResponse
            case .getSupportedProtocol: .getSupportedProtocolResponse
            case .register: .registerResponse
            case .deregister: .deregisterResponse
            default: nil
            }
        }
    }

    public init(id: String, body: Body) {
        self.id = id
        self.body = body
    }

    public init(id: String, request: Request) {
        self.init(id: id, body: .request(request))
    }

    public init(id: String, response: Response) {
        self.init(id: id, body: .response(response))
    }

    public init(id: String, error: USPErrorMessage) {
        self.init(id: id, body: .error(error))
    }

    /// The `msg_type` that matches the body.
    public var type: MessageType {
        switch body {
        case .error: .error
        case .request(let request): request.type
        case .response(let response): response.type
        }
    }

    /// Whether this is the response or Error that answers `request`: same `msg_id` (R-MSG.9) and,
    /// for a response, the matching type.
    public func answers(_ request: USPMessage) -> Bool {
        guard id == request.id, case .request = request.body else { return false }
        switch body {
        case .error: return true
        case .response: return request.type.responseType == type
        case .request: return false
        }
    }
}

extension USPMessage.Request {
    public var type: USPMessage.MessageType {
        switch self {
        case .get: .get
        case .getSupportedDM: .getSupportedDM
        case .getInstances: .getInstances
        case .set: .set
        case .add: .add
        case .delete: .delete
        case .operate: .operate
        case .notify: .notify
        case .getSupportedProtocol: .getSupportedProtocol
        case .register: .register
        case .deregister: .deregister
        }
    }
}

extension USPMessage.Response {
    public var type: USPMessage.MessageType {
        switch self {
        case .getResponse: .getResponse
        case .getSupportedDMResponse: .getSupportedDMResponse
        case .getInstancesResponse: .getInstancesResponse
        case .setResponse: .setResponse
        case .addResponse: .addResponse
        case .deleteResponse: .deleteResponse
        case .operateResponse: .operateResponse
        case .notifyResponse: .notifyResponse
        case .getSupportedProtocolResponse: .getSupportedProtocolResponse
        case .registerResponse: .registerResponse
        case .deregisterResponse: .deregisterResponse
        }
    }
}
