import Crypto
import Foundation
import StrongroomCore
import Testing

@testable import StrongroomEngine
@testable import StrongroomJOSE

/// RFC 9449 §4.3: each check of a DPoP proof, accepted once and refused once with its reason.
@Suite struct JOSEDPoPProofTests {
    static let url = "https://as.example/token"
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let key = JOSEFixtures.es256

    static func proof(_ claims: [String: JSONValue] = [:], header: [String: JSONValue]? = nil, drop: [String] = [],
                      key: ServerSigningKey = key, jwk: JWK? = nil) throws -> String {
        var c: [String: JSONValue] = ["jti": .string(UUID().uuidString), "htm": "POST", "htu": .string(url), "iat": .number(now.timeIntervalSince1970)]
        for (k, v) in claims { c[k] = v }
        for k in drop { c[k] = nil }
        let bare = try jwk ?? JOSEFixtures.bareJWK(key)
        let h = header ?? ["typ": "dpop+jwt", "alg": .string(key.algorithm.rawValue), "jwk": bare.json]
        return try JOSEFixtures.compact(key, header: h, payload: c)
    }

    func check(_ compact: String, method: String = "POST", url: String = url, token: String? = nil) -> DPoPProofVerifier.Failure? {
        do {
            _ = try DPoPProofVerifier.verify(compact, method: method, url: url, accessToken: token, allowed: [.es256, .ps256],
                                             now: Self.now, maxAge: 300, skew: 10)
            return nil
        } catch { return error }
    }

    @Test func aWellFormedProofPassesAndCarriesTheKeyThumbprint() throws {
        let compact = try Self.proof()
        let p = try DPoPProofVerifier.verify(compact, method: "POST", url: Self.url, accessToken: nil, allowed: [.es256],
                                             now: Self.now, maxAge: 300, skew: 10)
        #expect(p.thumbprint == (try JOSEFixtures.bareJWK(Self.key)).thumbprint())
        #expect(p.algorithm == .es256)
    }

    @Test func typAlgAndKeyAreChecked() throws {
        var h: [String: JSONValue] = ["typ": "JWT", "alg": "ES256", "jwk": try JOSEFixtures.bareJWK(Self.key).json]
        #expect(check(try Self.proof(header: h)) == .wrongType)
        h["typ"] = "dpop+jwt"; h["alg"] = "none"
        #expect(check(try Self.proof(header: h)) == .algorithmNotAllowed("'none'"))
        h["alg"] = "HS256"
        #expect(check(try Self.proof(header: h)) == .algorithmNotAllowed("'HS256'"))
        h["alg"] = "ES256"; h["jwk"] = nil
        #expect(check(try Self.proof(header: h)) == .badKey("no jwk header"))
        // A private key in the header is refused outright.
        let privateJWK = try JWK(json: .object(try JOSEFixtures.bareJWK(Self.key).raw.merging(["d": "AAAA"]) { a, _ in a }))
        #expect(check(try Self.proof(jwk: privateJWK)) == .badKey("it contains private key material"))
        // Signed by another key than the one in the header.
        #expect(check(try Self.proof(key: JOSEFixtures.es256, jwk: try JOSEFixtures.bareJWK(ServerSigningKey.generate(.es256)))) == .badSignature)
    }

    @Test func methodURLAndTimeAreChecked() throws {
        #expect(check(try Self.proof(["htm": "GET"])) == .methodMismatch)
        for wrong in ["https://as.example/other", "https://evil.example/token", "http://as.example/token", "https://as.example:8443/token"] {
            #expect(check(try Self.proof(["htu": .string(wrong)])) == .urlMismatch, "\(wrong)")
        }
        // Query and fragment do not count; normalisation of case, default port and dot segments does.
        for same in ["https://as.example/token?x=1", "https://as.example/token#f", "HTTPS://AS.EXAMPLE:443/token", "https://as.example/a/../token"] {
            #expect(check(try Self.proof(["htu": .string(same)])) == nil, "\(same)")
        }
        #expect(check(try Self.proof(["iat": .number(Self.now.timeIntervalSince1970 - 311)])) == .staleOrFuture)
        #expect(check(try Self.proof(["iat": .number(Self.now.timeIntervalSince1970 + 11)])) == .staleOrFuture)
        #expect(check(try Self.proof(["iat": .number(Self.now.timeIntervalSince1970 - 309)])) == nil)
        for claim in ["jti", "htm", "htu", "iat"] {
            #expect(check(try Self.proof(drop: [claim])) == .missingClaim(claim))
        }
        // A jti of 256 bytes is kept in the replay store; a longer one is refused as such.
        #expect(check(try Self.proof(["jti": .string(String(repeating: "j", count: 256))])) == nil)
        #expect(check(try Self.proof(["jti": .string(String(repeating: "j", count: 257))])) == .malformed("jti is longer than 256 bytes"))
    }

    @Test func athTiesTheProofToTheAccessToken() throws {
        let token = "access-token-123"
        let ath = Base64URL.encode(Array(SHA256.hash(data: Data(token.utf8))))
        #expect(check(try Self.proof(["ath": .string(ath), "htm": "GET"]), method: "GET", token: token) == nil)
        #expect(check(try Self.proof(["ath": .string(ath), "htm": "GET"]), method: "GET", token: "another") == .accessTokenHashMismatch)
        #expect(check(try Self.proof(["htm": "GET"]), method: "GET", token: token) == .missingClaim("ath"))
    }
}

/// The stateful half: single-use `jti` in the shared replay store, and server nonces.
@Suite(.serialized) struct EngineDPoPVerifierTests {
    @Test func aProofIsSingleUseAndNoncesRotate() async throws {
        let h = try await EngineHarness.make()
        defer { Task { await h.close() } }
        let clock = h.clock
        let verifier = DPoPVerifier(replay: h.engine.storage, hasher: h.engine.hasher, clock: clock, allowed: [.es256, .ps256], skew: 10)
        func proof(_ extra: [String: JSONValue] = [:]) throws -> String {
            var c: [String: JSONValue] = ["jti": .string(UUID().uuidString), "htm": "POST", "htu": "https://as.test/token",
                                          "iat": .number(clock.now().timeIntervalSince1970)]
            for (k, v) in extra { c[k] = v }
            return try JOSEFixtures.compact(JOSEFixtures.es256, header: ["typ": "dpop+jwt", "alg": "ES256", "jwk": try JOSEFixtures.bareJWK(JOSEFixtures.es256).json],
                                            payload: c)
        }
        let once = try proof()
        _ = try await verifier.verify([once], method: "POST", url: "https://as.test/token", accessToken: nil, requireNonce: false)
        await #expect(throws: OAuthError(.invalidDPoPProof, "the DPoP proof has been used before (jti replay)")) {
            _ = try await verifier.verify([once], method: "POST", url: "https://as.test/token", accessToken: nil, requireNonce: false)
        }
        await #expect(throws: OAuthError(.invalidDPoPProof, "a DPoP proof is required")) {
            _ = try await verifier.verify([], method: "POST", url: "https://as.test/token", accessToken: nil, requireNonce: false)
        }
        await #expect(throws: OAuthError(.useDPoPNonce, "a DPoP nonce is required")) {
            _ = try await verifier.verify([try proof()], method: "POST", url: "https://as.test/token", accessToken: nil, requireNonce: true)
        }
        let nonce = verifier.currentNonce
        _ = try await verifier.verify([try proof(["nonce": .string(nonce)])], method: "POST", url: "https://as.test/token", accessToken: nil, requireNonce: true)
        // One window later the nonce is still accepted; two windows later it is stale.
        clock.advance(DPoPVerifier.nonceWindow)
        _ = try await verifier.verify([try proof(["nonce": .string(nonce)])], method: "POST", url: "https://as.test/token", accessToken: nil, requireNonce: true)
        clock.advance(DPoPVerifier.nonceWindow)
        await #expect(throws: OAuthError(.useDPoPNonce, "the DPoP nonce is not current")) {
            _ = try await verifier.verify([try proof(["nonce": .string(nonce)])], method: "POST", url: "https://as.test/token", accessToken: nil, requireNonce: true)
        }
        #expect(verifier.currentNonce != nonce)
    }
}
