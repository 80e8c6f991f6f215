import Foundation
import Testing
@testable import StrongroomCore
@testable import StrongroomEngine
@testable import StrongroomJOSE
@testable import StrongroomStorage

/// Refusals added after a security review: each with the request that passes and the one refused.
@Suite(.serialized) struct EngineHardeningTests {
    typealias H = EngineHarness

    static func dcr(_ h: H, _ body: JSONValue) async -> EngineResponse {
        var req = TransportRequest(method: "POST", path: "/register", headers: [Param("authorization", "Bearer test-initial-access-token"), Param("content-type", "application/json")])
        req.body = body.serialized()
        return await h.engine.register(req)
    }

    @Test func registrationCannotChooseItsOwnProfile() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let body: JSONValue = ["redirect_uris": ["https://rp.test/cb"], "token_endpoint_auth_method": "client_secret_basic",
                               "grant_types": ["client_credentials"], "response_types": [], "scope": "profile"]
        #expect(await Self.dcr(h, body).status == 201)
        var forced = body.objectValue!
        forced["strongroom_forced_profile"] = "oauth"
        let r = await Self.dcr(h, .object(forced))
        #expect(r.status == 400)
        #expect(JSONValue.from(r)["error"]?.stringValue == "invalid_client_metadata")
        var rs = body.objectValue!
        rs["strongroom_resource_server"] = true
        #expect(await Self.dcr(h, .object(rs)).status == 400)
    }

    @Test func introspectionOnlyOwnTokensUnlessResourceServer() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let basic = "Basic " + Data("plain:plain-secret-0123456789-0123456789".utf8).base64EncodedString()
        let token = await h.engine.token(H.post("/token", [("grant_type", "client_credentials"), ("scope", "profile")], headers: [("authorization", basic)]))
        let access = try #require(JSONValue.from(token)["access_token"]?.stringValue)
        // Its own client sees it.
        let own = await h.engine.introspect(H.post("/introspect", [("token", access)], headers: [("authorization", basic)]))
        #expect(JSONValue.from(own)["active"]?.boolValue == true)
        // Another confidential client without the resource-server designation does not.
        let other = try await h.engine.clients.register(ClientMetadata(tokenEndpointAuthMethod: .clientSecretBasic, grantTypes: [.clientCredentials],
                                                                       responseTypes: [], scope: "profile"), source: "test")
        let otherBasic = "Basic " + Data("\(other.client.clientID):\(other.clientSecret!)".utf8).base64EncodedString()
        let foreign = await h.engine.introspect(H.post("/introspect", [("token", access)], headers: [("authorization", otherBasic)]))
        #expect(JSONValue.from(foreign)["active"]?.boolValue == false)
        var m = other.client.metadata
        m.resourceServer = true
        _ = try await h.engine.clients.update(clientID: other.client.clientID, metadata: m)
        let rs = await h.engine.introspect(H.post("/introspect", [("token", access)], headers: [("authorization", otherBasic)]))
        #expect(JSONValue.from(rs)["active"]?.boolValue == true)
    }

    @Test func advancedJARMWithOpenIDNeedsNonce() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let ro = try h.requestObject(["response_type": "code", "response_mode": "jwt"], drop: ["nonce"])
        guard case .respond(let r) = await h.engine.authorize(H.get("/authorize", [("client_id", "fapi"), ("request", ro), ("nonce", "outside")]), session: nil) else {
            Issue.record("expected a redirect"); return
        }
        let jarm = try UnverifiedJWS(compact: try #require(H.redirectParams(r)["response"]))
        #expect(jarm.payload["error"]?.stringValue == "invalid_request")
        #expect(jarm.payload["code"] == nil)
    }

    @Test func advancedRequestObjectMustCarryScope() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let ro = try h.requestObject([:], drop: ["scope"])
        guard case .respond(let r) = await h.engine.authorize(H.get("/authorize", [("client_id", "fapi"), ("request", ro), ("scope", "openid payments")]), session: nil) else {
            Issue.record("expected a redirect"); return
        }
        #expect(H.redirectParams(r)["error"] == "invalid_request_object")
    }

    @Test func anyProfileRefusesExpiredOrMisaddressedRequestObjects() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let now = Int(h.clock.now().timeIntervalSince1970)
        let pkce = H.pkce()
        let base: [String: JSONValue] = ["scope": "openid accounts", "response_type": "code", "code_challenge": .string(pkce.challenge), "code_challenge_method": "S256"]
        let good = try h.requestObject(base)
        guard case .interact = await h.engine.authorize(H.get("/authorize", [("client_id", "fapi"), ("request", good)]), session: nil) else {
            Issue.record("a valid Baseline request object was refused"); return
        }
        for bad in [["exp": JSONValue.number(Double(now - 3600))], ["aud": "https://other-as.example"], ["nbf": .number(Double(now + 3600)), "exp": .number(Double(now + 7200))]] {
            let ro = try h.requestObject(base.merging(bad) { _, b in b })
            guard case .respond(let r) = await h.engine.authorize(H.get("/authorize", [("client_id", "fapi"), ("request", ro)]), session: nil) else {
                Issue.record("expected a redirect for \(bad)"); return
            }
            #expect(H.redirectParams(r)["error"] == "invalid_request_object", "\(bad)")
        }
    }

    @Test func queryJWTIsRefusedWithAnIDToken() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let ro = try h.requestObject(["response_mode": "query.jwt"])
        guard case .respond(let r) = await h.engine.authorize(H.get("/authorize", [("client_id", "fapi"), ("request", ro)]), session: nil) else {
            Issue.record("expected a redirect"); return
        }
        let location = try #require(r.header("Location"))
        #expect(location.hasPrefix(H.redirect + "#response="))
    }

    @Test func deletedClientsTokensStopWorking() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let basic = "Basic " + Data("plain:plain-secret-0123456789-0123456789".utf8).base64EncodedString()
        let token = await h.engine.token(H.post("/token", [("grant_type", "client_credentials"), ("scope", "openid")], headers: [("authorization", basic)]))
        // client_credentials cannot carry openid: refused.
        #expect(token.status == 400)
        let ok = await h.engine.token(H.post("/token", [("grant_type", "client_credentials"), ("scope", "profile")], headers: [("authorization", basic)]))
        let access = try #require(JSONValue.from(ok)["access_token"]?.stringValue)
        let userinfoLike = TransportRequest(method: "GET", path: "/userinfo", headers: [Param("authorization", "Bearer " + access)])
        #expect(await h.engine.userinfo(userinfoLike).status == 403)  // valid token, no openid scope
        #expect(try await h.engine.clients.remove(clientID: "plain"))
        #expect(await h.engine.userinfo(userinfoLike).status == 401)
    }

    @Test func tokenRequestRepeatsRedirectURIWhenTheAuthorizationRequestHadOne() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let basic = "Basic " + Data("plain:plain-secret-0123456789-0123456789".utf8).base64EncodedString()
        func code(_ params: [(String, String)]) async throws -> String {
            let r = try await h.approve(await h.engine.authorize(H.get("/authorize", params), session: nil))
            return try #require(H.redirectParams(r)["code"])
        }
        let with = try await code([("client_id", "plain"), ("redirect_uri", H.redirect), ("response_type", "code"), ("scope", "openid")])
        let missing = await h.engine.token(H.post("/token", [("grant_type", "authorization_code"), ("code", with)], headers: [("authorization", basic)]))
        #expect(JSONValue.from(missing)["error"]?.stringValue == "invalid_grant")
        let without = try await code([("client_id", "plain"), ("response_type", "code"), ("scope", "openid")])
        let fine = await h.engine.token(H.post("/token", [("grant_type", "authorization_code"), ("code", without)], headers: [("authorization", basic)]))
        #expect(fine.status == 200, "\(String(decoding: fine.body, as: UTF8.self))")
    }

    @Test func anotherClientCannotBurnACode() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let r = try await h.approve(await h.engine.authorize(H.get("/authorize", [("client_id", "plain"), ("redirect_uri", H.redirect), ("response_type", "code"), ("scope", "openid")]), session: nil))
        let code = try #require(H.redirectParams(r)["code"])
        // The FAPI client presents plain's code: refused, and the code stays usable for plain.
        let stolen = await h.engine.token(H.post("/token", [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", H.redirect),
                                                            ("client_assertion_type", Engine.assertionType), ("client_assertion", try h.assertion())], cert: h.fapiCert))
        #expect(JSONValue.from(stolen)["error"]?.stringValue == "invalid_grant")
        let basic = "Basic " + Data("plain:plain-secret-0123456789-0123456789".utf8).base64EncodedString()
        let mine = await h.engine.token(H.post("/token", [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", H.redirect)], headers: [("authorization", basic)]))
        #expect(mine.status == 200, "\(String(decoding: mine.body, as: UTF8.self))")
    }

    @Test func repeatedWrongPasswordsLockTheInteractionAndTheAccount() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let out = await h.engine.authorize(H.get("/authorize", [("client_id", "plain"), ("redirect_uri", H.redirect), ("response_type", "code"), ("scope", "openid")]), session: nil)
        guard case .interact(let t) = out else { Issue.record("expected login"); return }
        var req = H.post("/login", [])
        req.browserBinding = t.browserCookie
        for attempt in 1...LoginThrottle.attemptsPerInteraction {
            let r = await h.engine.login(interactionID: t.interactionID, username: "alice", password: "wrong-\(attempt)", request: req)
            if attempt < LoginThrottle.attemptsPerInteraction {
                guard case .failed(.interact(let retry)) = r else { Issue.record("attempt \(attempt): \(r)"); return }
                #expect(retry.loginHint == "alice")
            } else {
                guard case .failed(.errorPage(let e)) = r else { Issue.record("expected the interaction to be spent: \(r)"); return }
                #expect(e.code == .accessDenied)
            }
        }
        // The account is now locked out for a while, even with the right password, in a new interaction.
        guard case .interact(let t2) = await h.engine.authorize(H.get("/authorize", [("client_id", "plain"), ("redirect_uri", H.redirect), ("response_type", "code"), ("scope", "openid")]), session: nil) else {
            Issue.record("expected login"); return
        }
        var req2 = H.post("/login", [])
        req2.browserBinding = t2.browserCookie
        guard case .failed(.interact(let locked)) = await h.engine.login(interactionID: t2.interactionID, username: "alice", password: "wonderland-test", request: req2) else {
            Issue.record("expected a lock-out"); return
        }
        #expect(locked.message?.contains("Too many") == true)
    }
}
