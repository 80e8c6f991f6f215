import Foundation
import StrongroomCore
import StrongroomJOSE
import Testing

@testable import StrongroomFuzzTargets

/// The checked-in fuzz corpus (fuzz/corpus/TARGET: the seeds, and every input libFuzzer found
/// that reached new code and was kept) replayed through the same targets libFuzzer drives, so a
/// regression on any input ever found is caught by the ordinary test command, with or without
/// libFuzzer on the machine. scripts/fuzz runs the coverage-guided fuzzing itself.
@Suite struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fuzz/corpus")

    static func inputs(_ target: FuzzTarget) throws -> [(String, Data)] {
        let folder = corpus.appendingPathComponent(target.rawValue)
        return try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted().map { name in
            (name, try Data(contentsOf: folder.appendingPathComponent(name)))
        }
    }

    @Test(arguments: FuzzTarget.allCases)
    func corpusKeepsEveryInvariant(_ target: FuzzTarget) async throws {
        let inputs = try Self.inputs(target)
        #expect(inputs.count >= 3, "fuzz/corpus/\(target.rawValue) has \(inputs.count) inputs")
        let broken = await Self.offThePool { inputs.compactMap { name, data in target.run(data).map { "\(name): \($0)" } } }
        #expect(broken.isEmpty, "fuzz/corpus/\(target.rawValue): \(broken)")
    }

    /// The targets are synchronous, as libFuzzer calls them, and the request-path ones wait for
    /// async work: run them on a thread of their own, never on one of the concurrency pool's.
    static func offThePool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: work()) }.start()
        }
    }

    /// The checks can fail: inputs that break each kind of invariant are reported, and their
    /// passing neighbours are not.
    @Test func aSignatureByAKnownKeyIsReportedAsAForgery() throws {
        let keys = FuzzKeys.shared
        let genuine = try keys.signingKeys[0].sign(payload: ["iss": "fuzz"])
        #expect(FuzzTarget.jws.run(Data(genuine.utf8))?.contains("verified against the public keys") == true)
        let forged = String(genuine.dropLast(4)) + (genuine.hasSuffix("AAAA") ? "BBBB" : "AAAA")
        #expect(FuzzTarget.jws.run(Data(forged.utf8)) == nil)
    }

    @Test func aServerErrorOrAnUnsafeErrorTextIsReported() {
        #expect(RequestPathHarness.violation(status: 500, body: "{}", what: "x")?.hasPrefix("HTTP 500") == true)
        #expect(RequestPathHarness.violation(status: 503, body: "", what: "x")?.hasPrefix("HTTP 503") == true)
        let unsafe = #"{"error":"invalid_request","error_description":"bad \"quote\" \u0001"}"#
        #expect(RequestPathHarness.violation(status: 400, body: unsafe, what: "x")?.hasPrefix("error_description") == true)
        let safe = #"{"error":"invalid_request","error_description":"The scope is missing."}"#
        #expect(RequestPathHarness.violation(status: 400, body: safe, what: "x") == nil)
        #expect(RequestPathHarness.violation(status: 499, body: "", what: "x") == nil)
    }
}
