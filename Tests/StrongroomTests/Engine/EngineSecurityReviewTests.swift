import Foundation
import Logging
import Testing
@testable import StrongroomCore
@testable import StrongroomEngine
@testable import StrongroomJOSE
@testable import StrongroomStorage

/// The certification and security-review items of FAPI 1.0 (docs/fapi.md, "Review items"): each
/// behaviour accepted once and refused once, with the exact error, status and channel.
@Suite(.serialized) struct EngineSecurityReviewTests {
    typealias H = EngineHarness

    static func error(_ r: EngineResponse) -> String? { JSONValue.from(r)["error"]?.stringValue }

    func codeFlowForPlain(_ h: H, extra: [(String, String)] = []) async throws -> String {
        let out = await h.engine.authorize(H.get("/authorize", [("client_id", "plain"), ("redirect_uri", H.redirect), ("response_type", "code"),
                                                                ("scope", "openid profile offline_access"), ("state", "s")] + extra), session: nil)
        let r = try await h.approve(out)
        return try #require(H.redirectParams(r)["code"], "\(r)")
    }

    static let plainBasic = ("authorization", "Basic " + Data("plain:plain-secret-0123456789-0123456789".utf8).base64EncodedString())

    // MARK: item 0 — no request crashes the engine

    @Test(arguments: ["/par", "/token", "/introspect", "/revoke", "/userinfo", "/register"])
    func emptyContentTypeIsAnOAuthErrorNotACrash(_ path: String) async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        for value in ["", ";"] {
            let request = TransportRequest(method: "POST", path: path, headers: [Param("content-type", value), Param("authorization", "Bearer x")],
                                           body: Data("a=b".utf8))
            let r: EngineResponse
            switch path {
            case "/par": r = await h.engine.pushedAuthorizationRequest(request)
            case "/token": r = await h.engine.token(request)
            case "/introspect": r = await h.engine.introspect(request)
            case "/revoke": r = await h.engine.revoke(request)
            case "/userinfo": r = await h.engine.userinfo(request)
            default: r = await h.engine.register(request)
            }
            #expect((400...401).contains(r.status), "\(path) \(value.debugDescription): \(r.status)")
        }
    }

    @Test func emptyContentTypeAtTheAuthorizationEndpointIsAnErrorPage() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let out = await h.engine.authorize(TransportRequest(method: "POST", path: "/authorize", headers: [Param("content-type", ";")]), session: nil)
        guard case .errorPage(let e) = out else { Issue.record("\(out)"); return }
        #expect(e.code == .invalidRequest && e.status == 400)
    }

    // MARK: item 1 — error_description characters

    @Test func callerInputNeverReachesAnErrorTextRaw() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let r = await h.engine.token(H.post("/token", [("grant_type", "x\t\u{0B}\u{0C}\r\n\"\\\u{0}\u{FFFD}")], headers: [Self.plainBasic]))
        #expect(r.status == 400)
        #expect(Self.error(r) == "unsupported_grant_type")
        let d = try #require(JSONValue.from(r)["error_description"]?.stringValue)
        #expect(d == "grant_type 'x?????????' is not supported")
        #expect(ErrorText.isAllowed(d))
    }

    @Test func citationsAreSpelledInASCII() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let assertion = try h.assertion(aud: .string(H.issuer + "/par"))
        let r = await h.engine.pushedAuthorizationRequest(H.post("/par", [("client_assertion_type", Engine.assertionType), ("client_assertion", assertion),
                                                                         ("request_uri", "urn:x")], cert: h.fapiCert))
        #expect(r.status == 400 && Self.error(r) == "invalid_request")
        #expect(JSONValue.from(r)["error_description"]?.stringValue == "request_uri must not be sent to the PAR endpoint (RFC 9126 sec. 2.1)")
    }

    // MARK: item 2 — a pushed request is the whole request

    @Test func pushedAdvancedRequestObjectWithoutScopeIsRefusedAtPAR() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let ro = try h.requestObject(["response_type": "code", "response_mode": "jwt", "code_challenge": .string(H.pkce().challenge),
                                      "code_challenge_method": "S256"], drop: ["scope", "nonce"])
        let r = await h.engine.pushedAuthorizationRequest(H.post("/par", [("client_assertion_type", Engine.assertionType),
                                                                         ("client_assertion", try h.assertion(aud: .string(H.issuer + "/par"))),
                                                                         ("request", ro)], cert: h.fapiCert))
        #expect(r.status == 400)
        #expect(Self.error(r) == "invalid_request_object")
        // The same request object with its scope is accepted.
        let good = try h.requestObject(["response_type": "code", "response_mode": "jwt", "code_challenge": .string(H.pkce().challenge),
                                        "code_challenge_method": "S256"])
        let ok = await h.engine.pushedAuthorizationRequest(H.post("/par", [("client_assertion_type", Engine.assertionType),
                                                                          ("client_assertion", try h.assertion(aud: .string(H.issuer + "/par"))),
                                                                          ("request", good)], cert: h.fapiCert))
        #expect(ok.status == 201, "\(String(decoding: ok.body, as: UTF8.self))")
    }

    @Test func frontChannelParametersBesideARequestURIAreIgnored() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let ro = try h.requestObject(["response_type": "code", "response_mode": "jwt", "scope": "openid accounts",
                                      "code_challenge": .string(H.pkce().challenge), "code_challenge_method": "S256"])
        let par = await h.engine.pushedAuthorizationRequest(H.post("/par", [("client_assertion_type", Engine.assertionType),
                                                                           ("client_assertion", try h.assertion(aud: .string(H.issuer + "/par"))),
                                                                           ("request", ro)], cert: h.fapiCert))
        let uri = try #require(JSONValue.from(par)["request_uri"]?.stringValue, "\(String(decoding: par.body, as: UTF8.self))")
        let out = await h.engine.authorize(H.get("/authorize", [("client_id", "fapi"), ("request_uri", uri), ("scope", "openid payments profile"),
                                                                ("state", "front"), ("response_mode", "fragment")]), session: nil)
        guard case .interact(let t) = out else { Issue.record("\(out)"); return }
        #expect(t.scopes.map(\.name) == ["openid", "accounts"])
        let r = try await h.approve(out)
        let params = H.redirectParams(r)
        // JARM from the pushed request, never the front channel's fragment mode.
        #expect(r.header("Location")?.hasPrefix(H.redirect + "?response=") == true)
        #expect(params["state"] == nil && params["code"] == nil)
    }

    // MARK: item 3 — malformed form bodies

    @Test(arguments: ["grant_type=client_credentials&a=1&a=%ZZ", "grant_type=client_credentials&x=%E0%A4%A"])
    func malformedTokenBodyIsInvalidRequest(_ body: String) async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        var request = H.post("/token", [], headers: [Self.plainBasic])
        request.body = Data(body.utf8)
        let r = await h.engine.token(request)
        #expect(r.status == 400)
        #expect(Self.error(r) == "invalid_request")
        request.body = Data("grant_type=client_credentials".utf8)
        #expect(await h.engine.token(request).status == 200)
    }

    // MARK: item 4 — introspection of a rotated-out refresh token

    @Test func rotatedOutRefreshTokenIntrospectsInactive() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let code = try await codeFlowForPlain(h)
        let first = JSONValue.from(await h.engine.token(H.post("/token", [("grant_type", "authorization_code"), ("code", code),
                                                                          ("redirect_uri", H.redirect)], headers: [Self.plainBasic])))
        let refresh = try #require(first["refresh_token"]?.stringValue)
        func active(_ token: String) async -> Bool? {
            JSONValue.from(await h.engine.introspect(H.post("/introspect", [("token", token)], headers: [Self.plainBasic])))["active"]?.boolValue
        }
        #expect(await active(refresh) == true)
        let second = JSONValue.from(await h.engine.token(H.post("/token", [("grant_type", "refresh_token"), ("refresh_token", refresh)],
                                                                headers: [Self.plainBasic])))
        let newRefresh = try #require(second["refresh_token"]?.stringValue)
        #expect(await active(refresh) == false)
        #expect(await active(newRefresh) == true)
    }

    // MARK: item 5 — RFC 7592 PUT keeps operator-only fields

    @Test func clientUpdateKeepsEveryOperatorOnlySetting() throws {
        var current = ClientMetadata(redirectURIs: ["https://a"])
        current.forcedProfile = .fapi1Advanced
        current.resourceServer = true
        current.refreshTokenRotation = true
        let updated = ClientMetadata(redirectURIs: ["https://b"]).keepingOperatorSettings(of: current)
        let json = try #require(try JSONValue(encoding: updated).objectValue)
        let currentJSON = try #require(try JSONValue(encoding: current).objectValue)
        #expect(!ClientMetadata.operatorOnlyKeys.isEmpty)
        for key in ClientMetadata.operatorOnlyKeys {
            #expect(currentJSON[key.rawValue] != nil, "set \(key.rawValue) in this test")
            #expect(json[key.rawValue] == currentJSON[key.rawValue], "\(key.rawValue) must survive a client's own update")
        }
        #expect(updated.redirectURIs == ["https://b"])
    }

    @Test func registrationPUTKeepsResourceServerFlag() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let body = #"{"redirect_uris":["https://rp.test/cb"],"token_endpoint_auth_method":"client_secret_basic","scope":"openid"}"#
        let reg = JSONValue.from(await h.engine.register(TransportRequest(method: "POST", path: "/register",
            headers: [Param("authorization", "Bearer test-initial-access-token"), Param("content-type", "application/json")], body: Data(body.utf8))))
        let id = try #require(reg["client_id"]?.stringValue)
        let rat = try #require(reg["registration_access_token"]?.stringValue)
        var stored = try #require(try await h.engine.storage.client(id: id))
        stored.metadata.resourceServer = true
        try await h.engine.storage.updateClient(stored)
        let put = await h.engine.manageRegistration(TransportRequest(method: "PUT", path: "/register/" + id,
            headers: [Param("authorization", "Bearer " + rat), Param("content-type", "application/json")],
            body: Data(#"{"client_id":"\#(id)","redirect_uris":["https://rp.test/cb2"],"token_endpoint_auth_method":"client_secret_basic","scope":"openid"}"#.utf8)),
            clientID: id)
        #expect(put.status == 200, "\(String(decoding: put.body, as: UTF8.self))")
        #expect(try await h.engine.storage.client(id: id)?.metadata.resourceServer == true)
        #expect(try await h.engine.storage.client(id: id)?.metadata.redirectURIs == ["https://rp.test/cb2"])
        // The client cannot set it itself either.
        let own = await h.engine.manageRegistration(TransportRequest(method: "PUT", path: "/register/" + id,
            headers: [Param("authorization", "Bearer " + rat), Param("content-type", "application/json")],
            body: Data(#"{"redirect_uris":["https://rp.test/cb"],"strongroom_resource_server":false}"#.utf8)), clientID: id)
        #expect(own.status == 400 && Self.error(own) == "invalid_client_metadata")
    }

    // MARK: item 6 — PKCE for public clients in every profile; plain refused by default

    @Test func plainOAuthPublicClientNeedsPKCEAndS256() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let pkce = H.pkce()
        let base: [(String, String)] = [("client_id", "public-plain"), ("redirect_uri", H.redirect), ("response_type", "code"),
                                        ("scope", "openid profile"), ("state", "s")]
        let without = await h.engine.authorize(H.get("/authorize", base), session: nil)
        guard case .respond(let r1) = without else { Issue.record("\(without)"); return }
        #expect(H.redirectParams(r1)["error"] == "invalid_request")
        #expect(H.redirectParams(r1)["error_description"] == "code_challenge is required for public clients (PKCE, RFC 9700 sec. 2.1.1)")
        let plain = await h.engine.authorize(H.get("/authorize", base + [("code_challenge", pkce.verifier), ("code_challenge_method", "plain")]), session: nil)
        guard case .respond(let r2) = plain else { Issue.record("\(plain)"); return }
        #expect(H.redirectParams(r2)["error"] == "invalid_request")
        #expect(H.redirectParams(r2)["error_description"] == "code_challenge_method plain is not allowed")
        let good = await h.engine.authorize(H.get("/authorize", base + [("code_challenge", pkce.challenge), ("code_challenge_method", "S256")]), session: nil)
        guard case .interact = good else { Issue.record("expected login, got \(good)"); return }
        // A confidential client may still leave PKCE out in plain OAuth.
        let confidential = await h.engine.authorize(H.get("/authorize", [("client_id", "plain"), ("redirect_uri", H.redirect),
                                                                         ("response_type", "code"), ("scope", "openid")]), session: nil)
        guard case .interact = confidential else { Issue.record("expected login, got \(confidential)"); return }
        #expect(ServiceSettings(issuer: "https://x").allowPlainPKCE == false)
    }

    // MARK: item 9 — claims only as consented

    @Test func promptNoneWithClaimsNeverConsentedIsConsentRequired() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let base: [(String, String)] = [("client_id", "plain"), ("redirect_uri", H.redirect), ("response_type", "code"), ("scope", "openid"), ("state", "s")]
        // First visit: consent to openid only, and keep the browser session.
        let first = await h.engine.authorize(H.get("/authorize", base), session: nil)
        guard case .interact(let ticket) = first else { Issue.record("\(first)"); return }
        var loginRequest = H.post("/login", [])
        loginRequest.browserBinding = ticket.browserCookie
        let login = await h.engine.login(interactionID: ticket.interactionID, username: "alice", password: "wonderland-test", request: loginRequest)
        guard case .loggedIn(let session, .interact(let consentTicket)) = login else { Issue.record("\(login)"); return }
        _ = await h.engine.consent(interactionID: consentTicket.interactionID, approve: true, csrfToken: session.csrfToken, session: session,
                                   request: H.post("/consent", []))
        // Same scopes with prompt=none: answered without the pages.
        let again = await h.engine.authorize(H.get("/authorize", base + [("prompt", "none")]), session: session)
        guard case .respond(let ok) = again else { Issue.record("\(again)"); return }
        #expect(H.redirectParams(ok)["code"] != nil)
        // Asking for the email claim, never consented: consent_required, not a silent release.
        let claims = #"{"userinfo":{"email":{"essential":true}}}"#
        let more = await h.engine.authorize(H.get("/authorize", base + [("prompt", "none"), ("claims", claims)]), session: session)
        guard case .respond(let refused) = more else { Issue.record("\(more)"); return }
        #expect(H.redirectParams(refused)["error"] == "consent_required")
        #expect(H.redirectParams(refused)["code"] == nil)
        // Without prompt=none the consent page is shown again.
        let page = await h.engine.authorize(H.get("/authorize", base + [("claims", claims)]), session: session)
        guard case .interact(let t) = page else { Issue.record("\(page)"); return }
        #expect(t.step == .consent && t.claims.map(\.name) == ["email"])
    }

    // MARK: item 10 — theft detection wins its race

    /// Redeems a fresh code of `plain` in storage and issues its tokens the way the token endpoint
    /// does; with `revokingFirst` the code's lineage is revoked in between, as a concurrent replay
    /// would after the winner redeemed the code but before its tokens were written.
    func redeemAndIssue(_ h: H, revokingFirst: Bool) async throws -> [String: JSONValue] {
        let code = try await codeFlowForPlain(h)
        guard case .redeemed(let record) = try await h.engine.storage.redeemCode(hash: h.engine.hasher.hash(code), clientID: "plain", at: h.clock.now()) else {
            Issue.record("code not redeemable"); return [:]
        }
        if revokingFirst { await h.engine.lineage.revoke(.code(record.id)) }
        let auth = try await h.engine.clientAuthenticator.authenticate(H.post("/token", [], headers: [Self.plainBasic]), form: [], endpointPath: EndpointPath.token)
        return try await h.engine.tokenIssuer.issue(auth: auth, subject: record.subject, scopes: record.scopes, codeID: record.id, grantID: record.grantID,
                                                    familyID: nil, binding: nil, profile: record.profile, authTime: record.authTime, acr: nil,
                                                    nonce: nil, claimsRequest: nil, withIDToken: true, withRefresh: true)
    }

    @Test func tokensIssuedAfterTheLineageWasRevokedAreDeadWhenHandedOut() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        // The request that consumed the code is answered (exactly one winner per race), but what
        // it is given is revoked before it leaves, and no ID token (it could not be recalled).
        let body = try await redeemAndIssue(h, revokingFirst: true)
        #expect(body["id_token"] == nil)
        let access = try #require(body["access_token"]?.stringValue)
        let refresh = try #require(body["refresh_token"]?.stringValue)
        #expect(try await h.engine.storage.token(hash: h.engine.hasher.hash(access))?.revokedAt != nil)
        #expect(try await h.engine.storage.token(hash: h.engine.hasher.hash(refresh))?.revokedAt != nil)
        let intro = JSONValue.from(await h.engine.introspect(H.post("/introspect", [("token", access)], headers: [Self.plainBasic])))
        #expect(intro["active"]?.boolValue == false)
        let r = await h.engine.token(H.post("/token", [("grant_type", "refresh_token"), ("refresh_token", refresh)], headers: [Self.plainBasic]))
        #expect(r.status == 400 && Self.error(r) == "invalid_grant")
    }

    @Test func aLineageNotRevokedKeepsTheTokensIssued() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let body = try await redeemAndIssue(h, revokingFirst: false)
        #expect(body["id_token"]?.stringValue != nil)
        let access = try #require(body["access_token"]?.stringValue)
        let intro = JSONValue.from(await h.engine.introspect(H.post("/introspect", [("token", access)], headers: [Self.plainBasic])))
        #expect(intro["active"]?.boolValue == true)
    }

    @Test func aTokenWhoseLineageIsMarkedRevokedIsRefusedAtUse() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let code = try await codeFlowForPlain(h)
        let body = JSONValue.from(await h.engine.token(H.post("/token", [("grant_type", "authorization_code"), ("code", code),
                                                                         ("redirect_uri", H.redirect)], headers: [Self.plainBasic])))
        let access = try #require(body["access_token"]?.stringValue)
        let refresh = try #require(body["refresh_token"]?.stringValue)
        let userinfo = TransportRequest(method: "GET", path: "/userinfo", headers: [Param("authorization", "Bearer " + access)])
        #expect(await h.engine.userinfo(userinfo).status == 200)
        // Only the marker (as a node that lost the race would leave it before its UPDATE reached
        // these rows): the token is dead at once, at every use.
        let record = try #require(try await h.engine.storage.token(hash: h.engine.hasher.hash(access)))
        _ = try await h.engine.storage.remember(namespace: LineageRevoker.namespace, value: Lineage.code(try #require(record.codeID)).key,
                                                expiresAt: h.clock.now().addingTimeInterval(600), now: h.clock.now())
        let refused = await h.engine.userinfo(userinfo)
        #expect(refused.status == 401 && Self.error(refused) == "invalid_token")
        let r = await h.engine.token(H.post("/token", [("grant_type", "refresh_token"), ("refresh_token", refresh)], headers: [Self.plainBasic]))
        #expect(r.status == 400 && Self.error(r) == "invalid_grant")
        let intro = JSONValue.from(await h.engine.introspect(H.post("/introspect", [("token", access)], headers: [Self.plainBasic])))
        #expect(intro["active"]?.boolValue == false)
    }

    @Test func concurrentRedemptionsOfOneCodeLeaveNoLiveToken() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        for _ in 0..<20 {
            let code = try await codeFlowForPlain(h)
            let request = H.post("/token", [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", H.redirect)], headers: [Self.plainBasic])
            async let a = h.engine.token(request)
            async let b = h.engine.token(request)
            let (ra, rb) = await (a, b)
            // Exactly one redemption wins the code; the replay is refused with invalid_grant and
            // revokes the lineage, so the winner's tokens are dead at first use — never live.
            #expect([ra, rb].filter { $0.status == 200 }.count == 1)
            for r in [ra, rb] where r.status != 200 { #expect(r.status == 400 && Self.error(r) == "invalid_grant") }
            for r in [ra, rb] where r.status == 200 {
                let access = try #require(JSONValue.from(r)["access_token"]?.stringValue)
                let use = await h.engine.userinfo(TransportRequest(method: "GET", path: "/userinfo", headers: [Param("authorization", "Bearer " + access)]))
                #expect(use.status == 401, "the loser's refusal revokes what the winner got")
            }
        }
    }
}

/// Signing out is the engine's decision (the HTTP layer only carries the form): a post without
/// the session's CSRF token keeps the session.
@Suite(.serialized) struct EngineLogoutTests {
    typealias H = EngineHarness

    @Test func logoutNeedsTheSessionsCSRFToken() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let out = await h.engine.authorize(H.get("/authorize", [("client_id", "plain"), ("redirect_uri", H.redirect), ("response_type", "code"),
                                                                ("scope", "openid")]), session: nil)
        guard case .interact(let ticket) = out else { Issue.record("\(out)"); return }
        var loginRequest = H.post("/login", [])
        loginRequest.browserBinding = ticket.browserCookie
        let login = await h.engine.login(interactionID: ticket.interactionID, username: "alice", password: "wonderland-test", request: loginRequest)
        guard case .loggedIn(let session, _) = login, let cookie = session.cookieValue else { Issue.record("\(login)"); return }
        #expect(await h.engine.logout(cookieValue: cookie, csrfToken: "forged") == false)
        #expect(await h.engine.session(cookieValue: cookie) != nil)
        #expect(await h.engine.logout(cookieValue: cookie, csrfToken: session.csrfToken) == true)
        #expect(await h.engine.session(cookieValue: cookie) == nil)
        #expect(await h.engine.logout(cookieValue: "no-such-session", csrfToken: "") == true)
    }
}

/// Item 14: no caller-chosen text adds or forges a log line.
@Suite struct LogLineTests {
    @Test func controlCharactersAreEscapedAndFieldsQuoted() {
        let line = LogLineHandler.format(date: Date(timeIntervalSince1970: 0), level: .info, label: "strongroom",
                                         message: "refused: scope 'openid\nINFO forged'",
                                         metadata: ["scope": .string("a\r\n2026 error admin=1"), "k\n": .string("v\u{2028}"), "plain": .string("x")])
        #expect(line.filter { $0 == "\n" || $0 == "\r\n" }.count == 1)
        #expect(line.hasSuffix("\n"))
        #expect(line.contains(#"scope 'openid\nINFO forged'"#))
        #expect(line.contains(#"scope="a\r\n2026 error admin=1""#))
        #expect(line.contains(#"k\n=v\u{2028}"#))
        #expect(line.contains(" plain=x"))
        #expect(!line.dropLast().unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x2028 })
    }

    @Test func engineRefusalLogsCarryEscapedCallerInput() async throws {
        let lines = LockedLines()
        let logger = Logger(label: "t") { label in
            var h = LogLineHandler(label: label) { lines.append($0) }
            h.logLevel = .debug
            return h
        }
        logger.info("refused: grant_type \("x\nFORGED line")", metadata: ["detail": "a\nb"])
        #expect(lines.all.count == 1)
        #expect(lines.all[0].filter { $0 == "\n" }.count == 1)
    }
}

final class LockedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ s: String) { lock.withLock { lines.append(s) } }
    var all: [String] { lock.withLock { lines } }
}
