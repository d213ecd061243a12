import Foundation
import Testing
import TandemCore

@Suite struct FaultTests {
    @Test func cwmpFamiliesAndNames() {
        #expect(CWMPFaultCode.invalidParameterName.category == .invalidPath)
        #expect(CWMPFaultCode(9007).category == .invalidValue)
        #expect(CWMPFaultCode(9008).category == .notWritable)
        #expect(CWMPFaultCode(9015).category == .transferFailure)
        #expect(CWMPFaultCode(9030).category == .deploymentUnitFailure)
        #expect(CWMPFaultCode(9850).category == .vendor)
        #expect(CWMPFaultCode(8850).category == .vendor)
        #expect(CWMPFaultCode(9500).category == .unknown)
        #expect(CWMPFaultCode(8005).name == "Retry request")
        #expect(CWMPFaultCode(8006).isACSFault)
        #expect(CWMPFaultCode(9032).isValid && !CWMPFaultCode(9033).isValid && CWMPFaultCode(9899).isValid)
        #expect(!CWMPFaultCode(8007).isValid)
        // Every defined code has a real name and category.
        for code in Array(8000...8006) + Array(9000...9032) {
            #expect(CWMPFaultCode(code).name != "Unknown fault")
            #expect(CWMPFaultCode(code).category != .unknown)
        }
        let code = CWMPFaultCode(9805)
        switch code {
        case CWMPFaultCode.cpeVendorRange: break
        default: Issue.record("9805 should match the CPE vendor range")
        }
    }

    @Test func uspFamiliesAndNames() {
        #expect(USPErrorCode.invalidPath.category == .invalidPath)
        #expect(USPErrorCode(7013).category == .notWritable)
        #expect(USPErrorCode(7023).category == .cancelled)
        #expect(USPErrorCode(7104).isRecordError)
        #expect(USPErrorCode(7900).category == .vendor)
        #expect(USPErrorCode(7500).category == .unknown)
        for code in UInt32(7000)...7031 {
            #expect(USPErrorCode(code).name != "Unknown error")
            #expect(USPErrorCode(code).category != .unknown)
        }
        for code in UInt32(7100)...7106 {
            #expect(USPErrorCode(code).category == .protocolError)
        }
    }

    @Test func bothProtocolsMapToTheSameCategories() {
        // The point of neutral categories: the same refusal reads the same from either protocol.
        let pairs: [(Int, UInt32)] = [
            (9000, 7001), (9001, 7002), (9002, 7003), (9003, 7004), (9004, 7005), (9005, 7026), (9006, 7011), (9007, 7012), (9008, 7013),
        ]
        for (cwmp, usp) in pairs {
            #expect(CWMPFaultCode(cwmp).category == USPErrorCode(usp).category, "\(cwmp) vs \(usp)")
        }
    }

    @Test func faultJSONRoundTrip() throws {
        for fault in [Fault(cwmp: .invalidParameterValue), Fault(usp: .invalidPath, message: "no such path"), Fault(category: .unreachable, message: "timeout")] {
            let data = try JSONEncoder().encode(fault)
            #expect(try JSONDecoder().decode(Fault.self, from: data) == fault)
        }
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(Fault(cwmp: CWMPFaultCode(9007)))) as? [String: Any]
        #expect(json?["protocol"] as? String == "cwmp")
        #expect(json?["code"] as? Int == 9007)
        #expect(json?["category"] as? String == "invalidValue")
        #expect(Fault(usp: USPErrorCode(7012)).description == "USP 7012 (invalidValue): Invalid value")
    }
}
