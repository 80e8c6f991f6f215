import Crypto
import Foundation
import StrongroomCore
import Testing
import _CryptoExtras

@testable import StrongroomJOSE

@Suite struct JOSESigningTests {
    @Test(arguments: [JWSAlgorithm.ps256, .es256, .rs256, .es384, .es512])
    func signThenVerifyRoundTrip(_ alg: JWSAlgorithm) throws {
        let key = alg == .ps256 ? JOSEFixtures.ps256 : alg == .rs256 ? JOSEFixtures.rs256 : try ServerSigningKey.generate(alg)
        let token = try key.sign(payload: JOSEFixtures.claims, type: "JWT", extraHeader: ["alg": "none", "x5t#S256": "abc"])
        let jws = try UnverifiedJWS(compact: token)
        #expect(jws.algorithm == alg.rawValue)  // extraHeader cannot override alg
        #expect(jws.kid == key.kid)
        #expect(jws.header["x5t#S256"] == "abc")
        let verified = try JWSVerifier.verify(jws, keys: JOSEFixtures.set(key), policy: VerificationPolicy(allowedAlgorithms: [alg]))
        #expect(verified.payload == JOSEFixtures.claims)
        #expect(key.publicJWK.kid == key.publicJWK.thumbprint())
        #expect(key.publicJWK.use == "sig" && key.publicJWK.alg == alg.rawValue)
        #expect(!key.publicJWK.isPrivate)
    }

    @Test func pemRoundTripKeepsKid() throws {
        for key in [JOSEFixtures.ps256, JOSEFixtures.es256] {
            let again = try ServerSigningKey(privateKeyPEM: key.privateKeyPEM, algorithm: key.algorithm)
            #expect(again.kid == key.kid)
            #expect(again.publicJWK == key.publicJWK)
            #expect(key.privateKeyPEM.contains("BEGIN PRIVATE KEY"))
        }
        #expect(throws: JOSEError.self) { try ServerSigningKey(privateKeyPEM: JOSEFixtures.es256.privateKeyPEM, algorithm: .ps256) }
        #expect(throws: JOSEError.self) { try ServerSigningKey(privateKeyPEM: JOSEFixtures.ps256.privateKeyPEM, algorithm: .es256) }
        #expect(throws: (any Error).self) { try ServerSigningKey.generate(.none) }
    }

    @Test func ps256UsesSaltOfDigestLength() throws {
        // RFC 7518 §3.5: salt length = hash length (32 for PS256). BoringSSL's verify with an
        // explicit salt length of 32 accepts what we produce; RSASSA-PSS with salt 0 would not.
        let key = JOSEFixtures.ps256
        guard case .rsa(let priv) = key.backing else { Issue.record("not RSA"); return }
        let data = Data("interop".utf8)
        let sig = try key.signature(for: data)
        #expect(priv.publicKey.isValidSignature(.init(rawRepresentation: sig), for: SHA256.hash(data: data), padding: .PSS))
        #expect(!priv.publicKey.isValidSignature(.init(rawRepresentation: sig), for: SHA256.hash(data: data), padding: .insecurePKCS1v1_5))
    }

    /// RSA keys sign through the system OpenSSL (OpenSSLRSASigner); every RSA algorithm's signature made
    /// there must verify with swift-crypto under exactly that algorithm's digest and padding, and not
    /// under another.
    @Test(arguments: [JWSAlgorithm.ps256, .ps384, .ps512, .rs256, .rs384, .rs512])
    func rsaSignaturesComeFromOpenSSLAndVerifyWithSwiftCrypto(_ alg: JWSAlgorithm) throws {
        let key = try ServerSigningKey(privateKeyPEM: JOSEFixtures.ps256.privateKeyPEM, algorithm: alg)
        let signer = try #require(key.rsaSigner, "the OpenSSL signer did not load the key")
        guard case .rsa(let priv) = key.backing else { Issue.record("not RSA"); return }
        let data = Data("payload for \(alg.rawValue)".utf8)
        let scheme = try #require(RSAScheme(alg))
        let (digest, pss) = (scheme.digest, scheme.pss)
        let direct = try #require(signer.sign(data, scheme: scheme))
        let viaKey = try key.signature(for: data)
        #expect(direct.count == 256 && viaKey.count == 256)
        let padding: _RSA.Signing.Padding = pss ? .PSS : .insecurePKCS1v1_5
        let other: _RSA.Signing.Padding = pss ? .insecurePKCS1v1_5 : .PSS
        for sig in [direct, viaKey] {
            let s = _RSA.Signing.RSASignature(rawRepresentation: sig)
            switch digest {
            case .sha256:
                #expect(priv.publicKey.isValidSignature(s, for: SHA256.hash(data: data), padding: padding))
                #expect(!priv.publicKey.isValidSignature(s, for: SHA384.hash(data: data), padding: padding))
            case .sha384:
                #expect(priv.publicKey.isValidSignature(s, for: SHA384.hash(data: data), padding: padding))
                #expect(!priv.publicKey.isValidSignature(s, for: SHA256.hash(data: data), padding: padding))
            case .sha512:
                #expect(priv.publicKey.isValidSignature(s, for: SHA512.hash(data: data), padding: padding))
                #expect(!priv.publicKey.isValidSignature(s, for: SHA256.hash(data: data), padding: padding))
            }
            #expect(!priv.publicKey.isValidSignature(s, for: SHA256.hash(data: Data("other".utf8)), padding: padding))
            if digest == .sha256 {
                #expect(!priv.publicKey.isValidSignature(s, for: SHA256.hash(data: data), padding: other))
            }
        }
        // PKCS #1 v1.5 is deterministic: OpenSSL's and swift-crypto's signatures are the same bytes.
        if !pss, digest == .sha256 {
            #expect(try priv.signature(for: SHA256.hash(data: data), padding: .insecurePKCS1v1_5).rawRepresentation == direct)
        }
    }

    /// A key OpenSSL cannot read gives no OpenSSL signer (swift-crypto then signs); EC keys never have one.
    @Test func openSSLSignerRefusesWhatIsNotAnRSAKey() throws {
        #expect(OpenSSLRSASigner(pkcs1DER: Data()) == nil)
        #expect(OpenSSLRSASigner(pkcs1DER: Data(repeating: 0x30, count: 40)) == nil)
        #expect(JOSEFixtures.es256.rsaSigner == nil)
        #expect(JOSEFixtures.ps256.rsaSigner != nil)
    }

    @Test func es256SignatureIsRawRS() throws {
        let token = try JOSEFixtures.es256.sign(payload: JOSEFixtures.claims)
        let sig = try #require(Base64URL.decode(token.split(separator: ".")[2]))
        #expect(sig.count == 64)
    }

    @Test func privateJWKRoundTripsThroughSwiftCrypto() throws {
        let priv = JOSEFixtures.ps256.privateJWK
        let rebuilt = try _RSA.Signing.PrivateKey(
            n: priv.member("n")!, e: priv.member("e")!, d: priv.member("d")!, p: priv.member("p")!, q: priv.member("q")!)
        guard case .rsa(let original) = JOSEFixtures.ps256.backing else { Issue.record("not RSA"); return }
        #expect(rebuilt.publicKey.derRepresentation == original.publicKey.derRepresentation)
        let ec = JOSEFixtures.es256.privateJWK
        let p256 = try P256.Signing.PrivateKey(rawRepresentation: ec.member("d")!)
        #expect(ec.member("x")! + ec.member("y")! == p256.publicKey.rawRepresentation)
    }

    @Test func keyRingPublishesPublicKeysAndPicksSigner() throws {
        let retired = try ServerSigningKey.generate(.es256)
        let ring = ServerKeyRing(signing: [JOSEFixtures.ps256, JOSEFixtures.es256], publishedOnly: [retired.privateJWK])
        #expect(ring.signer(for: .ps256)?.kid == JOSEFixtures.ps256.kid)
        #expect(ring.signer(for: .es256)?.kid == JOSEFixtures.es256.kid)
        #expect(ring.signer(for: .rs256) == nil)
        #expect(ring.algorithms == [.ps256, .es256])
        let keys = try #require(ring.jwks["keys"]?.arrayValue)
        #expect(keys.count == 3)
        for key in keys {
            let obj = try #require(key.objectValue)
            #expect(obj["kid"] != nil)
            for member in ["d", "p", "q", "dp", "dq", "qi", "k"] { #expect(obj[member] == nil) }
        }
        // A token signed by the retired key still verifies against the published set.
        let set = try JWKSet(json: ring.jwks)
        let token = try retired.sign(payload: JOSEFixtures.claims)
        #expect(throws: Never.self) {
            try JWSVerifier.verify(try UnverifiedJWS(compact: token), keys: set, policy: VerificationPolicy(allowedAlgorithms: [.es256]))
        }
    }
}
