import Crypto
import Foundation
import StrongroomCore
import _CryptoExtras

/// A server signing key (private): RSA for PS*/RS* (generated at 2048 bits), P-256/384/521 for ES*.
/// EdDSA is not offered for server keys (no PEM form for Ed25519 in swift-crypto).
public struct ServerSigningKey: Sendable {
    enum Backing: Sendable {
        case rsa(_RSA.Signing.PrivateKey)
        case p256(P256.Signing.PrivateKey)
        case p384(P384.Signing.PrivateKey)
        case p521(P521.Signing.PrivateKey)
    }

    /// RFC 7638 thumbprint of the public JWK.
    public let kid: String
    public let algorithm: JWSAlgorithm
    /// Public members plus kid, use "sig", alg.
    public let publicJWK: JWK
    let backing: Backing
    /// The same RSA key loaded into the system OpenSSL, which signs RSA faster on CPUs with AVX-512
    /// IFMA (see `OpenSSLRSASigner`); nil for EC keys, or when OpenSSL could not load the key or its
    /// probe signature did not verify with swift-crypto (then swift-crypto signs).
    let rsaSigner: OpenSSLRSASigner?

    init(backing: Backing, algorithm: JWSAlgorithm) throws {
        self.backing = backing
        self.algorithm = algorithm
        let bare = try JWK(json: ServerSigningKey.publicMembers(backing))
        self.kid = bare.thumbprint()
        self.publicJWK = bare.with(["kid": .string(kid), "use": "sig", "alg": .string(algorithm.rawValue)])
        if case .rsa(let k) = backing {
            self.rsaSigner = Self.checkedOpenSSLSigner(for: k, algorithm: algorithm)
        } else {
            self.rsaSigner = nil
        }
    }

    /// Loads the key into OpenSSL and keeps it only if a probe signature made there verifies with
    /// swift-crypto under this algorithm's digest and padding.
    static func checkedOpenSSLSigner(for key: _RSA.Signing.PrivateKey, algorithm: JWSAlgorithm) -> OpenSSLRSASigner? {
        guard let scheme = RSAScheme(algorithm), let signer = OpenSSLRSASigner(pkcs1DER: key.derRepresentation) else { return nil }
        let probe = Data("strongroom signing-key probe \(algorithm.rawValue)".utf8)
        guard let signature = signer.sign(probe, scheme: scheme),
              scheme.isValid(signature, over: probe, publicKey: key.publicKey) else { return nil }
        return signer
    }

    public static func generate(_ algorithm: JWSAlgorithm) throws -> ServerSigningKey {
        switch algorithm {
        case .ps256, .ps384, .ps512, .rs256, .rs384, .rs512:
            return try ServerSigningKey(backing: .rsa(try _RSA.Signing.PrivateKey(keySize: .bits2048)), algorithm: algorithm)
        case .es256: return try ServerSigningKey(backing: .p256(P256.Signing.PrivateKey()), algorithm: algorithm)
        case .es384: return try ServerSigningKey(backing: .p384(P384.Signing.PrivateKey()), algorithm: algorithm)
        case .es512: return try ServerSigningKey(backing: .p521(P521.Signing.PrivateKey()), algorithm: algorithm)
        default: throw JOSEError.algorithmNotAllowed("server signing keys support PS*, RS*, ES*; not \(algorithm.rawValue)")
        }
    }

    /// Loads a PEM private key (PKCS#8, PKCS#1 for RSA, SEC1 for EC). The key type must fit the algorithm.
    public init(privateKeyPEM: String, algorithm: JWSAlgorithm) throws {
        let backing: Backing
        do {
            switch algorithm {
            case .ps256, .ps384, .ps512, .rs256, .rs384, .rs512:
                backing = .rsa(try _RSA.Signing.PrivateKey(pemRepresentation: privateKeyPEM))
            case .es256: backing = .p256(try P256.Signing.PrivateKey(pemRepresentation: privateKeyPEM))
            case .es384: backing = .p384(try P384.Signing.PrivateKey(pemRepresentation: privateKeyPEM))
            case .es512: backing = .p521(try P521.Signing.PrivateKey(pemRepresentation: privateKeyPEM))
            default: throw JOSEError.algorithmNotAllowed("server signing keys support PS*, RS*, ES*; not \(algorithm.rawValue)")
            }
        } catch let error as JOSEError {
            throw error
        } catch {
            throw JOSEError.keyAlgorithmMismatch("PEM private key is not a usable \(algorithm.rawValue) key (RSA ≥ 2048 bits or the matching curve)")
        }
        try self.init(backing: backing, algorithm: algorithm)
    }

    /// PKCS#8 PEM of the private key.
    public var privateKeyPEM: String {
        switch backing {
        case .rsa(let k): k.pkcs8PEMRepresentation
        case .p256(let k): k.pemRepresentation
        case .p384(let k): k.pemRepresentation
        case .p521(let k): k.pemRepresentation
        }
    }

    /// The private JWK (public members, kid/use/alg, and private members).
    public var privateJWK: JWK {
        var members = publicJWK.raw
        switch backing {
        case .rsa(let k):
            for (name, value) in (try? RSAPrivateNumbers(pkcs1DER: k.derRepresentation).jwkMembers) ?? [:] {
                members[name] = value
            }
        case .p256(let k): members["d"] = .string(Base64URL.encode(k.rawRepresentation))
        case .p384(let k): members["d"] = .string(Base64URL.encode(k.rawRepresentation))
        case .p521(let k): members["d"] = .string(Base64URL.encode(k.rawRepresentation))
        }
        return (try? JWK(json: .object(members))) ?? publicJWK
    }

    /// Compact JWS over the JSON payload. Header: `alg`, `kid`, `typ` if given, plus `extraHeader`
    /// (which cannot override `alg` or `kid`).
    public func sign(payload: [String: JSONValue], type: String? = nil, extraHeader: [String: JSONValue] = [:]) throws -> String {
        try sign(payloadData: JSONValue.object(payload).serialized(), type: type, extraHeader: extraHeader)
    }

    public func sign(payloadData: Data, type: String?, extraHeader: [String: JSONValue]) throws -> String {
        var header = extraHeader
        header["alg"] = .string(algorithm.rawValue)
        header["kid"] = .string(kid)
        if let type { header["typ"] = .string(type) }
        let input = Base64URL.encode(JSONValue.object(header).serialized()) + "." + Base64URL.encode(payloadData)
        let signature = try signature(for: Data(input.utf8))
        return input + "." + Base64URL.encode(signature)
    }

    /// The raw JWS signature over `data` (RFC 7518 §3.3–3.5).
    public func signature(for data: Data) throws -> Data {
        switch backing {
        case .rsa(let k):
            guard let scheme = RSAScheme(algorithm) else { throw JOSEError.algorithmNotAllowed(algorithm.rawValue) }
            if let rsaSigner, let signature = rsaSigner.sign(data, scheme: scheme) { return signature }
            return try scheme.signature(over: data, key: k)
        case .p256(let k): return try k.signature(for: data).rawRepresentation
        case .p384(let k): return try k.signature(for: data).rawRepresentation
        case .p521(let k): return try k.signature(for: data).rawRepresentation
        }
    }

    static func publicMembers(_ backing: Backing) throws -> JSONValue {
        switch backing {
        case .rsa(let k):
            let primitives = try k.publicKey.getKeyPrimitives()
            return .object([
                "kty": "RSA",
                "n": .string(Base64URL.encode(primitives.modulus.drop(while: { $0 == 0 }))),
                "e": .string(Base64URL.encode(primitives.publicExponent.drop(while: { $0 == 0 }))),
            ])
        case .p256(let k): return ecMembers("P-256", k.publicKey.rawRepresentation)
        case .p384(let k): return ecMembers("P-384", k.publicKey.rawRepresentation)
        case .p521(let k): return ecMembers("P-521", k.publicKey.rawRepresentation)
        }
    }

    static func ecMembers(_ crv: String, _ raw: Data) -> JSONValue {
        let half = raw.count / 2
        return .object([
            "kty": "EC", "crv": .string(crv),
            "x": .string(Base64URL.encode(raw.prefix(half))),
            "y": .string(Base64URL.encode(raw.suffix(half))),
        ])
    }
}

/// The server's keys: which one signs for each algorithm, and which are published.
public struct ServerKeyRing: Sendable {
    public let signing: [ServerSigningKey]
    public let publishedOnly: [JWK]

    /// Signing keys are used and published; `publishedOnly` keys are published for verification
    /// only (a retired key during rotation). Private members of `publishedOnly` are never published.
    /// `jwks` serialized, once per ring: GET /jwks answers these bytes.
    public let jwksDocument: Data

    public init(signing: [ServerSigningKey], publishedOnly: [JWK]) {
        self.signing = signing
        self.publishedOnly = publishedOnly.map(\.publicOnly)
        self.jwksDocument = Self.publicKeySet(signing: signing, publishedOnly: self.publishedOnly).json.serialized()
    }

    /// The first signing key for `algorithm`.
    public func signer(for algorithm: JWSAlgorithm) -> ServerSigningKey? {
        signing.first { $0.algorithm == algorithm }
    }

    /// The published JWK Set: public members only, with kid/use/alg; duplicate kids published once.
    public var publicKeySet: JWKSet { Self.publicKeySet(signing: signing, publishedOnly: publishedOnly) }

    static func publicKeySet(signing: [ServerSigningKey], publishedOnly: [JWK]) -> JWKSet {
        var seen: Set<String> = []
        var keys: [JWK] = []
        for key in signing.map(\.publicJWK) + publishedOnly {
            if let kid = key.kid {
                guard seen.insert(kid).inserted else { continue }
            }
            keys.append(key.publicOnly)
        }
        return JWKSet(keys: keys)
    }

    public var jwks: JSONValue { publicKeySet.json }

    /// Algorithms the server can sign with, in key order, each once.
    public var algorithms: [JWSAlgorithm] {
        var out: [JWSAlgorithm] = []
        for key in signing where !out.contains(key.algorithm) { out.append(key.algorithm) }
        return out
    }
}

/// at_hash / c_hash / s_hash (OIDC Core §3.3.2.11): base64url of the left half of the hash
/// that the ID Token's `alg` uses (SHA-512 for EdDSA/Ed25519).
public enum HalfHash {
    public static func compute(_ value: String, algorithm: JWSAlgorithm) -> String {
        let data = Data(value.utf8)
        let digest: [UInt8]
        switch algorithm {
        case .ps384, .rs384, .es384, .hs384: digest = Array(SHA384.hash(data: data))
        case .ps512, .rs512, .es512, .hs512, .eddsa: digest = Array(SHA512.hash(data: data))
        default: digest = Array(SHA256.hash(data: data))
        }
        return Base64URL.encode(digest.prefix(digest.count / 2))
    }
}
