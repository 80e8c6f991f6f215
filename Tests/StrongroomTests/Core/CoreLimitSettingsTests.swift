import Foundation
import Testing
@testable import StrongroomCore

/// The `limits` section: defaults, the two spellings of a limit, turning one off, validation.
@Suite struct CoreLimitSettingsTests {
    static func parse(_ limits: String) throws -> StrongroomConfiguration {
        try StrongroomConfiguration.parse(CoreConfigurationTests.valid + "\n" + limits)
    }

    @Test func defaultsAreOnAndGenerous() throws {
        let c = try StrongroomConfiguration.parse(CoreConfigurationTests.valid)
        try c.validate()
        #expect(c.limits == LimitSettings())
        #expect(c.limits.enabled)
        #expect(c.limits.token.perClient == RateLimit(perMinute: 600_000, burst: 20_000))
        #expect(c.limits.authorize.perAddress == RateLimit(perMinute: 300, burst: 300))
        #expect(c.limits.passwordHashing == PasswordHashing(concurrency: 2, queue: 32))
        #expect(c.limits.maxStoredAuthorizationRequest == 8_192)
    }

    @Test func limitsParseAsMapOrNumberAndZeroTurnsOneOff() throws {
        let c = try Self.parse("""
        limits:
          tracked_keys: 5000
          token:
            per_client: 100
            per_address: {per_minute: 10, burst: 3}
          authorize:
            per_address: 0
          register:
            per_address: {per_minute: 5}
          password_hashing: {concurrency: 1}
          max_stored_authorization_request: 4096
        """)
        try c.validate()
        #expect(c.limits.trackedKeys == 5_000)
        #expect(c.limits.token.perClient == RateLimit(perMinute: 100, burst: 100))
        #expect(c.limits.token.perAddress == RateLimit(perMinute: 10, burst: 3))
        #expect(c.limits.authorize.perAddress.isOff)
        #expect(c.limits.authorize.perClient == LimitSettings.defaultAuthorizeLimits.perClient)
        #expect(c.limits.par == LimitSettings.defaultPARLimits)
        #expect(c.limits.register.perAddress == RateLimit(perMinute: 5, burst: 5))
        #expect(c.limits.passwordHashing == PasswordHashing(concurrency: 1, queue: 32))
        #expect(c.limits.maxStoredAuthorizationRequest == 4_096)
    }

    @Test(arguments: [
        ("limits: {tracked_keys: 10}", "limits.tracked_keys"),
        ("limits: {token: {per_client: -1}}", "limits.token.per_client.per_minute"),
        ("limits: {login: {per_address: {per_minute: 5, burst: 0}}}", "limits.login.per_address.burst"),
        ("limits: {password_hashing: {concurrency: 0}}", "limits.password_hashing.concurrency"),
        ("limits: {max_stored_authorization_request: 10}", "limits.max_stored_authorization_request"),
    ])
    func outOfRangeValuesNameTheirKey(_ yaml: String, _ key: String) throws {
        let c = try Self.parse(yaml)
        #expect(throws: ConfigurationError.self) { try c.validate() }
        do { try c.validate() } catch let e as ConfigurationError { #expect(e.key == key) }
    }

    @Test func encodedDefaultsReadBackTheSame() throws {
        let c = try StrongroomConfiguration.parse(CoreConfigurationTests.valid)
        let data = try JSONEncoder().encode(c.limits)
        #expect(try JSONDecoder().decode(LimitSettings.self, from: data) == c.limits)
    }
}
