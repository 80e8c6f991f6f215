import Crypto
import Foundation
import StrongroomCore
import _CryptoExtras

@testable import StrongroomJOSE

/// Helpers for JOSE tests: compact JWS with arbitrary headers, and keys.
enum JOSEFixtures {
    static let claims: [String: JSONValue] = ["iss": "client1", "aud": "https://as.example", "exp": 1_900_000_000]

    static func compact(header: [String: JSONValue], payload: [String: JSONValue] = claims, sign: (Data) throws -> Data) rethrows -> String {
        let input = Base64URL.encode(JSONValue.object(header).serialized()) + "." + Base64URL.encode(JSONValue.object(payload).serialized())
        return input + "." + Base64URL.encode(try sign(Data(input.utf8)))
    }

    /// A compact JWS signed by `key` with `header` exactly as given (alg not forced).
    static func compact(_ key: ServerSigningKey, header: [String: JSONValue], payload: [String: JSONValue] = claims) throws -> String {
        try compact(header: header, payload: payload) { try key.signature(for: $0) }
    }

    static func set(_ keys: ServerSigningKey...) -> JWKSet { JWKSet(keys: keys.map(\.publicJWK)) }

    /// The public JWK without kid/alg/use.
    static func bareJWK(_ key: ServerSigningKey) throws -> JWK {
        try JWK(json: .object(key.publicJWK.raw.filter { ["kty", "n", "e", "crv", "x", "y"].contains($0.key) }))
    }

    // Shared keys: RSA generation is slow, so tests reuse these.
    static let ps256 = try! ServerSigningKey.generate(.ps256)
    static let rs256 = try! ServerSigningKey(privateKeyPEM: ps256.privateKeyPEM, algorithm: .rs256)
    static let es256 = try! ServerSigningKey.generate(.es256)
    static let otherPS256 = try! ServerSigningKey.generate(.ps256)
}
