import CWMP
import Simulator
import TandemCore
import Testing

/// Runs a fake ACS and a fleet (one device unless configured otherwise) against it, calls `body`,
/// then cancels both. Devices authenticate as `{serial}` / `pw-{serial}`, which the fake ACS
/// accepts; connection requests need `{serial}` / `cr-{serial}`.
func withSimulation(
    acs: FakeACS = FakeACS(),
    configure: (inout SimulatedFleet.Configuration) -> Void = { _ in },
    _ body: (FakeACS, SimulatedFleet) async throws -> Void
) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await acs.run() }
        let base = await acs.baseURL()
        var configuration = SimulatedFleet.Configuration(
            count: 1, serialPrefix: "SIM", acsURL: base + "/acs", usernameTemplate: "{serial}", passwordTemplate: "pw-{serial}",
            connectionRequestUsernameTemplate: "{serial}", connectionRequestPasswordTemplate: "cr-{serial}", periodicInformEnable: false,
            device: .init(retryMinimumWait: .milliseconds(50), retryMaximumWait: .seconds(2), rebootDuration: .milliseconds(50), httpTimeout: .seconds(10)))
        configure(&configuration)
        let fleet = try SimulatedFleet(configuration: configuration)
        group.addTask { try await fleet.run() }
        do {
            try await body(acs, fleet)
        } catch {
            group.cancelAll()
            throw error
        }
        group.cancelAll()
    }
}

extension CWMPBody {
    var cpeResponse: CPEResponse? { if case .cpeResponse(let response) = self { response } else { nil } }
    var fault: CWMPFault? { if case .fault(let fault) = self { fault } else { nil } }
}

extension Array where Element == CWMPParameterValue {
    /// The value named `name`.
    func value(_ name: String) -> TypedValue? { first { $0.name == name }?.value }
}

/// The values of a GetParameterValuesResponse, or nil.
func values(_ body: CWMPBody?) -> [CWMPParameterValue]? {
    if case .getParameterValues(let parameters) = body?.cpeResponse { parameters } else { nil }
}

/// The names of a GetParameterNamesResponse, or nil.
func names(_ body: CWMPBody?) -> [CWMPParameterInfo]? {
    if case .getParameterNames(let parameters) = body?.cpeResponse { parameters } else { nil }
}
