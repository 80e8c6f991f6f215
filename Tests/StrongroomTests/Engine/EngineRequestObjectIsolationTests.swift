import Foundation
import Testing
@testable import StrongroomCore
@testable import StrongroomEngine
@testable import StrongroomJOSE

/// Item 2: for FAPI 1.0 Advanced only the signed request object's claims count, and with PAR the
/// authorization endpoint uses nothing of its own query but `client_id` and `request_uri`. Each
/// authorization parameter is put only outside the request object, with a value that would show
/// if it were used, on each channel: by value and pushed, hybrid and JARM.
@Suite(.serialized) struct EngineRequestObjectIsolationTests {
    typealias H = EngineHarness

    enum Channel: String, CaseIterable { case byValue, pushedOutsideRequestObject, pushedFrontChannel }
    enum Shape: String, CaseIterable { case hybrid, jarm }

    /// (parameter, value outside the request object)
    static let outside: [(String, String)] = [
        ("scope", "openid payments profile email"), ("state", "outside-state"), ("nonce", "outside-nonce"),
        ("response_mode", "query"), ("redirect_uri", "https://evil.test/cb"), ("prompt", "none"), ("login_hint", "mallory"),
        ("claims", #"{"userinfo":{"email":{"essential":true}}}"#), ("max_age", "0"), ("acr_values", "urn:outside"),
        ("code_challenge", String(repeating: "o", count: 43)), ("code_challenge_method", "plain"),
    ]

    static var matrix: [(Channel, Shape, String)] {
        Channel.allCases.flatMap { c in Shape.allCases.flatMap { s in outside.map { (c, s, $0.0) } } }
    }

    func run(_ h: H, channel: Channel, shape: Shape, parameter: String) async throws -> AuthorizationOutcome {
        let value = try #require(Self.outside.first { $0.0 == parameter }?.1)
        let pkce = H.pkce()
        var claims: [String: JSONValue] = ["code_challenge": .string(pkce.challenge), "code_challenge_method": "S256"]
        switch shape {
        case .hybrid: claims["response_type"] = "code id_token"
        case .jarm: claims["response_type"] = "code"; claims["response_mode"] = "jwt"
        }
        let ro = try h.requestObject(claims)
        switch channel {
        case .byValue:
            return await h.engine.authorize(H.get("/authorize", [("client_id", "fapi"), ("request", ro), ("response_type", claims["response_type"]!.stringValue!),
                                                                 ("scope", "openid"), (parameter, value)].filter { $0.0 != "scope" || parameter != "scope" }), session: nil)
        case .pushedOutsideRequestObject, .pushedFrontChannel:
            var form = [("client_assertion_type", Engine.assertionType), ("client_assertion", try h.assertion(aud: .string(H.issuer + "/par"))),
                        ("request", ro)]
            if channel == .pushedOutsideRequestObject { form.append((parameter, value)) }
            let par = await h.engine.pushedAuthorizationRequest(H.post("/par", form, cert: h.fapiCert))
            let uri = try #require(JSONValue.from(par)["request_uri"]?.stringValue, "PAR: \(String(decoding: par.body, as: UTF8.self))")
            var query = [("client_id", "fapi"), ("request_uri", uri)]
            if channel == .pushedFrontChannel { query.append((parameter, value)) }
            return await h.engine.authorize(H.get("/authorize", query), session: nil)
        }
    }

    /// One engine for the whole matrix (a new one per case costs a second of key generation).
    @Test func aParameterOutsideTheRequestObjectIsNeverUsed() async throws {
        let h = try await H.make()
        defer { Task { await h.close() } }
        for (channel, shape, parameter) in Self.matrix {
            try await check(h, channel, shape, parameter)
        }
    }

    func check(_ h: H, _ channel: Channel, _ shape: Shape, _ parameter: String) async throws {
        let outcome = try await run(h, channel: channel, shape: shape, parameter: parameter)
        // Never refused because of the outside value (prompt=none, a bad redirect_uri, plain PKCE …):
        // the request goes on to the login page with exactly the request object's values.
        guard case .interact(let ticket) = outcome else { Issue.record("\(channel) \(shape) \(parameter): \(outcome)"); return }
        #expect(ticket.scopes.map(\.name) == ["openid", "payments"], "\(channel) \(shape) \(parameter)")
        #expect(ticket.claims.isEmpty && ticket.loginHint == nil && ticket.acrValues.allSatisfy { $0 != "urn:outside" })
        let response = try await h.approve(outcome)
        let location = try #require(response.header("Location"))
        #expect(location.hasPrefix(H.redirect), "\(channel) \(shape) \(parameter): never the outside redirect_uri")
        switch shape {
        case .hybrid:
            #expect(location.hasPrefix(H.redirect + "#"), "hybrid answers in the fragment, whatever response_mode says outside")
            let p = H.redirectParams(response)
            #expect(p["state"] == "st-1")
            let idToken = try UnverifiedJWS(compact: try #require(p["id_token"]))
            #expect(idToken.payload["nonce"]?.stringValue == "n-1")
        case .jarm:
            #expect(location.hasPrefix(H.redirect + "?response="), "JARM from the request object")
            let jwt = try #require(H.redirectParams(response)["response"])
            let payload = try UnverifiedJWS(compact: jwt).payload
            #expect(payload["state"]?.stringValue == "st-1")
            #expect(payload["code"] != nil)
        }
    }
}
