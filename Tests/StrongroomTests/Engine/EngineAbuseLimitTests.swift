import Foundation
import Testing
@testable import StrongroomCore
@testable import StrongroomEngine
@testable import StrongroomJOSE
@testable import StrongroomStorage

/// The abuse limits (`limits`): for each, the request that passes and the first one refused, with
/// the exact status, error and `Retry-After`; the bounded maps under floods; the bcrypt queue.
@Suite(.serialized) struct EngineAbuseLimitTests {
    typealias H = EngineHarness
    static let attacker = "203.0.113.7"
    static let neighbour = "198.51.100.9"
    static let plainBasic = "Basic " + Data("plain:plain-secret-0123456789-0123456789".utf8).base64EncodedString()
    static let wrongBasic = "Basic " + Data("plain:not-the-secret".utf8).base64EncodedString()
    static let plainQuery = [("client_id", "plain"), ("redirect_uri", H.redirect), ("response_type", "code"), ("scope", "openid")]

    /// Every rate limit off except what `adjust` sets.
    static func only(_ adjust: @escaping (inout LimitSettings) -> Void) -> (inout StrongroomConfiguration) -> Void {
        { config in
            var l = LimitSettings()
            let off = EndpointLimits(perClient: .off, perAddress: .off)
            l.token = off; l.par = off; l.authorize = off; l.login = off
            l.register = AddressLimits(perAddress: .off)
            adjust(&l)
            config.limits = l
        }
    }

    static func from(_ address: String, _ request: TransportRequest) -> TransportRequest {
        var r = request
        r.remoteAddress = address
        return r
    }

    static func body(_ r: EngineResponse) -> String { String(decoding: r.body, as: UTF8.self) }

    /// Asserts an OAuth endpoint's rate-limit refusal.
    static func expectTooMany(_ r: EngineResponse, retryAfter: String, subject: String,
                              sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status == 429, "\(body(r))", sourceLocation: sourceLocation)
        #expect(r.header("Retry-After") == retryAfter, sourceLocation: sourceLocation)
        #expect(r.header("Content-Type") == "application/json", sourceLocation: sourceLocation)
        let json = JSONValue.from(r)
        #expect(json["error"]?.stringValue == "temporarily_unavailable", sourceLocation: sourceLocation)
        #expect(json["error_description"]?.stringValue?.contains("too many requests from this \(subject)") == true, sourceLocation: sourceLocation)
    }

    func clientCredentials(_ h: H, _ auth: String, from address: String) async -> EngineResponse {
        await h.engine.token(Self.from(address, H.post("/token", [("grant_type", "client_credentials")], headers: [("authorization", auth)])))
    }

    // MARK: /token

    @Test func tokenPerAddressCountsOnlyRequestsThatAuthenticateNoClient() async throws {
        let h = try await H.make(configure: Self.only { $0.token.perAddress = RateLimit(perMinute: 60, burst: 2) })
        defer { Task { await h.close() } }
        // An authenticated client's requests are not taken from its address's bucket.
        for _ in 0..<5 {
            let ok = await clientCredentials(h, Self.plainBasic, from: Self.attacker)
            #expect(ok.status == 200, "\(Self.body(ok))")
        }
        // Failed client authentication is: two pass (and fail), the third is refused.
        for _ in 0..<2 {
            let r = await clientCredentials(h, Self.wrongBasic, from: Self.attacker)
            #expect(r.status == 401)
            #expect(JSONValue.from(r)["error"]?.stringValue == "invalid_client")
        }
        Self.expectTooMany(await clientCredentials(h, Self.wrongBasic, from: Self.attacker), retryAfter: "1", subject: "address")
        // The address as a whole is refused until its bucket refills; other addresses are not.
        Self.expectTooMany(await clientCredentials(h, Self.plainBasic, from: Self.attacker), retryAfter: "1", subject: "address")
        #expect(await clientCredentials(h, Self.wrongBasic, from: Self.neighbour).status == 401)
        h.clock.advance(1)
        #expect(await clientCredentials(h, Self.wrongBasic, from: Self.attacker).status == 401)
        Self.expectTooMany(await clientCredentials(h, Self.wrongBasic, from: Self.attacker), retryAfter: "1", subject: "address")
    }

    @Test func tokenPerClient() async throws {
        let h = try await H.make(configure: Self.only { $0.token.perClient = RateLimit(perMinute: 30, burst: 2) })
        defer { Task { await h.close() } }
        for _ in 0..<2 {
            let ok = await clientCredentials(h, Self.plainBasic, from: Self.attacker)
            #expect(ok.status == 200, "\(Self.body(ok))")
        }
        // 30 per minute: the next request is admitted 2 seconds later.
        Self.expectTooMany(await clientCredentials(h, Self.plainBasic, from: Self.neighbour), retryAfter: "2", subject: "client")
        // Another client is not affected.
        let other = await h.engine.token(H.post("/token", [("grant_type", "client_credentials"), ("scope", "accounts"), ("client_id", "fapi-tls")],
                                                cert: h.otherCert))
        #expect(other.status == 200, "\(Self.body(other))")
        h.clock.advance(2)
        #expect(await clientCredentials(h, Self.plainBasic, from: Self.attacker).status == 200)
    }

    @Test func limitsOffAdmitEverything() async throws {
        let h = try await H.make(configure: Self.only {
            $0.token.perClient = RateLimit(perMinute: 1, burst: 1)
            $0.token.perAddress = RateLimit(perMinute: 1, burst: 1)
            $0.enabled = false
        })
        defer { Task { await h.close() } }
        for _ in 0..<3 { #expect(await clientCredentials(h, Self.plainBasic, from: Self.attacker).status == 200) }
        for _ in 0..<3 { #expect(await clientCredentials(h, Self.wrongBasic, from: Self.attacker).status == 401) }
    }

    // MARK: /par

    @Test func parPerClientAndPerAddress() async throws {
        let h = try await H.make(configure: Self.only {
            $0.par.perClient = RateLimit(perMinute: 60, burst: 2)
            $0.par.perAddress = RateLimit(perMinute: 60, burst: 1)
        })
        defer { Task { await h.close() } }
        func par(_ auth: String, from address: String) async -> EngineResponse {
            await h.engine.pushedAuthorizationRequest(Self.from(address, H.post("/par", [("client_id", "plain"), ("redirect_uri", H.redirect),
                                                                                       ("response_type", "code"), ("scope", "openid")],
                                                                              headers: [("authorization", auth)])))
        }
        for _ in 0..<2 {
            let ok = await par(Self.plainBasic, from: Self.neighbour)
            #expect(ok.status == 201, "\(Self.body(ok))")
        }
        Self.expectTooMany(await par(Self.plainBasic, from: Self.neighbour), retryAfter: "1", subject: "client")

        #expect(await par(Self.wrongBasic, from: Self.attacker).status == 401)
        Self.expectTooMany(await par(Self.wrongBasic, from: Self.attacker), retryAfter: "1", subject: "address")
    }

    // MARK: /authorize

    @Test func authorizePerAddressIsAnErrorPageWith429() async throws {
        let h = try await H.make(configure: Self.only { $0.authorize.perAddress = RateLimit(perMinute: 120, burst: 2) })
        defer { Task { await h.close() } }
        for _ in 0..<2 {
            guard case .interact = await h.engine.authorize(Self.from(Self.attacker, H.get("/authorize", Self.plainQuery)), session: nil) else {
                Issue.record("expected the login page"); return
            }
        }
        // Refused before anything is read: even a request without client_id gets the same answer.
        for query in [Self.plainQuery, []] {
            guard case .errorPage(let e) = await h.engine.authorize(Self.from(Self.attacker, H.get("/authorize", query)), session: nil) else {
                Issue.record("expected an error page"); return
            }
            #expect(e.code == .temporarilyUnavailable)
            #expect(e.status == 429)
            #expect(e.retryAfter == 1)
            #expect(!e.redirectable)
        }
        guard case .interact = await h.engine.authorize(Self.from(Self.neighbour, H.get("/authorize", Self.plainQuery)), session: nil) else {
            Issue.record("another address is not limited"); return
        }
    }

    @Test func authorizePerClient() async throws {
        let h = try await H.make(configure: Self.only { $0.authorize.perClient = RateLimit(perMinute: 60, burst: 1) })
        defer { Task { await h.close() } }
        guard case .interact = await h.engine.authorize(Self.from(Self.attacker, H.get("/authorize", Self.plainQuery)), session: nil) else {
            Issue.record("expected the login page"); return
        }
        guard case .errorPage(let e) = await h.engine.authorize(Self.from(Self.neighbour, H.get("/authorize", Self.plainQuery)), session: nil) else {
            Issue.record("expected an error page"); return
        }
        #expect(e.code == .temporarilyUnavailable)
        #expect(e.status == 429)
        #expect(e.retryAfter == 1)
        #expect(e.errorDescription.contains("client"))
        // An unknown client_id is refused as before, not counted.
        guard case .errorPage(let unknown) = await h.engine.authorize(H.get("/authorize", [("client_id", "nobody")]), session: nil) else {
            Issue.record("expected an error page"); return
        }
        #expect(unknown.code == .invalidRequest)
    }

    @Test func storedAuthorizationRequestIsBounded() async throws {
        let h = try await H.make { $0.limits.maxStoredAuthorizationRequest = 2_048 }
        defer { Task { await h.close() } }
        let fits = Self.plainQuery + [("state", String(repeating: "s", count: 1_000))]
        guard case .interact = await h.engine.authorize(H.get("/authorize", fits), session: nil) else {
            Issue.record("expected the login page"); return
        }
        // Too large to keep while the user signs in: invalid_request back to the validated
        // redirect URI, and nothing stored.
        let tooLarge = Self.plainQuery + [("state", "st"), ("login_hint", String(repeating: "h", count: 3_000))]
        guard case .respond(let r) = await h.engine.authorize(H.get("/authorize", tooLarge), session: nil) else {
            Issue.record("expected a redirect"); return
        }
        #expect(r.status == 303)
        let params = H.redirectParams(r)
        #expect(params["error"] == "invalid_request")
        #expect(params["error_description"]?.contains("too large") == true)
        #expect(params["state"] == "st")
    }

    // MARK: /login

    func loginTicket(_ h: H) async throws -> InteractionTicket {
        guard case .interact(let t) = await h.engine.authorize(H.get("/authorize", Self.plainQuery), session: nil) else {
            throw HarnessError.unexpected("expected the login page")
        }
        return t
    }

    func login(_ h: H, _ t: InteractionTicket, password: String, from address: String, username: String = "alice") async -> LoginOutcome {
        var req = Self.from(address, H.post("/login", []))
        req.browserBinding = t.browserCookie
        return await h.engine.login(interactionID: t.interactionID, username: username, password: password, request: req)
    }

    @Test func loginPerAddressIsAnErrorPageWith429AndKeepsTheInteraction() async throws {
        let h = try await H.make(configure: Self.only { $0.login.perAddress = RateLimit(perMinute: 60, burst: 1) })
        defer { Task { await h.close() } }
        let t = try await loginTicket(h)
        guard case .failed(.interact(let retry)) = await login(h, t, password: "wrong", from: Self.attacker) else {
            Issue.record("expected the login page again"); return
        }
        #expect(retry.status == 200)
        guard case .failed(.errorPage(let e)) = await login(h, t, password: "wonderland-test", from: Self.attacker) else {
            Issue.record("expected an error page"); return
        }
        #expect(e.code == .temporarilyUnavailable)
        #expect(e.status == 429)
        #expect(e.retryAfter == 1)
        #expect(e.errorDescription.contains("try again"))
        // The sign-in itself is still usable.
        guard case .loggedIn = await login(h, t, password: "wonderland-test", from: Self.neighbour) else {
            Issue.record("expected a sign-in"); return
        }
    }

    @Test func loginPerClientAndLockOutAnswer429WithTheLoginPage() async throws {
        let h = try await H.make(configure: Self.only { $0.login.perClient = RateLimit(perMinute: 60, burst: 1) })
        defer { Task { await h.close() } }
        let t = try await loginTicket(h)
        guard case .failed(.interact(let first)) = await login(h, t, password: "wrong", from: Self.attacker) else {
            Issue.record("expected the login page again"); return
        }
        #expect(first.status == 200)
        guard case .failed(.interact(let limited)) = await login(h, t, password: "wrong", from: Self.neighbour) else {
            Issue.record("expected the login page with a refusal"); return
        }
        #expect(limited.status == 429)
        #expect(limited.retryAfter == 1)
        #expect(limited.message == "Too many sign-ins at the moment. Try again in 1 second.")

        // A locked-out username: the page again, 429, Retry-After the rest of the lock-out.
        let h2 = try await H.make(configure: Self.only { _ in })
        defer { Task { await h2.close() } }
        for _ in 0..<LoginThrottle.freeAttempts { _ = h2.engine.loginThrottle.failed("alice", interaction: "x", now: h2.clock.now()) }
        let t2 = try await loginTicket(h2)
        guard case .failed(.interact(let locked)) = await login(h2, t2, password: "wonderland-test", from: Self.neighbour) else {
            Issue.record("expected a lock-out"); return
        }
        #expect(locked.status == 429)
        #expect(locked.retryAfter == 2)
        #expect(locked.message == "Too many unsuccessful attempts. Try again in 2 seconds.")
    }

    // MARK: /register

    @Test func registerPerAddress() async throws {
        let h = try await H.make(configure: Self.only { $0.register = AddressLimits(perAddress: RateLimit(perMinute: 60, burst: 1)) })
        defer { Task { await h.close() } }
        func register() async -> EngineResponse {
            var req = TransportRequest(method: "POST", path: "/register", headers: [Param("authorization", "Bearer guessed-token"),
                                                                                   Param("content-type", "application/json")],
                                       remoteAddress: Self.attacker)
            req.body = Data("{}".utf8)
            return await h.engine.register(req)
        }
        let first = await register()
        #expect(first.status == 401)
        #expect(JSONValue.from(first)["error"]?.stringValue == "invalid_token")
        Self.expectTooMany(await register(), retryAfter: "1", subject: "address")
    }

    // MARK: Bounded state

    @Test func limiterStaysBoundedUnderAFloodOfDistinctKeysAndKeepsALimitedOne() {
        let clock = FixedTime()
        var settings = LimitSettings()
        settings.register = AddressLimits(perAddress: RateLimit(perMinute: 1, burst: 1))
        settings.authorize.perAddress = RateLimit(perMinute: 6_000, burst: 1)
        let limiter = RateLimiter(settings: settings, clock: clock)
        #expect(limiter.take(.register, address: Self.attacker) == nil)
        #expect(limiter.take(.register, address: Self.attacker) == RateLimiter.Refusal(retryAfter: 60))
        // 150,000 distinct addresses at 20,000 requests per second (7.5 s of clock).
        for i in 0..<150_000 {
            clock.advance(0.000_05)
            _ = limiter.take(.authorize, address: "10.\(i >> 16 & 255).\(i >> 8 & 255).\(i & 255)")
            if i % 10_000 == 0 { #expect(limiter.trackedKeys <= 100_000) }
        }
        #expect(limiter.trackedKeys <= 100_000)
        // The attacker's empty bucket was not evicted by the flood.
        #expect(limiter.take(.register, address: Self.attacker)?.retryAfter == 53)
    }

    @Test func addressesOfOneIPv6SubscriberShareABucket() {
        #expect(RateLimiter.addressKey("2001:db8:1:2:3:4:5:6") == RateLimiter.addressKey("2001:db8:1:2:ffff::1"))
        #expect(RateLimiter.addressKey("2001:db8:1:2:3:4:5:6") != RateLimiter.addressKey("2001:db8:1:3::1"))
        #expect(RateLimiter.addressKey("::ffff:192.0.2.1") == "192.0.2.1")
        #expect(RateLimiter.addressKey("192.0.2.1") == "192.0.2.1")
        #expect(RateLimiter.addressKey(nil) == "-")
    }

    @Test func recencyTableEvictsTheOldestExpendableEntry() {
        var t = RecencyTable<String, Int>(capacity: 3)
        t.set("a", 1, expendable: { _ in true })
        t.set("b", 0, expendable: { _ in true })
        t.set("c", 1, expendable: { _ in true })
        _ = t.value(for: "a")                       // order now b, c, a
        // Values 1 are kept: "b" (0) goes although "c" was used longer ago than "a".
        #expect(t.set("d", 1, expendable: { $0 == 0 }) == "b")
        #expect(t.count == 3)
        // Nothing expendable: the least recently used goes, the table never grows.
        #expect(t.set("e", 1, expendable: { $0 == 0 }) == "c")
        #expect(t.count == 3)
        #expect(t.keysOldestFirst == ["a", "d", "e"])
        t.removeValue(for: "d")
        #expect(t.set("f", 0, expendable: { _ in false }) == nil)
        #expect(t.keysOldestFirst == ["a", "e", "f"])
    }

    @Test func lockOutMapIsNotWipedByAFloodOfUsernames() {
        let throttle = LoginThrottle()
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        for _ in 0..<(LoginThrottle.freeAttempts + 3) { _ = throttle.failed("alice", interaction: "i-alice", now: start) }
        #expect(throttle.lockedOut("alice", now: start) == 16)
        // 150,000 distinct usernames, each failing once, in one second.
        for i in 0..<150_000 {
            _ = throttle.failed("user-\(i)", interaction: "i-\(i)", now: start.addingTimeInterval(Double(i) / 150_000))
        }
        let tracked = throttle.trackedEntries
        #expect(tracked.usernames <= LoginThrottle.capacity)
        #expect(tracked.interactions <= LoginThrottle.capacity)
        // A locked account stays locked.
        #expect(throttle.lockedOut("alice", now: start.addingTimeInterval(1)) == 15)
        #expect(throttle.lockedOut("ALICE", now: start.addingTimeInterval(1)) == 15)
    }

    @Test func lockOutFailuresExpire() {
        let throttle = LoginThrottle()
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        for _ in 0..<LoginThrottle.freeAttempts { _ = throttle.failed("bob", interaction: "i", now: start) }
        #expect(throttle.lockedOut("bob", now: start) == 2)
        #expect(throttle.lockedOut("bob", now: start.addingTimeInterval(3)) == nil)
        // Within the memory a further failure locks for longer; after it, the count starts over.
        _ = throttle.failed("bob", interaction: "j", now: start.addingTimeInterval(3))
        #expect(throttle.lockedOut("bob", now: start.addingTimeInterval(3)) == 4)
        let later = start.addingTimeInterval(3 + LoginThrottle.failureMemory)
        _ = throttle.failed("bob", interaction: "k", now: later)
        #expect(throttle.lockedOut("bob", now: later) == nil)
    }

    // MARK: bcrypt

    /// Work that runs until `open()` is called.
    final class Latch: @unchecked Sendable {
        let stream: AsyncStream<Void>
        let continuation: AsyncStream<Void>.Continuation
        init() { (stream, continuation) = AsyncStream.makeStream() }
        func wait() async { for await _ in stream { return } }
        func open() { continuation.finish() }
    }

    static func waitUntil(_ condition: @Sendable () async -> Bool) async {
        for _ in 0..<2_000 {
            if await condition() { return }
            try? await Task.sleep(for: .milliseconds(1))
        }
    }

    @Test func passwordHashingQueueShedsWhenFull() async {
        let throttle = LoginThrottle(concurrency: 1, queue: 1)
        let latch = Latch()
        let running = Task { await throttle.limited { await latch.wait(); return 1 } }
        await Self.waitUntil { await throttle.gate.inUse == 1 }
        let queued = Task { await throttle.limited { 2 } }
        await Self.waitUntil { await throttle.gate.waiting == 1 }
        // One running, one waiting: the third is shed at once, without running its work.
        let shed = await throttle.limited { () -> Int in Issue.record("shed work must not run"); return 3 }
        #expect(shed == nil)
        latch.open()
        #expect(await running.value == 1)
        #expect(await queued.value == 2)
        #expect(await throttle.limited { 4 } == 4)
    }

    @Test func loginIsShedWith503WhenPasswordHashingIsSaturated() async throws {
        let h = try await H.make { $0.limits.passwordHashing = PasswordHashing(concurrency: 1, queue: 0) }
        defer { Task { await h.close() } }
        let t = try await loginTicket(h)
        let latch = Latch()
        let throttle = h.engine.loginThrottle
        let busy = Task { await throttle.limited { await latch.wait() } }
        await Self.waitUntil { await throttle.gate.inUse == 1 }
        guard case .failed(.interact(let shed)) = await login(h, t, password: "wonderland-test", from: Self.neighbour) else {
            Issue.record("expected the login page with a refusal"); latch.open(); return
        }
        #expect(shed.status == 503)
        #expect(shed.retryAfter == Engine.loginShedRetryAfter)
        #expect(shed.message == "The server is busy. Please try again in a few seconds.")
        #expect(shed.loginHint == "alice")
        latch.open()
        _ = await busy.value
        // Not counted as a failure: the same sign-in goes through once there is room.
        guard case .loggedIn = await login(h, t, password: "wonderland-test", from: Self.neighbour) else {
            Issue.record("expected a sign-in"); return
        }
    }
}
