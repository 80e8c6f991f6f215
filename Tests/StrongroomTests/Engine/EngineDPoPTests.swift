import Crypto
import Foundation
import Testing
@testable import StrongroomCore
@testable import StrongroomEngine
@testable import StrongroomJOSE
import StrongroomStorage

/// DPoP (RFC 9449) through the engine's endpoints: token binding, the protected endpoints'
/// scheme and proof checks, server nonces, and FAPI 2.0's sender-constraint and assertion
/// audience rules. One request accepted and one refused with the exact error for each.
@Suite struct EngineDPoPTests {
    static let fapi2Scope = "fapi2-accounts"

    /// The harness plus a FAPI 2.0 scope and a private_key_jwt client that may use it.
    static func harness(nonces: Bool = false) async throws -> EngineHarness {
        try await EngineHarness.make { config in
            config.service.scopes.append(ScopeDefinition(name: fapi2Scope, description: "FAPI 2.0 accounts",
                                                         attributes: [ScopeAttribute(key: "fapi2", value: "sp")]))
            config.service.dpopNonceRequired = nonces
            guard var m = config.clients.first(where: { $0.clientID == "fapi" })?.metadata else { return }
            m.scope = "openid \(fapi2Scope)"
            m.responseTypes = [.code]
            m.tlsClientCertificateBoundAccessTokens = false
            config.clients.append(SeedClient(clientID: "fapi2", metadata: m))
        }
    }

    /// A proof by `key` (default: a fresh P-256 key per test run, not the client's).
    static func proof(_ key: ServerSigningKey, method: String = "POST", url: String, token: String? = nil,
                      extra: [String: JSONValue] = [:], at now: Date) throws -> String {
        var c: [String: JSONValue] = ["jti": .string(UUID().uuidString), "htm": .string(method), "htu": .string(url),
                                      "iat": .number(now.timeIntervalSince1970.rounded(.down))]
        if let token { c["ath"] = .string(Base64URL.encode(Array(SHA256.hash(data: Data(token.utf8))))) }
        for (k, v) in extra { c[k] = v }
        return try JOSEFixtures.compact(key, header: ["typ": "dpop+jwt", "alg": .string(key.algorithm.rawValue),
                                                      "jwk": try JOSEFixtures.bareJWK(key).json], payload: c)
    }

    func clientCredentials(_ h: EngineHarness, proof: String?, aud: JSONValue = .string(EngineHarness.issuer)) async throws -> EngineResponse {
        var headers: [(String, String)] = []
        if let proof { headers.append(("dpop", proof)) }
        return await h.engine.token(EngineHarness.post("/token", [
            ("grant_type", "client_credentials"), ("scope", Self.fapi2Scope),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", try h.assertion(client: "fapi2", aud: aud)),
        ], headers: headers))
    }

    func resource(_ h: EngineHarness, token: String, scheme: String = "DPoP", proof: String?) async -> EngineResponse {
        var headers = [Param("authorization", "\(scheme) \(token)")]
        if let proof { headers.append(Param("dpop", proof)) }
        return await h.engine.resource(TransportRequest(method: "GET", path: "/api/accounts", headers: headers))
    }

    @Test func aProofBindsTheTokenAndTheResourceDemandsIt() async throws {
        let h = try await Self.harness()
        defer { Task { await h.close() } }
        let key = JOSEFixtures.es256
        let now = h.clock.now()
        let issued = try await clientCredentials(h, proof: try Self.proof(key, url: EngineHarness.issuer + "/token", at: now))
        let body = JSONValue.from(issued)
        #expect(issued.status == 200)
        #expect(body["token_type"]?.stringValue == "DPoP")
        let token = try #require(body["access_token"]?.stringValue)
        let record = try #require(try await h.engine.storage.token(hash: h.engine.hasher.hash(token)))
        #expect(record.dpopJKT == key.publicJWK.thumbprint())

        let ok = await resource(h, token: token, proof: try Self.proof(key, method: "GET", url: EngineHarness.issuer + "/api/accounts",
                                                                        token: token, at: now))
        #expect(ok.status == 200)

        // The bound token as Bearer, without a proof, with another key's proof, with a wrong ath.
        let asBearer = await resource(h, token: token, scheme: "Bearer", proof: nil)
        #expect(asBearer.status == 401 && JSONValue.from(asBearer)["error"]?.stringValue == "invalid_token")
        #expect(asBearer.header("WWW-Authenticate")?.hasPrefix("DPoP algs=\"ES256 PS256 EdDSA\", error=\"invalid_token\"") == true)
        let noProof = await resource(h, token: token, proof: nil)
        #expect(noProof.status == 401 && JSONValue.from(noProof)["error"]?.stringValue == "invalid_token")
        let otherKey = await resource(h, token: token, proof: try Self.proof(JOSEFixtures.ps256, method: "GET",
                                                                              url: EngineHarness.issuer + "/api/accounts", token: token, at: now))
        #expect(otherKey.status == 401 && JSONValue.from(otherKey)["error"]?.stringValue == "invalid_token")
        let wrongATH = await resource(h, token: token, proof: try Self.proof(key, method: "GET", url: EngineHarness.issuer + "/api/accounts",
                                                                              token: token + "x", at: now))
        #expect(wrongATH.status == 401 && JSONValue.from(wrongATH)["error"]?.stringValue == "invalid_dpop_proof")
        #expect(wrongATH.header("WWW-Authenticate")?.contains("error=\"invalid_dpop_proof\"") == true)
    }

    @Test func fapi2NeedsASenderConstraintAndTheIssuerAsAudience() async throws {
        let h = try await Self.harness()
        defer { Task { await h.close() } }
        let now = h.clock.now()
        // Neither a proof nor a certificate: FAPI 2.0 refuses an unconstrained token.
        let bare = try await clientCredentials(h, proof: nil)
        #expect(bare.status == 400 && JSONValue.from(bare)["error"]?.stringValue == "invalid_request")
        // The assertion's aud must be the issuer as a string: an array (even of the issuer alone)
        // and the token endpoint URL are refused, before any grant is looked at.
        for aud: JSONValue in [[.string(EngineHarness.issuer)], .string(EngineHarness.issuer + "/token")] {
            let r = try await clientCredentials(h, proof: try Self.proof(JOSEFixtures.es256, url: EngineHarness.issuer + "/token", at: now), aud: aud)
            #expect(r.status == 401 && JSONValue.from(r)["error"]?.stringValue == "invalid_client", "\(aud)")
        }
        let ok = try await clientCredentials(h, proof: try Self.proof(JOSEFixtures.es256, url: EngineHarness.issuer + "/token", at: now))
        #expect(ok.status == 200)
    }

    @Test func aProofForAnotherURLOrMethodIsRefusedAtTheTokenEndpoint() async throws {
        let h = try await Self.harness()
        defer { Task { await h.close() } }
        let now = h.clock.now()
        for (method, url) in [("GET", EngineHarness.issuer + "/token"), ("POST", EngineHarness.issuer + "/par"),
                              ("POST", "https://other.test/token")] {
            let r = try await clientCredentials(h, proof: try Self.proof(JOSEFixtures.es256, method: method, url: url, at: now))
            #expect(r.status == 400 && JSONValue.from(r)["error"]?.stringValue == "invalid_dpop_proof", "\(method) \(url)")
        }
        // Query and fragment are not part of the comparison (RFC 9449 §4.3-9).
        let ok = try await clientCredentials(h, proof: try Self.proof(JOSEFixtures.es256, url: EngineHarness.issuer + "/token?x=1#f", at: now))
        #expect(ok.status == 200)
    }

    @Test func serverNoncesWhenRequired() async throws {
        let h = try await Self.harness(nonces: true)
        defer { Task { await h.close() } }
        let now = h.clock.now()
        let challenged = try await clientCredentials(h, proof: try Self.proof(JOSEFixtures.es256, url: EngineHarness.issuer + "/token", at: now))
        #expect(challenged.status == 400 && JSONValue.from(challenged)["error"]?.stringValue == "use_dpop_nonce")
        let nonce = try #require(challenged.header("DPoP-Nonce"))
        let stale = try await clientCredentials(h, proof: try Self.proof(JOSEFixtures.es256, url: EngineHarness.issuer + "/token",
                                                                          extra: ["nonce": "not-a-nonce"], at: now))
        #expect(stale.status == 400 && JSONValue.from(stale)["error"]?.stringValue == "use_dpop_nonce")
        let ok = try await clientCredentials(h, proof: try Self.proof(JOSEFixtures.es256, url: EngineHarness.issuer + "/token",
                                                                       extra: ["nonce": .string(nonce)], at: now))
        #expect(ok.status == 200 && ok.header("DPoP-Nonce") != nil)
    }

    @Test func aDPoPBoundClientMustSendAProof() async throws {
        let h = try await EngineHarness.make { config in
            if let i = config.clients.firstIndex(where: { $0.clientID == "plain" }) { config.clients[i].metadata.dpopBoundAccessTokens = true }
        }
        defer { Task { await h.close() } }
        func request(_ headers: [(String, String)]) async -> EngineResponse {
            await h.engine.token(EngineHarness.post("/token", [("grant_type", "client_credentials"), ("scope", "profile")],
                                                    headers: [("authorization", "Basic " + Data("plain:plain-secret-0123456789-0123456789".utf8).base64EncodedString())] + headers))
        }
        let refused = await request([])
        #expect(refused.status == 400 && JSONValue.from(refused)["error"]?.stringValue == "invalid_dpop_proof")
        let ok = await request([("dpop", try Self.proof(JOSEFixtures.es256, url: EngineHarness.issuer + "/token", at: h.clock.now()))])
        #expect(ok.status == 200 && JSONValue.from(ok)["token_type"]?.stringValue == "DPoP")
    }
}
