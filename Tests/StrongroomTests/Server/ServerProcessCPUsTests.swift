import Foundation
import NIOCore
import Testing

@testable import StrongroomServer

/// The CPU count the server sizes its event loops by: the kernel's CPU-list syntax, and the count of
/// this test process, which must agree with what the kernel reports for it.
@Suite struct ServerProcessCPUsTests {
    @Test(arguments: [("0", 1), ("0-1", 2), ("0,2-5,7", 6), (" 3 ", 1), ("0-0", 1), ("1,3", 2)])
    func cpuListsAreCounted(_ list: String, _ expected: Int) {
        #expect(ProcessCPUs.cpuListCount(Substring(list)) == expected)
    }

    @Test(arguments: ["", "a", "1-", "-1", "3-1", "0-1-2", "0,,x", ","])
    func malformedCPUListsCountAsUnknown(_ list: String) {
        #expect(ProcessCPUs.cpuListCount(Substring(list)) == nil)
    }

    @Test func thisProcessCountIsTheKernelsAndBoundsTheUsableCount() throws {
        let count = try #require(ProcessCPUs.affinityCount)
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let mask = try #require(status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed:") })
        // Cpus_allowed is the same mask in hexadecimal words: its set bits are the CPUs.
        let bits = mask.dropFirst("Cpus_allowed:".count).filter(\.isHexDigit)
            .reduce(0) { $0 + (Int(String($1), radix: 16) ?? 0).nonzeroBitCount }
        #expect(count == bits)
        #expect(ProcessCPUs.usable >= 1 && ProcessCPUs.usable <= count && ProcessCPUs.usable <= System.coreCount)
    }
}
