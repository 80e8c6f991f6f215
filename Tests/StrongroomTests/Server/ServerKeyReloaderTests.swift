import Foundation
import Logging
import StrongroomCore
import StrongroomEngine
import StrongroomJOSE
import StrongroomStorage
import Testing

@testable import StrongroomServer

/// The background re-reading of the signing keys (`KeyReloader`): on its own schedule, and going
/// on through failures.
@Suite struct ServerKeyReloaderTests {
    /// The keys of a real storage, whose reads fail while `failing` is set.
    final class FlakyKeys: SigningKeyStore, @unchecked Sendable {
        let base: SQLStorage
        private let lock = NSLock()
        private var isFailing = false
        init(_ base: SQLStorage) { self.base = base }

        var failing: Bool {
            get { lock.withLock { isFailing } }
            set { lock.withLock { isFailing = newValue } }
        }

        func saveKey(_ key: SigningKeyRecord) async throws { try await base.saveKey(key) }
        func keys() async throws -> [SigningKeyRecord] {
            if failing { throw StorageError.unavailable("the test's database does not answer") }
            return try await base.keys()
        }
        func updateKeyStatus(kid: String, status: SigningKeyRecord.Status, at: Date) async throws {
            try await base.updateKeyStatus(kid: kid, status: status, at: at)
        }
        func changeKeys(_ decide: @escaping @Sendable ([SigningKeyRecord]) throws -> [SigningKeyChange]) async throws -> [SigningKeyRecord] {
            try await base.changeKeys(decide)
        }
    }

    static let logger: Logger = {
        var logger = Logger(label: "test.reloader")
        logger.logLevel = .critical
        return logger
    }()

    /// Polls `condition` every 10 ms for up to `seconds`.
    static func eventually(within seconds: Double, _ condition: () -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    @Test func serversReloadTheKeysEveryFiveSeconds() {
        #expect(KeyManager.reloadInterval == 5)
        #expect(KeyManager.propagation == 10)
    }

    @Test func keysChangedElsewhereArePickedUpAndFailedReloadsDoNotStopIt() async throws {
        let storage = try await SQLStorage.open(url: "sqlite::memory:", logger: Self.logger)
        try await storage.migrate()
        let flaky = FlakyKeys(storage)
        let here = try await KeyManager.load(storage: flaky, clock: SystemTime(), logger: Self.logger, longestSignedLifetime: 600)
        // "Another node": the same database through a manager of its own.
        let elsewhere = try await KeyManager.load(storage: storage, clock: SystemTime(), logger: Self.logger, longestSignedLifetime: 600)
        let reloader = Task { try await KeyReloader(keys: here, interval: .milliseconds(20), logger: Self.logger).run() }

        flaky.failing = true
        let staged = try await elsewhere.rotate().filter { $0.status == .next }.map(\.kid)
        #expect(staged.count == KeyManager.algorithms.count)
        func publishesStaged() -> Bool { Set(staged).isSubset(of: Set(here.ring.publicKeySet.keys.compactMap(\.kid))) }
        try await Task.sleep(for: .milliseconds(200))
        #expect(!publishesStaged(), "reloaded although every read failed")

        flaky.failing = false
        #expect(try await Self.eventually(within: 5, publishesStaged), "the staged keys were not picked up after the failures")
        reloader.cancel()
        _ = try? await reloader.value
        try await storage.shutdown()
    }
}
