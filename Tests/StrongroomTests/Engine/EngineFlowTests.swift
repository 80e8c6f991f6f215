import Foundation
import Testing
@testable import StrongroomCore
@testable import StrongroomEngine
@testable import StrongroomJOSE
@testable import StrongroomStorage

/// Whole flows in-process: the same client held to Baseline for `accounts` and Advanced for
/// `payments`, and the refusals each profile adds.
@Suite(.serialized) struct EngineFlowTests {
    typealias H = EngineHarness

    @Test func advancedHybridFlowWithCertificateBoundToken() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let ro = try h.requestObject(["claims": ["id_token": ["acr": ["essential": true, "values": ["urn:mace:incommon:iap:silver"]]]]])
        let outcome = await h.engine.authorize(H.get("/authorize", [("client_id", "fapi"), ("request", ro), ("response_type", "code id_token"), ("scope", "openid payments")]), session: nil)
        guard case .interact(let t) = outcome else { Issue.record("expected login, got \(outcome)"); return }
        #expect(t.profile == .fapi1Advanced)
        let r = try await h.approve(outcome)
        #expect(r.header("Location")?.hasPrefix(H.redirect + "#") == true)
        let p = H.redirectParams(r)
        #expect(p["state"] == "st-1")
        #expect(p["iss"] == H.issuer)
        let code = try #require(p["code"])
        let idToken = try #require(p["id_token"])
        let claims = try UnverifiedJWS(compact: idToken).payload
        #expect(claims["c_hash"]?.stringValue == HalfHash.compute(code, algorithm: .ps256))
        #expect(claims["s_hash"]?.stringValue == HalfHash.compute("st-1", algorithm: .ps256))
        #expect(claims["nonce"]?.stringValue == "n-1")
        #expect(claims["acr"]?.stringValue == "urn:mace:incommon:iap:silver")

        // Token request: private_key_jwt over mTLS; the token is bound to the certificate.
        let token = await h.engine.token(H.post("/token", [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", H.redirect),
                                                           ("client_assertion_type", Engine.assertionType), ("client_assertion", try h.assertion())], cert: h.fapiCert))
        #expect(token.status == 200, "\(String(decoding: token.body, as: UTF8.self))")
        let body = JSONValue.from(token)
        let access = try #require(body["access_token"]?.stringValue)
        #expect(body["scope"]?.stringValue == "openid payments")
        #expect(body["id_token"] != nil)

        // The resource API accepts it with the bound certificate only.
        var ok = TransportRequest(method: "GET", path: "/api/accounts", headers: [Param("authorization", "bearer " + access)], clientCertificate: h.fapiCert)
        #expect(await h.engine.resource(ok).status == 200)
        ok.clientCertificate = h.otherCert
        let wrong = await h.engine.resource(ok)
        #expect(wrong.status == 401)
        #expect(wrong.header("WWW-Authenticate")?.contains("invalid_token") == true)
        ok.clientCertificate = nil
        #expect(await h.engine.resource(ok).status == 401)

        // Reusing the code fails and revokes the token it issued.
        let again = await h.engine.token(H.post("/token", [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", H.redirect),
                                                           ("client_assertion_type", Engine.assertionType), ("client_assertion", try h.assertion())], cert: h.fapiCert))
        #expect(again.status == 400)
        #expect(JSONValue.from(again)["error"]?.stringValue == "invalid_grant")
        ok.clientCertificate = h.fapiCert
        #expect(await h.engine.resource(ok).status == 401)
    }

    @Test func sameClientBaselineForAccountsAdvancedForPayments() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let pkce = H.pkce()
        let base: [(String, String)] = [("client_id", "fapi"), ("redirect_uri", H.redirect), ("response_type", "code"), ("state", "s"), ("nonce", "n"),
                                        ("code_challenge", pkce.challenge), ("code_challenge_method", "S256")]
        let accounts = await h.engine.authorize(H.get("/authorize", base + [("scope", "openid accounts")]), session: nil)
        guard case .interact(let t) = accounts else { Issue.record("expected login for accounts, got \(accounts)"); return }
        #expect(t.profile == .fapi1Baseline)
        let payments = await h.engine.authorize(H.get("/authorize", base + [("scope", "openid payments")]), session: nil)
        guard case .respond(let r) = payments else { Issue.record("expected a redirected error for payments, got \(payments)"); return }
        #expect(H.redirectParams(r)["error"] == "invalid_request")
        #expect(H.redirectParams(r)["state"] == "s")
    }

    @Test func baselineRequiresPKCEAndStateButAcceptsPublicClient() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let pkce = H.pkce()
        let good: [(String, String)] = [("client_id", "public"), ("redirect_uri", H.redirect), ("response_type", "code"), ("scope", "accounts"),
                                        ("state", "s1"), ("code_challenge", pkce.challenge), ("code_challenge_method", "S256")]
        let r = try await h.approve(await h.engine.authorize(H.get("/authorize", good), session: nil))
        let code = try #require(H.redirectParams(r)["code"])
        let wrongVerifier = await h.engine.token(H.post("/token", [("grant_type", "authorization_code"), ("code", code), ("client_id", "public"),
                                                                   ("redirect_uri", H.redirect), ("code_verifier", H.pkce().verifier)]))
        #expect(JSONValue.from(wrongVerifier)["error"]?.stringValue == "invalid_grant")

        let noPKCE = await h.engine.authorize(H.get("/authorize", good.filter { !$0.0.hasPrefix("code_challenge") }), session: nil)
        guard case .respond(let e1) = noPKCE else { Issue.record("\(noPKCE)"); return }
        #expect(H.redirectParams(e1)["error"] == "invalid_request")
        let plain = await h.engine.authorize(H.get("/authorize", good.map { $0.0 == "code_challenge_method" ? ($0.0, "plain") : $0 }), session: nil)
        guard case .respond(let e2) = plain else { Issue.record("\(plain)"); return }
        #expect(H.redirectParams(e2)["error"] == "invalid_request")
        let noState = await h.engine.authorize(H.get("/authorize", good.filter { $0.0 != "state" }), session: nil)
        guard case .respond(let e3) = noState else { Issue.record("\(noState)"); return }
        #expect(H.redirectParams(e3)["error"] == "invalid_request")
    }

    @Test func unregisteredRedirectShowsErrorPageNeverRedirects() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let out = await h.engine.authorize(H.get("/authorize", [("client_id", "plain"), ("redirect_uri", "https://evil.test/cb"), ("response_type", "code"), ("scope", "openid")]), session: nil)
        guard case .errorPage(let e) = out else { Issue.record("expected error page, got \(out)"); return }
        #expect(e.code == .invalidRequest)
        #expect(!e.redirectable)
        let unknown = await h.engine.authorize(H.get("/authorize", [("client_id", "nobody"), ("response_type", "code")]), session: nil)
        guard case .errorPage = unknown else { Issue.record("expected error page, got \(unknown)"); return }
    }

    @Test(arguments: ["exp", "nbf", "aud"])
    func requestObjectMissingClaimRefused(_ claim: String) async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let ro = try h.requestObject([:], drop: [claim])
        let out = await h.engine.authorize(H.get("/authorize", [("client_id", "fapi"), ("request", ro)]), session: nil)
        guard case .respond(let r) = out else { Issue.record("expected a redirect, got \(out)"); return }
        #expect(H.redirectParams(r)["error"] == "invalid_request_object")
    }

    @Test func requestObjectSignedByOtherKeyOrExpiredRefused() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let foreign = try h.requestObject([:], key: try ServerSigningKey.generate(.ps256))
        if case .errorPage(let e) = await h.engine.authorize(H.get("/authorize", [("client_id", "fapi"), ("request", foreign)]), session: nil) {
            #expect(e.code == .invalidRequestObject)
        } else { Issue.record("expected an error page for a foreign signature") }
        let now = Int(h.clock.now().timeIntervalSince1970)
        let old = try h.requestObject(["nbf": .number(Double(now - 4200)), "exp": .number(Double(now + 60))])
        guard case .respond(let r) = await h.engine.authorize(H.get("/authorize", [("client_id", "fapi"), ("request", old)]), session: nil) else {
            Issue.record("expected redirect"); return
        }
        #expect(H.redirectParams(r)["error"] == "invalid_request_object")
        let long = try h.requestObject(["nbf": .number(Double(now - 10)), "exp": .number(Double(now + 3700))])
        guard case .respond(let r2) = await h.engine.authorize(H.get("/authorize", [("client_id", "fapi"), ("request", long)]), session: nil) else {
            Issue.record("expected redirect"); return
        }
        #expect(H.redirectParams(r2)["error"] == "invalid_request_object")
    }

    @Test func parThenJARM() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let pkce = H.pkce()
        let ro = try h.requestObject(["response_type": "code", "response_mode": "jwt", "code_challenge": .string(pkce.challenge), "code_challenge_method": "S256"])
        let par = await h.engine.pushedAuthorizationRequest(H.post("/par", [("client_id", "fapi"), ("request", ro),
                                                                            ("client_assertion_type", Engine.assertionType), ("client_assertion", try h.assertion(aud: .string(H.issuer)))], cert: h.fapiCert))
        #expect(par.status == 201, "\(String(decoding: par.body, as: UTF8.self))")
        let uri = try #require(JSONValue.from(par)["request_uri"]?.stringValue)
        let r = try await h.approve(await h.engine.authorize(H.get("/authorize", [("client_id", "fapi"), ("request_uri", uri)]), session: nil))
        let response = try #require(H.redirectParams(r)["response"])
        let jarm = try UnverifiedJWS(compact: response)
        let verified = try JWSVerifier.verify(jarm, keys: try JWKSet(json: h.engine.keys.ring.jwks), policy: VerificationPolicy(allowedAlgorithms: [.ps256]))
        #expect(verified.payload["iss"]?.stringValue == H.issuer)
        #expect(verified.payload["aud"]?.stringValue == "fapi")
        #expect(verified.payload["code"] != nil)
        // The request_uri is single-use.
        let reuse = await h.engine.authorize(H.get("/authorize", [("client_id", "fapi"), ("request_uri", uri)]), session: nil)
        guard case .errorPage(let e) = reuse else { Issue.record("expected error page, got \(reuse)"); return }
        #expect(e.code == .invalidRequestURI)
    }

    @Test func clientAssertionRefusals() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        func call(_ assertion: String) async -> EngineResponse {
            await h.engine.token(H.post("/token", [("grant_type", "client_credentials"), ("scope", "accounts"),
                                                   ("client_assertion_type", Engine.assertionType), ("client_assertion", assertion)], cert: h.fapiCert))
        }
        let good = await call(try h.assertion())
        #expect(good.status == 200, "\(String(decoding: good.body, as: UTF8.self))")
        let jti = UUID().uuidString
        #expect(await call(try h.assertion(jti: jti)).status == 200)
        let replay = await call(try h.assertion(jti: jti))
        #expect(replay.status == 401)
        #expect(JSONValue.from(replay)["error"]?.stringValue == "invalid_client")
        #expect(replay.header("WWW-Authenticate") != nil)
        #expect(await call(try h.assertion(aud: "https://other.test/token")).status == 401)
        #expect(await call(try h.assertion(exp: -30)).status == 401)
        #expect(await call(try h.assertion(key: h.otherKey)).status == 401)
        // alg none
        let none = Base64URL.encode(#"{"alg":"none"}"#) + "." + Base64URL.encode(#"{"iss":"fapi","sub":"fapi","aud":"https://as.test/token","exp":9999999999,"jti":"x"}"#) + "."
        #expect(await call(none).status == 401)
    }

    @Test func tlsClientAuthAndWrongCertificate() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let ok = await h.engine.token(H.post("/token", [("grant_type", "client_credentials"), ("scope", "accounts"), ("client_id", "fapi-tls")], cert: h.otherCert))
        #expect(ok.status == 200, "\(String(decoding: ok.body, as: UTF8.self))")
        let wrong = await h.engine.token(H.post("/token", [("grant_type", "client_credentials"), ("scope", "accounts"), ("client_id", "fapi-tls")], cert: h.fapiCert))
        #expect(wrong.status == 401)
        let none = await h.engine.token(H.post("/token", [("grant_type", "client_credentials"), ("scope", "accounts"), ("client_id", "fapi-tls")]))
        #expect(none.status == 401)
    }

    @Test func tokenQueryStringRefusedAndMalformedInputs() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let q = await h.engine.resource(TransportRequest(method: "GET", path: "/api/accounts", query: [Param("access_token", "abc")]))
        #expect(q.status == 400)
        let dup = await h.engine.token(H.post("/token", [("grant_type", "client_credentials"), ("grant_type", "client_credentials")]))
        #expect(dup.status == 400)
        #expect(dup.header("Cache-Control") == "no-store")
        var garbage = TransportRequest(method: "POST", path: "/register", headers: [Param("authorization", "Bearer test-initial-access-token"), Param("content-type", "application/json")])
        garbage.body = Data("{not json".utf8)
        let g = await h.engine.register(garbage)
        #expect(g.status == 400)
        #expect(JSONValue.from(g)["error"]?.stringValue == "invalid_client_metadata")
    }

    @Test func hybridWithQueryResponseModeErrsInTheFragment() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let ro = try h.requestObject(["response_mode": "query"])
        let out = await h.engine.authorize(H.get("/authorize", [("client_id", "fapi"), ("request", ro)]), session: nil)
        guard case .respond(let r) = out else { Issue.record("expected a redirect, got \(out)"); return }
        #expect(r.header("Location")?.hasPrefix(H.redirect + "#") == true)
        #expect(H.redirectParams(r)["error"] == "invalid_request")
        #expect(H.redirectParams(r)["state"] == "st-1")
    }

    @Test func clientCacheSeesRegistryChangesAtOnce() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        #expect(try await h.engine.clients.lookup("plain") != nil)
        var m = try #require(try await h.engine.clients.lookup("plain")).metadata
        m.clientName = "Renamed"
        _ = try await h.engine.clients.update(clientID: "plain", metadata: m)
        #expect(try await h.engine.clients.lookup("plain")?.metadata.clientName == "Renamed")
        #expect(try await h.engine.clients.remove(clientID: "plain"))
        #expect(try await h.engine.clients.lookup("plain") == nil)
        let token = await h.engine.token(H.post("/token", [("grant_type", "client_credentials")],
                                                headers: [("authorization", "Basic " + Data("plain:plain-secret-0123456789-0123456789".utf8).base64EncodedString())]))
        #expect(token.status == 401)
    }

    @Test func loginMustComeFromTheBrowserThatStartedTheRequest() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let out = await h.engine.authorize(H.get("/authorize", [("client_id", "plain"), ("redirect_uri", H.redirect), ("response_type", "code"), ("scope", "openid")]), session: nil)
        guard case .interact(let t) = out else { Issue.record("expected login, got \(out)"); return }
        let binding = try #require(t.browserCookie)
        // A forged cross-site POST carries no (or another) binding cookie: refused, no session.
        for wrong in [nil, "someone-elses-browser"] as [String?] {
            var req = H.post("/login", [])
            req.browserBinding = wrong
            let r = await h.engine.login(interactionID: t.interactionID, username: "alice", password: "wonderland-test", request: req)
            guard case .failed(.errorPage(let e)) = r else { Issue.record("expected refusal, got \(r)"); return }
            #expect(e.code == .invalidRequest)
        }
        var req = H.post("/login", [])
        req.browserBinding = binding
        guard case .loggedIn = await h.engine.login(interactionID: t.interactionID, username: "alice", password: "wonderland-test", request: req) else {
            Issue.record("the right browser could not sign in"); return
        }
        // A browser that already has a binding keeps it (no new cookie).
        var again = H.get("/authorize", [("client_id", "plain"), ("redirect_uri", H.redirect), ("response_type", "code"), ("scope", "openid")])
        again.browserBinding = binding
        guard case .interact(let t2) = await h.engine.authorize(again, session: nil) else { Issue.record("expected login"); return }
        #expect(t2.browserCookie == nil)
    }

    @Test func bearerChallenges() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        // RFC 6750 §3.1: no credentials → the bare challenge; a bad token → error="invalid_token".
        let bare = await h.engine.resource(TransportRequest(method: "GET", path: "/api/accounts"))
        #expect(bare.status == 401)
        #expect(bare.header("WWW-Authenticate") == "Bearer realm=\"strongroom\"")
        let bad = await h.engine.resource(TransportRequest(method: "GET", path: "/api/accounts", headers: [Param("authorization", "Bearer nope")]))
        #expect(bad.status == 401)
        #expect(bad.header("WWW-Authenticate")?.contains("error=\"invalid_token\"") == true)
        let scheme = await h.engine.resource(TransportRequest(method: "GET", path: "/api/accounts", headers: [Param("authorization", "Basic abc")]))
        #expect(scheme.status == 401)
    }

    @Test func dynamicRegistrationRefusesNonConformantFAPIClient() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let body: JSONValue = [
            "redirect_uris": ["http://rp.test/cb"], "token_endpoint_auth_method": "client_secret_basic", "scope": "openid payments",
            "response_types": ["code id_token"], "grant_types": ["authorization_code"],
        ]
        var req = TransportRequest(method: "POST", path: "/register", headers: [Param("authorization", "Bearer test-initial-access-token"), Param("content-type", "application/json")])
        req.body = body.serialized()
        let r = await h.engine.register(req)
        #expect(r.status == 400)
        let description = JSONValue.from(r)["error_description"]?.stringValue ?? ""
        #expect(description.contains("must use https"))
        #expect(description.contains("client_secret_basic is not allowed"))
        #expect(description.contains("certificate-bound"))

        let good: JSONValue = [
            "redirect_uris": ["https://rp.test/cb"], "token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "PS256",
            "scope": "openid payments", "response_types": ["code id_token"], "grant_types": ["authorization_code"],
            "jwks": h.fapiKey.publicJWK.json.wrappedInSet, "tls_client_certificate_bound_access_tokens": true,
            "request_object_signing_alg": "PS256", "id_token_signed_response_alg": "PS256",
        ]
        req.body = good.serialized()
        let created = await h.engine.register(req)
        #expect(created.status == 201, "\(String(decoding: created.body, as: UTF8.self))")
        let rat = try #require(JSONValue.from(created)["registration_access_token"]?.stringValue)
        let id = try #require(JSONValue.from(created)["client_id"]?.stringValue)
        let read = await h.engine.manageRegistration(TransportRequest(method: "GET", path: "/register/" + id, headers: [Param("authorization", "Bearer " + rat)]), clientID: id)
        #expect(read.status == 200)
        let bad = await h.engine.manageRegistration(TransportRequest(method: "GET", path: "/register/" + id, headers: [Param("authorization", "Bearer nope")]), clientID: id)
        #expect(bad.status == 401)
    }
}

extension JSONValue {
    var wrappedInSet: JSONValue { ["keys": [self]] }
}
