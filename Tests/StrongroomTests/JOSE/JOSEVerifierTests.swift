import Crypto
import Foundation
import StrongroomCore
import Testing
import _CryptoExtras

@testable import StrongroomJOSE

@Suite struct JOSEVerifierTests {
    let fapi = VerificationPolicy(allowedAlgorithms: [.ps256, .es256])

    func verify(_ token: String, _ keys: JWKSet, _ policy: VerificationPolicy? = nil) throws(JOSEError) -> VerifiedJWS {
        try JWSVerifier.verify(try UnverifiedJWS(compact: token), keys: keys, policy: policy ?? fapi)
    }

    @Test func acceptsPS256WithKid() throws {
        let key = JOSEFixtures.ps256
        let token = try key.sign(payload: JOSEFixtures.claims, type: "JWT")
        let verified = try verify(token, JOSEFixtures.set(key, JOSEFixtures.es256))
        #expect(verified.algorithm == .ps256)
        #expect(verified.key == key.publicJWK)
        #expect(verified.payload["iss"] == "client1")
        #expect(verified.header["typ"] == "JWT")
    }

    @Test func acceptsES256WithoutKidWhenOneKeyFits() throws {
        let token = try JOSEFixtures.compact(JOSEFixtures.es256, header: ["alg": "ES256"])
        // An RSA key in the set does not fit ES256, so the EC key is the single candidate.
        let verified = try verify(token, JOSEFixtures.set(JOSEFixtures.es256, JOSEFixtures.ps256))
        #expect(verified.algorithm == .es256)
    }

    @Test func acceptsSingleKeyWithoutKidOrAlg() throws {
        let bare = try JOSEFixtures.bareJWK(JOSEFixtures.es256)
        #expect(bare.kid == nil && bare.alg == nil)
        let set = try JWKSet(json: ["keys": [bare.json]])
        #expect(set.keys.count == 1)
        let token = try JOSEFixtures.compact(JOSEFixtures.es256, header: ["alg": "ES256"])
        #expect(try verify(token, set).key == bare)
    }

    @Test func refusesAlgNone() throws {
        let token = JOSEFixtures.compact(header: ["alg": "none"]) { _ in Data() }
        #expect(throws: JOSEError.algorithmNotAllowed("alg none is never accepted")) {
            try verify(token, JOSEFixtures.set(JOSEFixtures.ps256), VerificationPolicy(allowedAlgorithms: JWSAlgorithm.allCases))
        }
        for spelling in ["None", "NONE", "nOnE"] {
            let t = JOSEFixtures.compact(header: ["alg": .string(spelling)]) { _ in Data() }
            #expect(throws: JOSEError.algorithmNotAllowed("unsupported alg \"\(spelling)\"")) {
                try verify(t, JOSEFixtures.set(JOSEFixtures.ps256))
            }
        }
    }

    @Test func refusesRS256WhenOnlyPS256Allowed() throws {
        let rs = JOSEFixtures.rs256
        let token = try JOSEFixtures.compact(rs, header: ["alg": "RS256", "kid": .string(rs.kid)])
        let keys = JWKSet(keys: [try JOSEFixtures.bareJWK(rs).with(["kid": .string(rs.kid)])])
        #expect(throws: JOSEError.self) { try verify(token, keys, VerificationPolicy(allowedAlgorithms: [.ps256])) }
        // The same token passes when RS256 is allowed: the refusal is the policy.
        #expect(try verify(token, keys, VerificationPolicy(allowedAlgorithms: [.rs256])).algorithm == .rs256)
    }

    @Test func refusesAlgOtherThanRegistered() throws {
        let token = try JOSEFixtures.es256.sign(payload: JOSEFixtures.claims)
        let policy = VerificationPolicy(allowedAlgorithms: [.ps256, .es256], requiredAlgorithm: .ps256)
        #expect(throws: JOSEError.algorithmNotAllowed("ES256 is not the registered algorithm PS256")) {
            try verify(token, JOSEFixtures.set(JOSEFixtures.es256), policy)
        }
        let ok = VerificationPolicy(allowedAlgorithms: [.ps256, .es256], requiredAlgorithm: .es256)
        #expect(throws: Never.self) { try verify(token, JOSEFixtures.set(JOSEFixtures.es256), ok) }
    }

    @Test func refusesHS256AgainstRSAKeySet() throws {
        // Classic key confusion: HMAC keyed with the RSA public key's bytes.
        let rsa = JOSEFixtures.ps256.publicJWK
        let secret = SymmetricKey(data: Data(rsa.json.serializedString().utf8))
        let token = JOSEFixtures.compact(header: ["alg": "HS256", "kid": .string(rsa.kid!)]) {
            Data(HMAC<SHA256>.authenticationCode(for: $0, using: secret))
        }
        let policy = VerificationPolicy(allowedAlgorithms: [.ps256, .hs256])
        #expect(throws: JOSEError.algorithmNotAllowed("HS256 needs a shared secret and is not accepted with public keys")) {
            try verify(token, JWKSet(keys: [rsa]), policy)
        }
    }

    @Test func refusesUnknownKidWithoutFallback() throws {
        let key = JOSEFixtures.ps256
        let token = try JOSEFixtures.compact(key, header: ["alg": "PS256", "kid": "someone-else"])
        // Exactly one key, which would verify the signature — still refused.
        #expect(throws: JOSEError.noSuitableKey("no key with kid \"someone-else\"")) { try verify(token, JOSEFixtures.set(key)) }
        let bare = JWKSet(keys: [try JOSEFixtures.bareJWK(key)])
        #expect(throws: JOSEError.noSuitableKey("no key with kid \"someone-else\"")) { try verify(token, bare) }
    }

    @Test func refusesAmbiguousKeysWithoutKid() throws {
        let token = try JOSEFixtures.compact(JOSEFixtures.ps256, header: ["alg": "PS256"])
        #expect(throws: JOSEError.noSuitableKey("2 keys fit PS256 and the header has no kid")) {
            try verify(token, JOSEFixtures.set(JOSEFixtures.ps256, JOSEFixtures.otherPS256))
        }
    }

    @Test func refusesHeaderAlgOtherThanKeyAlg() throws {
        let key = JOSEFixtures.ps256
        let keys = JWKSet(keys: [key.publicJWK.with(["alg": "PS384"])])
        let token = try JOSEFixtures.compact(key, header: ["alg": "PS256", "kid": .string(key.kid)])
        #expect(throws: JOSEError.keyAlgorithmMismatch("key \(key.kid) is registered for PS384, header says PS256")) {
            try verify(token, keys, VerificationPolicy(allowedAlgorithms: [.ps256, .ps384]))
        }
        #expect(throws: Never.self) { try verify(token, JOSEFixtures.set(key)) }
    }

    @Test func refusesKeyTypeMismatch() throws {
        // ES256 header pointing (by kid) at an RSA key, and PS256 at an EC key.
        let ec = JOSEFixtures.es256, rsa = JOSEFixtures.ps256
        let esToken = try JOSEFixtures.compact(ec, header: ["alg": "ES256", "kid": .string(rsa.kid)])
        #expect(throws: JOSEError.keyAlgorithmMismatch("ES256 needs a EC key, key \(rsa.kid) is RSA")) {
            try verify(esToken, JOSEFixtures.set(rsa))
        }
        let psToken = try JOSEFixtures.compact(rsa, header: ["alg": "PS256", "kid": .string(ec.kid)])
        let ecNoAlg = JWKSet(keys: [try JOSEFixtures.bareJWK(ec).with(["kid": .string(ec.kid)])])
        #expect(throws: JOSEError.keyAlgorithmMismatch("PS256 needs a RSA key, key \(ec.kid) is EC")) {
            try verify(psToken, ecNoAlg)
        }
    }

    @Test func refusesWeakRSAKey() throws {
        let weak = try _RSA.Signing.PrivateKey(unsafeKeySize: .init(bitCount: 1024))
        let signer = try ServerSigningKey(backing: .rsa(weak), algorithm: .ps256)
        #expect(signer.publicJWK.rsaModulusBits == 1024)
        let token = try signer.sign(payload: JOSEFixtures.claims)
        #expect(throws: JOSEError.weakKey("RSA key of 1024 bits; at least 2048 required")) {
            try verify(token, JOSEFixtures.set(signer))
        }
        // Even a permissive policy does not go below 2048.
        #expect(throws: JOSEError.self) {
            try verify(token, JOSEFixtures.set(signer), VerificationPolicy(allowedAlgorithms: [.ps256], minimumRSABits: 1024))
        }
    }

    @Test func refusesUnsupportedCurve() throws {
        var raw = JOSEFixtures.es256.publicJWK.raw
        raw["crv"] = "secp256k1"
        let key = try JWK(json: .object(raw))
        let token = try JOSEFixtures.compact(JOSEFixtures.es256, header: ["alg": "ES256", "kid": .string(key.kid!)])
        #expect(throws: JOSEError.weakKey("unsupported curve secp256k1")) { try verify(token, JWKSet(keys: [key])) }
    }

    @Test func refusesTamperedPayload() throws {
        for key in [JOSEFixtures.ps256, JOSEFixtures.es256] {
            let token = try key.sign(payload: JOSEFixtures.claims)
            var parts = token.split(separator: ".").map(String.init)
            parts[1] = Base64URL.encode(JSONValue.object(["iss": "attacker", "aud": "https://as.example"]).serialized())
            #expect(throws: JOSEError.badSignature) { try verify(parts.joined(separator: "."), JOSEFixtures.set(key)) }
            // Signature from another key of the same type.
            let other = try JOSEFixtures.otherPS256.sign(payload: JOSEFixtures.claims)
            if key.algorithm == .ps256 {
                let forged = token.split(separator: ".").prefix(2).joined(separator: ".") + "." + other.split(separator: ".")[2]
                #expect(throws: JOSEError.badSignature) { try verify(forged, JOSEFixtures.set(key)) }
            }
            // Truncated / empty signature.
            let empty = token.split(separator: ".").prefix(2).joined(separator: ".") + "."
            #expect(throws: JOSEError.badSignature) { try verify(empty, JOSEFixtures.set(key)) }
        }
    }

    @Test func refusesEncryptionOnlyKey() throws {
        let key = JOSEFixtures.ps256
        let keys = JWKSet(keys: [key.publicJWK.with(["key_ops": ["encrypt"]])])
        let token = try key.sign(payload: JOSEFixtures.claims)
        #expect(throws: JOSEError.self) { try verify(token, keys) }
    }

    // MARK: HMAC

    @Test func verifiesHMACWithLongEnoughSecret() throws {
        let secret = String(repeating: "s3cr3t-", count: 6)  // 42 bytes
        let token = JOSEFixtures.compact(header: ["alg": "HS256"]) {
            Data(HMAC<SHA256>.authenticationCode(for: $0, using: SymmetricKey(data: Data(secret.utf8))))
        }
        let policy = VerificationPolicy(allowedAlgorithms: [.hs256])
        let verified = try JWSVerifier.verifyHMAC(try UnverifiedJWS(compact: token), secret: secret, policy: policy)
        #expect(verified.algorithm == .hs256)
        #expect(verified.key == nil)
        #expect(throws: JOSEError.badSignature) {
            try JWSVerifier.verifyHMAC(try UnverifiedJWS(compact: token), secret: secret + "x", policy: policy)
        }
    }

    @Test func refusesHMACWithShortSecretOrAsymmetricAlg() throws {
        let secret = "short"
        let token = JOSEFixtures.compact(header: ["alg": "HS256"]) {
            Data(HMAC<SHA256>.authenticationCode(for: $0, using: SymmetricKey(data: Data(secret.utf8))))
        }
        #expect(throws: JOSEError.weakKey("HS256 needs a secret of at least 32 bytes")) {
            try JWSVerifier.verifyHMAC(try UnverifiedJWS(compact: token), secret: secret, policy: VerificationPolicy(allowedAlgorithms: [.hs256]))
        }
        let ps = try JOSEFixtures.ps256.sign(payload: JOSEFixtures.claims)
        #expect(throws: JOSEError.algorithmNotAllowed("PS256 is not an HMAC algorithm")) {
            try JWSVerifier.verifyHMAC(try UnverifiedJWS(compact: ps), secret: String(repeating: "x", count: 64), policy: fapi)
        }
        #expect(throws: JOSEError.self) {
            try JWSVerifier.verifyHMAC(try UnverifiedJWS(compact: token), secret: String(repeating: "x", count: 64), policy: fapi)
        }
    }

    @Test func joseErrorDescriptionsAreReadable() {
        #expect(JOSEError.badSignature.description == "signature verification failed")
        #expect("\(JOSEError.noSuitableKey("no key with kid \"a\""))" == "no suitable key: no key with kid \"a\"")
    }
}
