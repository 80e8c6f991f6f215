import Foundation
import NIOCore
import SQLKit
import StrongroomCore
import Testing
@testable import StrongroomStorage

/// A database outage is 503 `temporarily_unavailable` with `Retry-After`; a fault stays 500.
/// (End to end, against PostgreSQL behind a relay that is cut: tests/e2e/test_database_outage.py.)
@Suite struct StorageOutageTests {
    @Test func anOutageIs503WithRetryAfterAndAFaultIs500() {
        let outage = OAuthError.failure(StorageError.unavailable("the database cannot be reached"), "token lookup")
        #expect(outage.code == .temporarilyUnavailable && outage.status == 503 && outage.retryAfter == OAuthError.outageRetryAfter)
        #expect(outage.detail == "token lookup: unavailable(\"the database cannot be reached\")")
        let fault = OAuthError.failure(StorageError.invalid("column scopes holds malformed JSON"), "token lookup")
        #expect(fault.code == .serverError && fault.status == 500 && fault.retryAfter == nil)
        #expect(OAuthError.wrap(StorageError.unavailable("x")).status == 503)
        #expect(OAuthError.wrap(StorageError.duplicate("x")).status == 500)
    }

    @Test func connectionLevelErrorsAreOutagesAndOthersAreNot() {
        #expect(PostgresExecutor.isOutage(ChannelError.ioOnClosedChannel))
        #expect(PostgresExecutor.isOutage(IOError(errnoCode: ECONNREFUSED, reason: "connect")))
        #expect(!PostgresExecutor.isOutage(StorageError.duplicate("client c")))
        #expect(!PostgresExecutor.isOutage(CocoaError(.fileReadUnknown)))
    }

    /// SQLite on a full disk: the write fails with SQLITE_FULL, which is an outage (503 with
    /// `Retry-After`), not a fault, and the same storage writes again once there is room. A page
    /// limit on the writer stands in for the disk (end to end, a real full file system:
    /// tests/e2e/test_disk_full.py).
    @Test func aFullSQLiteDiskIsAnOutageAndWritesResumeWhenThereIsRoom() async throws {
        try await withStorage(.sqliteFile) { storage, _ in
            let kept = Records.token()
            try await storage.saveTokens([kept])
            _ = try await storage.executor.write { db in
                let pages = try await db.raw("PRAGMA page_count").first()?.decode(column: "page_count", as: Int.self) ?? 0
                return try await db.raw("PRAGMA max_page_count = \(unsafeRaw: String(pages))").all().count
            }
            var refusal: (any Error)? = nil
            for _ in 0..<5000 {
                do { try await storage.saveTokens([Records.token()]) } catch { refusal = error; break }
            }
            let error = try #require(refusal, "the page limit never refused a write")
            #expect(error as? StorageError == .unavailable("the database's disk is full: SQLite error 13: database or disk is full"))
            let answer = OAuthError.failure(error, "save tokens")
            #expect(answer.code == .temporarilyUnavailable && answer.status == 503 && answer.retryAfter == OAuthError.outageRetryAfter)
            _ = try await storage.executor.write { db in try await db.raw("PRAGMA max_page_count = 1073741823").all().count }
            let later = Records.token()
            try await storage.saveTokens([later])
            #expect(try await storage.token(hash: later.tokenHash) != nil)
            #expect(try await storage.token(hash: kept.tokenHash) != nil)
        }
    }
}
