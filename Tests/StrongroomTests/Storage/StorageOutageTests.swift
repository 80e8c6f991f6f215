import Foundation
import NIOCore
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
}
