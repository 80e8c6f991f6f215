import Foundation
import StrongroomCore
import Testing

@testable import StrongroomJOSE

@Suite struct JOSEParsingTests {
    @Test func parsesWellFormedCompactJWS() throws {
        let token = try JOSEFixtures.compact(JOSEFixtures.ps256, header: ["alg": "PS256", "kid": "k1", "typ": "JWT"])
        let jws = try UnverifiedJWS(compact: token)
        #expect(jws.algorithm == "PS256")
        #expect(jws.kid == "k1")
        #expect(jws.typ == "JWT")
        #expect(jws.payload["iss"] == "client1")
        #expect(jws.signature.count == 256)
        #expect(String(decoding: jws.signingInput, as: UTF8.self) == token.split(separator: ".").prefix(2).joined(separator: "."))
    }

    @Test(arguments: ["a.b", "a.b.c.d", "a.b.c.d.e", "", "...."])
    func refusesWrongPartCount(_ token: String) {
        #expect(throws: JOSEError.self) { try UnverifiedJWS(compact: token) }
    }

    @Test func refusesBadBase64() {
        let good = try! JOSEFixtures.compact(JOSEFixtures.es256, header: ["alg": "ES256"])
        let parts = good.split(separator: ".").map(String.init)
        // Padding, standard alphabet and whitespace are all refused.
        for bad in [parts[0] + "=", parts[0].replacingOccurrences(of: "e", with: "+"), " " + parts[0]] {
            #expect(throws: JOSEError.malformed("header is not base64url")) {
                try UnverifiedJWS(compact: [bad, parts[1], parts[2]].joined(separator: "."))
            }
        }
        #expect(throws: JOSEError.malformed("signature is not base64url")) {
            try UnverifiedJWS(compact: [parts[0], parts[1], parts[2] + "/"].joined(separator: "."))
        }
    }

    @Test func refusesNonObjectJSON() {
        let header = Base64URL.encode(#"{"alg":"PS256"}"#)
        for payload in ["[1,2]", "\"x\"", "{not json", ""] {
            #expect(throws: JOSEError.malformed("payload is not a JSON object")) {
                try UnverifiedJWS(compact: "\(header).\(Base64URL.encode(payload)).AAAA")
            }
        }
        #expect(throws: JOSEError.malformed("header is not a JSON object")) {
            try UnverifiedJWS(compact: "\(Base64URL.encode("[]")).\(Base64URL.encode("{}")).AAAA")
        }
    }

    @Test func refusesMissingOrNonStringAlg() {
        let payload = Base64URL.encode("{}")
        #expect(throws: JOSEError.malformed("header has no \"alg\"")) {
            try UnverifiedJWS(compact: "\(Base64URL.encode(#"{"kid":"a"}"#)).\(payload).")
        }
        #expect(throws: JOSEError.malformed("header \"alg\" is not a string")) {
            try UnverifiedJWS(compact: "\(Base64URL.encode(#"{"alg":1}"#)).\(payload).")
        }
    }

    @Test func refusesCrit() throws {
        let token = try JOSEFixtures.compact(JOSEFixtures.ps256, header: ["alg": "PS256", "crit": ["exp"], "exp": 1])
        #expect(throws: JOSEError.unsupportedCritical(#"crit ["exp"] is not supported"#)) { try UnverifiedJWS(compact: token) }
    }

    @Test func refusesOversizedInput() throws {
        let big = String(repeating: "a", count: 70_000)
        let token = try JOSEFixtures.compact(JOSEFixtures.es256, header: ["alg": "ES256"], payload: ["x": .string(big)])
        #expect(throws: JOSEError.malformed("JWS larger than 65536 bytes")) { try UnverifiedJWS(compact: token) }
        let fits = try JOSEFixtures.compact(JOSEFixtures.es256, header: ["alg": "ES256"], payload: ["x": .string(String(big.prefix(40_000)))])
        #expect(throws: Never.self) { try UnverifiedJWS(compact: fits) }
    }

    // MARK: JWK

    @Test func jwkValidatesRequiredMembers() {
        #expect(throws: JOSEError.self) { try JWK(json: ["kty": "RSA", "e": "AQAB"]) }
        #expect(throws: JOSEError.self) { try JWK(json: ["kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"]) }
        #expect(throws: JOSEError.self) { try JWK(json: ["kty": "RSA", "n": "a+b", "e": "AQAB"]) }
        #expect(throws: JOSEError.self) { try JWK(json: ["kty": "XYZ"]) }
        #expect(throws: JOSEError.self) { try JWK(json: ["n": "AQAB"]) }
        #expect(throws: JOSEError.self) { try JWK(json: ["kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": 5]) }
        #expect(throws: Never.self) { try JWK(json: JOSEFixtures.es256.publicJWK.json) }
    }

    @Test func rfc7638Thumbprint() throws {
        // RFC 7638 §3.1 example key.
        let jwk = try JWK(json: [
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB", "alg": "RS256", "kid": "2011-04-29",
        ])
        #expect(jwk.thumbprint() == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        #expect(jwk.rsaModulusBits == 2048)
        #expect(jwk.kid == "2011-04-29")
        #expect(!jwk.isPrivate)
    }

    @Test func publicOnlyStripsPrivateMembers() throws {
        let priv = JOSEFixtures.ps256.privateJWK
        #expect(priv.isPrivate)
        for m in ["d", "p", "q", "dp", "dq", "qi"] { #expect(priv.raw[m] != nil) }
        let pub = priv.publicOnly
        #expect(!pub.isPrivate)
        #expect(Set(pub.raw.keys) == ["kty", "n", "e", "kid", "use", "alg"])
        #expect(pub == JOSEFixtures.ps256.publicJWK)
        #expect(pub.thumbprint() == priv.thumbprint())
    }

    @Test func lenientJWKSetSkipsUnusableKeys() throws {
        let sig = JOSEFixtures.es256.publicJWK.json
        var enc = JOSEFixtures.otherPS256.publicJWK.raw
        enc["use"] = "enc"
        let set = try JWKSet(json: [
            "keys": [
                sig,
                .object(enc),
                ["kty": "Unknown", "kid": "u"],
                ["kty": "EC", "crv": "P-256", "x": "bad!", "y": "AAAA", "kid": "broken"],
                "not an object",
            ]
        ])
        #expect(set.keys == [JOSEFixtures.es256.publicJWK])
        #expect(set.skipped.count == 4)
        #expect(set.skipped.contains { $0.contains("use is enc") })
        #expect(set.skipped.contains { $0.contains("kid u") && $0.contains("unsupported kty") })
        #expect(set.json["keys"]?.arrayValue?.count == 1)
    }

    @Test func jwkSetRefusesNonSetJSON() {
        #expect(throws: JOSEError.malformed("JWK Set has no \"keys\" array")) { try JWKSet(json: ["kty": "RSA"]) }
        #expect(throws: JOSEError.malformed("JWK Set is not a JSON object")) { try JWKSet(json: []) }
    }

    // MARK: Half hash

    @Test func halfHashKnownVector() {
        // OpenID Connect Core 1.0 Appendix A.4: c_hash of the example code, RS256.
        #expect(HalfHash.compute("Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk", algorithm: .rs256) == "LDktKdoQak3Pk0cnXxCltA")
        #expect(HalfHash.compute("Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk", algorithm: .ps256) == "LDktKdoQak3Pk0cnXxCltA")
        // Computed independently (Python hashlib).
        #expect(HalfHash.compute("abc", algorithm: .es384) == "ywB1P0WjXou1oD1pmsZQBycsMqsO3tFj")
        #expect(HalfHash.compute("abc", algorithm: .ps512) == "3a81oZNherrMQXNJriBBMRLm-k6JqX6iCp7u5ktV05o")
    }
}
