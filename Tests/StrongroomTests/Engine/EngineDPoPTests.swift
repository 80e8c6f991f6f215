import Crypto
import Foundation
import Testing
@testable import StrongroomCore
@testable import StrongroomEngine
@testable import StrongroomJOSE
import StrongroomPolicy
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

/// FAPI 2.0 Security Profile §5.3.2.1-10: refresh tokens do not rotate unless an operator turns
/// rotation on for the client; plain OAuth keeps the service's rotation.
@Suite struct EngineRefreshRotationTests {
    func refresh(_ h: EngineHarness, client: String, token: String, proof: Bool) async throws -> EngineResponse {
        var headers: [(String, String)] = []
        if proof { headers.append(("dpop", try EngineDPoPTests.proof(JOSEFixtures.es256, url: EngineHarness.issuer + "/token", at: h.clock.now()))) }
        return await h.engine.token(EngineHarness.post("/token", [
            ("grant_type", "refresh_token"), ("refresh_token", token),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", try h.assertion(client: client, aud: .string(EngineHarness.issuer))),
        ], headers: headers))
    }

    /// A stored refresh token of `client` under `profile`, as the code grant would have left it.
    func seedRefreshToken(_ h: EngineHarness, client: String, scopes: [String], profile: Profile) async throws -> String {
        let token = SystemRandom().token(bits: 256)
        let now = h.clock.now()
        try await h.engine.storage.saveTokens([TokenRecord(
            tokenHash: h.engine.hasher.hash(token), id: UUID().uuidString, kind: .refresh, clientID: client, subject: "alice",
            scopes: scopes, codeID: nil, grantID: nil, familyID: UUID().uuidString, certificateThumbprint: nil, profile: profile,
            authTime: now, acr: nil, expiresAt: now.addingTimeInterval(3600), createdAt: now)])
        return token
    }

    @Test func fapi2RefreshTokensDoNotRotateUnlessTheOperatorSaysSo() async throws {
        let h = try await EngineDPoPTests.harness()
        defer { Task { await h.close() } }
        let token = try await seedRefreshToken(h, client: "fapi2", scopes: ["openid", EngineDPoPTests.fapi2Scope], profile: .fapi2Security)
        let first = try await refresh(h, client: "fapi2", token: token, proof: true)
        #expect(first.status == 200 && JSONValue.from(first)["refresh_token"] == nil)
        // The same refresh token works again: it was not rotated out.
        let second = try await refresh(h, client: "fapi2", token: token, proof: true)
        #expect(second.status == 200 && JSONValue.from(second)["refresh_token"] == nil)
    }

    @Test func anOperatorTurnsRotationBackOnForOneClient() async throws {
        let h = try await EngineHarness.make { config in
            config.service.scopes.append(ScopeDefinition(name: EngineDPoPTests.fapi2Scope, description: "FAPI 2.0 accounts",
                                                         attributes: [ScopeAttribute(key: "fapi2", value: "sp")]))
            guard var m = config.clients.first(where: { $0.clientID == "fapi" })?.metadata else { return }
            m.scope = "openid \(EngineDPoPTests.fapi2Scope)"
            m.responseTypes = [.code]
            m.tlsClientCertificateBoundAccessTokens = false
            m.refreshTokenRotation = true
            config.clients.append(SeedClient(clientID: "fapi2", metadata: m))
        }
        defer { Task { await h.close() } }
        let token = try await seedRefreshToken(h, client: "fapi2", scopes: ["openid", EngineDPoPTests.fapi2Scope], profile: .fapi2Security)
        let first = try await refresh(h, client: "fapi2", token: token, proof: true)
        #expect(first.status == 200 && JSONValue.from(first)["refresh_token"]?.stringValue != nil)
        let replay = try await refresh(h, client: "fapi2", token: token, proof: true)
        #expect(replay.status == 400 && JSONValue.from(replay)["error"]?.stringValue == "invalid_grant")
    }
}

/// FAPI 2.0 Security Profile §5.4.1: EC keys of at least 224 bits at registration, with the
/// clause of the profile that demands it (FAPI 1.0 accepts a 192-bit curve: 160 bits).
@Suite struct EngineKeySizeRegistrationTests {
    static func p192() -> JSONValue {
        let coordinate = Base64URL.encode([UInt8](repeating: 7, count: 24))
        return ["keys": [["kty": "EC", "crv": "P-192", "kid": "small", "use": "sig", "x": .string(coordinate), "y": .string(coordinate)]]]
    }

    @Test func aP192KeyIsRefusedForFAPI2AndAcceptedForFAPI1() async throws {
        let h = try await EngineDPoPTests.harness()
        defer { Task { await h.close() } }
        var fapi2 = ClientMetadata(redirectURIs: [EngineHarness.redirect], tokenEndpointAuthMethod: .privateKeyJWT,
                                   tokenEndpointAuthSigningAlg: .es256, responseTypes: [.code], scope: "openid \(EngineDPoPTests.fapi2Scope)",
                                   jwks: Self.p192())
        let refused = h.engine.clients.validate(fapi2).filter { $0.field == "jwks" }
        #expect(refused.map(\.message) == ["EC key small is on a 192-bit curve; at least 224 bits are required (FAPI 2.0 Security Profile §5.4.1)"])
        fapi2.scope = "openid accounts"
        #expect(h.engine.clients.validate(fapi2).filter { $0.field == "jwks" }.isEmpty)
    }
}
