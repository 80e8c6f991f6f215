import Foundation
import Testing
@testable import StrongroomCore
@testable import StrongroomEngine
@testable import StrongroomJOSE

/// Item 12: a client signs request objects and client assertions with the same key; neither may
/// ever be accepted as the other (RFC 8725 §2.8, §3.11; RFC 9101 §10.8).
@Suite(.serialized) struct EngineJWTConfusionTests {
    typealias H = EngineHarness

    func token(_ h: H, assertion: String) async -> EngineResponse {
        await h.engine.token(H.post("/token", [("grant_type", "client_credentials"), ("scope", "accounts"),
                                               ("client_assertion_type", Engine.assertionType), ("client_assertion", assertion)], cert: h.fapiCert))
    }

    func authorize(_ h: H, request: String) async -> AuthorizationOutcome {
        await h.engine.authorize(H.get("/authorize", [("client_id", "fapi"), ("request", request), ("response_type", "code id_token"),
                                                      ("scope", "openid payments")]), session: nil)
    }

    @Test func aRequestObjectIsNeverAClientAssertion() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let now = Int(h.clock.now().timeIntervalSince1970)
        // A request object that also has every claim an assertion needs.
        let ro = try h.requestObject(["sub": "fapi", "jti": .string(UUID().uuidString), "aud": .string(H.issuer), "exp": .number(Double(now + 60))])
        let r = await token(h, assertion: ro)
        #expect(r.status == 401)
        #expect(JSONValue.from(r)["error"]?.stringValue == "invalid_client")
        #expect(JSONValue.from(r)["error_description"]?.stringValue == "A client assertion must not carry authorization request parameters.")
        // Typed as a request object: refused even without request parameters.
        let typed = try h.fapiKey.sign(payload: ["iss": "fapi", "sub": "fapi", "aud": .string(H.issuer), "exp": .number(Double(now + 60)),
                                                 "jti": .string(UUID().uuidString)], type: "oauth-authz-req+jwt")
        let t = await token(h, assertion: typed)
        #expect(t.status == 401 && JSONValue.from(t)["error"]?.stringValue == "invalid_client")
        // A well-formed assertion, typed as one, is accepted.
        let good = try h.fapiKey.sign(payload: ["iss": "fapi", "sub": "fapi", "aud": .string(H.issuer), "exp": .number(Double(now + 60)),
                                                "jti": .string(UUID().uuidString)], type: "client-authentication+jwt")
        let ok = await token(h, assertion: good)
        #expect(ok.status == 200, "\(String(decoding: ok.body, as: UTF8.self))")
    }

    @Test func aClientAssertionIsNeverARequestObject() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let assertion = try h.assertion(aud: .string(H.issuer))
        #expect(await token(h, assertion: assertion).status == 200)
        guard case .errorPage(let e) = await authorize(h, request: assertion) else { Issue.record("accepted an assertion as a request object"); return }
        #expect(e.code == .invalidRequestObject && e.status == 400)
        #expect(e.errorDescription == "The request object carries no authorization request parameters.")
        // Typed as an assertion: refused even with request parameters.
        let typed = try h.fapiKey.sign(payload: ["iss": "fapi", "aud": .string(H.issuer), "client_id": "fapi", "response_type": "code id_token",
                                                 "scope": "openid payments", "redirect_uri": .string(H.redirect), "nonce": "n", "state": "s",
                                                 "exp": .number(Double(Int(h.clock.now().timeIntervalSince1970) + 300)),
                                                 "nbf": .number(Double(Int(h.clock.now().timeIntervalSince1970) - 10))], type: "client-authentication+jwt")
        guard case .errorPage(let e2) = await authorize(h, request: typed) else { Issue.record("accepted"); return }
        #expect(e2.code == .invalidRequestObject && e2.errorDescription == "The request object's typ must be oauth-authz-req+jwt or JWT.")
    }

    @Test func aJTISpentAsAnAssertionIsNeverARequestObject() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        let jti = UUID().uuidString
        #expect(await token(h, assertion: try h.assertion(aud: .string(H.issuer), jti: jti)).status == 200)
        guard case .errorPage(let e) = await authorize(h, request: try h.requestObject(["jti": .string(jti)])) else {
            Issue.record("accepted"); return
        }
        #expect(e.code == .invalidRequestObject && e.errorDescription == "The request object's jti was already used as a client assertion.")
        // Another jti, and the explicit request-object type, are fine.
        let payload = try UnverifiedJWS(compact: h.requestObject(["jti": .string(UUID().uuidString)])).payload
        let fine = try h.fapiKey.sign(payload: payload, type: "oauth-authz-req+jwt")
        guard case .interact = await authorize(h, request: fine) else { Issue.record("refused a well-formed request object"); return }
    }
}
