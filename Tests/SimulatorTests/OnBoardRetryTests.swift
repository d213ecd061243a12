import Foundation
import Testing
import USP
import USPAgentSimulator

/// R-NOT.5–7: an OnBoardRequest whose NotifyResp never arrives is sent again, with the same
/// message ID, until one does; then the agent stops repeating it.
@Suite struct OnBoardRetryTests {
    @Test func anUnansweredOnBoardRequestIsRetriedWithTheSameMessageID() async throws {
        let controller = try USPTestController.webSocket()
        await controller.state.dropNotifyResponses(2)
        try await controller.running { controller in
            let agent = SimulatedAgent(
                identity: .init(oui: "00D09E", productClass: "SimGateway", serialNumber: "OBR1"),
                controllerEndpointID: controller.endpointID, mtp: .webSocket(url: "ws://127.0.0.1:\(try await controller.webSocketPort())/usp"))
            await agent.setNotifyRetryMinimumWait(.milliseconds(100))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await agent.run() }
                defer { group.cancelAll() }
                // Two answers dropped: the first request and its first retry; the second retry is answered.
                let ids = try await controller.waitFor("three OnBoardRequests", timeout: .seconds(20)) { () -> [String]? in
                    let ids = await controller.onBoardRequestIDs()
                    return ids.count >= 3 ? ids : nil
                }
                #expect(Set(ids).count == 1, "retries carry the first message ID: \(ids)")
                _ = try await controller.waitFor("the agent to see its NotifyResp") { await agent.answeredNotifications.contains(ids[0]) ? true : nil }
                #expect(await agent.onBoardRequestsSent == 1)
                #expect(await agent.onBoardRequestsRetried == 2)
                // Answered: no more retries, even after several retry periods.
                try await Task.sleep(for: .milliseconds(1_000))
                #expect(await controller.onBoardRequestIDs().count == 3)
                #expect(await agent.onBoardRequestsRetried == 2)
            }
        }
    }
}
