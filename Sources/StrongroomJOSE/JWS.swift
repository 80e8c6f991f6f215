import Crypto
import Foundation
import StrongroomCore
import _CryptoExtras

/// A compact-serialized JWS (RFC 7515 §7.1) whose signature has not been checked.
///
/// Parsing is strict and bounded: at most `maximumSize` bytes, exactly three parts, strict
/// base64url, header and payload JSON objects, `alg` present, no `crit`.
public struct UnverifiedJWS: Sendable {
    public static let maximumSize = 64 * 1024

    public let header: [String: JSONValue]
    public let payload: [String: JSONValue]
    /// The decoded payload bytes, as signed.
    public let payloadData: Data
    public let signingInput: Data
    public let signature: Data

    public var algorithm: String { header["alg"]?.stringValue ?? "" }
    public var kid: String? { header["kid"]?.stringValue }
    public var typ: String? { header["typ"]?.stringValue }

    public init(compact: String) throws(JOSEError) {
        let utf8 = compact.utf8
        guard utf8.count <= UnverifiedJWS.maximumSize else {
            throw .malformed("JWS larger than \(UnverifiedJWS.maximumSize) bytes")
        }
        let parts = compact.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            throw .malformed(parts.count == 5 ? "JWE is not accepted here" : "JWS must have 3 parts, has \(parts.count)")
        }
        guard let headerData = Base64URL.decode(parts[0]), !headerData.isEmpty else {
            throw .malformed("header is not base64url")
        }
        guard let payloadData = Base64URL.decode(parts[1]) else { throw .malformed("payload is not base64url") }
        guard let signature = Base64URL.decode(parts[2]) else { throw .malformed("signature is not base64url") }
        guard let header = JSONValue.parse(headerData)?.objectValue else {
            throw .malformed("header is not a JSON object")
        }
        guard let payload = JSONValue.parse(payloadData)?.objectValue else {
            throw .malformed("payload is not a JSON object")
        }
        // RFC 7515 §4.1.11: a recipient that does not understand a listed extension must reject.
        if let crit = header["crit"] {
            throw .unsupportedCritical("crit \(crit.serializedString()) is not supported")
        }
        guard let alg = header["alg"] else { throw .malformed("header has no \"alg\"") }
        guard alg.stringValue != nil else { throw .malformed("header \"alg\" is not a string") }
        if let kid = header["kid"], kid.stringValue == nil { throw .malformed("header \"kid\" is not a string") }
        if let typ = header["typ"], typ.stringValue == nil { throw .malformed("header \"typ\" is not a string") }

        self.header = header
        self.payload = payload
        self.payloadData = payloadData
        self.signature = signature
        self.signingInput = Data(compact.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
    }
}

/// What a verifier accepts. The allow-list comes from the profile and the client's registration,
/// never from the token.
public struct VerificationPolicy: Sendable {
    public var allowedAlgorithms: [JWSAlgorithm]
    /// The client's registered algorithm (e.g. `request_object_signing_alg`), if any.
    public var requiredAlgorithm: JWSAlgorithm?
    /// RSA keys shorter than this are refused (FAPI 1.0 Advanced §8.6: 2048).
    /// Note: keys below 2048 bits are refused regardless, swift-crypto will not load them.
    public var minimumRSABits: Int
    /// EC keys on curves smaller than this are refused (FAPI: 160; P-256 is 256).
    public var minimumECBits: Int

    public init(
        allowedAlgorithms: [JWSAlgorithm], requiredAlgorithm: JWSAlgorithm? = nil,
        minimumRSABits: Int = 2048, minimumECBits: Int = 160
    ) {
        self.allowedAlgorithms = allowedAlgorithms
        self.requiredAlgorithm = requiredAlgorithm
        self.minimumRSABits = minimumRSABits
        self.minimumECBits = minimumECBits
    }
}

/// A JWS whose signature verified with `key` under a policy.
public struct VerifiedJWS: Sendable {
    public let header: [String: JSONValue]
    public let payload: [String: JSONValue]
    public let algorithm: JWSAlgorithm
    /// The key that verified it; nil for HMAC.
    public let key: JWK?
}

/// Verifies JWS from untrusted parties: picks and pins exactly one key, then does the math with swift-crypto.
public enum JWSVerifier {
    /// Verifies with an asymmetric key from `keys`.
    ///
    /// Key selection: with a header `kid`, only keys with that `kid` (never a fallback); without
    /// one, the single key whose type, `alg` and `use` fit. Refuses `none`, algorithms outside the
    /// policy, HS* (see `verifyHMAC`), key-type or key-`alg` mismatch, weak keys, bad signatures.
    public static func verify(_ jws: UnverifiedJWS, keys: JWKSet, policy: VerificationPolicy) throws(JOSEError) -> VerifiedJWS {
        let alg = try checkAlgorithm(jws.algorithm, policy: policy)
        if alg.isSymmetric {
            throw .algorithmNotAllowed("\(alg.rawValue) needs a shared secret and is not accepted with public keys")
        }
        let key = try selectKey(for: alg, kid: jws.kid, in: keys.keys)
        try checkStrength(key, alg: alg, policy: policy)
        guard try signatureIsValid(jws.signature, over: jws.signingInput, key: key, alg: alg) else {
            throw .badSignature
        }
        return VerifiedJWS(header: jws.header, payload: jws.payload, algorithm: alg, key: key)
    }

    /// Verifies HS256/384/512 with a shared secret (client_secret_jwt, RFC 7523 / OIDC Core §9).
    ///
    /// RFC 7518 §3.2: the key must be at least the hash size, so secrets shorter than 32/48/64
    /// bytes (UTF-8) are refused for HS256/384/512 as `weakKey`.
    public static func verifyHMAC(_ jws: UnverifiedJWS, secret: String, policy: VerificationPolicy) throws(JOSEError) -> VerifiedJWS {
        let alg = try checkAlgorithm(jws.algorithm, policy: policy)
        guard alg.isSymmetric else {
            throw .algorithmNotAllowed("\(alg.rawValue) is not an HMAC algorithm")
        }
        let key = SymmetricKey(data: Data(secret.utf8))
        let minimum = hashSize(alg)
        guard secret.utf8.count >= minimum else {
            throw .weakKey("\(alg.rawValue) needs a secret of at least \(minimum) bytes")
        }
        let valid: Bool
        switch alg {
        case .hs256: valid = HMAC<SHA256>.isValidAuthenticationCode(jws.signature, authenticating: jws.signingInput, using: key)
        case .hs384: valid = HMAC<SHA384>.isValidAuthenticationCode(jws.signature, authenticating: jws.signingInput, using: key)
        case .hs512: valid = HMAC<SHA512>.isValidAuthenticationCode(jws.signature, authenticating: jws.signingInput, using: key)
        default: valid = false
        }
        guard valid else { throw .badSignature }
        return VerifiedJWS(header: jws.header, payload: jws.payload, algorithm: alg, key: nil)
    }

    // MARK: - Steps

    /// The header `alg` must be a known algorithm, not `none`, in the allow-list, and the registered one.
    static func checkAlgorithm(_ name: String, policy: VerificationPolicy) throws(JOSEError) -> JWSAlgorithm {
        guard let alg = JWSAlgorithm(rawValue: name) else {
            throw .algorithmNotAllowed("unsupported alg \"\(name)\"")
        }
        if alg == .none { throw .algorithmNotAllowed("alg none is never accepted") }
        guard policy.allowedAlgorithms.contains(alg) else {
            throw .algorithmNotAllowed("\(name) is not among the allowed algorithms (\(policy.allowedAlgorithms.map(\.rawValue).joined(separator: ", ")))")
        }
        if let required = policy.requiredAlgorithm, required != alg {
            throw .algorithmNotAllowed("\(name) is not the registered algorithm \(required.rawValue)")
        }
        return alg
    }

    /// The `kty` an algorithm needs (RFC 7518 §3.1).
    static func keyType(for alg: JWSAlgorithm) -> String {
        if alg.isRSA { return "RSA" }
        if alg.isEC { return "EC" }
        if alg == .eddsa { return "OKP" }
        return "oct"
    }

    static func usableForVerification(_ key: JWK) -> Bool {
        if let use = key.use, use != "sig" { return false }
        if let ops = key.keyOps, !ops.contains("verify") { return false }
        return true
    }

    /// Whether the key's type and own `alg` fit; throws `keyAlgorithmMismatch` if not.
    static func checkCompatible(_ key: JWK, alg: JWSAlgorithm) throws(JOSEError) {
        let needed = keyType(for: alg)
        guard key.kty == needed else {
            throw .keyAlgorithmMismatch("\(alg.rawValue) needs a \(needed) key, key\(key.kid.map { " \($0)" } ?? "") is \(key.kty)")
        }
        if let keyAlg = key.alg, keyAlg != alg.rawValue {
            throw .keyAlgorithmMismatch("key\(key.kid.map { " \($0)" } ?? "") is registered for \(keyAlg), header says \(alg.rawValue)")
        }
        guard usableForVerification(key) else {
            throw .noSuitableKey("key\(key.kid.map { " \($0)" } ?? "") is not for signature verification")
        }
    }

    static func selectKey(for alg: JWSAlgorithm, kid: String?, in keys: [JWK]) throws(JOSEError) -> JWK {
        if let kid {
            let byKid = keys.filter { $0.kid == kid }
            switch byKid.count {
            case 0: throw .noSuitableKey("no key with kid \"\(kid)\"")
            case 1:
                try checkCompatible(byKid[0], alg: alg)
                return byKid[0]
            default:
                let fitting = byKid.filter { (try? checkCompatible($0, alg: alg)) != nil }
                guard fitting.count == 1 else {
                    if fitting.isEmpty { try checkCompatible(byKid[0], alg: alg) }
                    throw .noSuitableKey("\(fitting.count) keys with kid \"\(kid)\" fit \(alg.rawValue)")
                }
                return fitting[0]
            }
        }
        let fitting = keys.filter { (try? checkCompatible($0, alg: alg)) != nil }
        switch fitting.count {
        case 1: return fitting[0]
        case 0:
            if keys.count == 1 { try checkCompatible(keys[0], alg: alg) }
            throw .noSuitableKey("no key fits \(alg.rawValue)")
        default:
            throw .noSuitableKey("\(fitting.count) keys fit \(alg.rawValue) and the header has no kid")
        }
    }

    /// RSA modulus and EC curve checks (FAPI 1.0 Advanced §8.6, FAPI 2.0 §5.4.1).
    static func checkStrength(_ key: JWK, alg: JWSAlgorithm, policy: VerificationPolicy) throws(JOSEError) {
        switch key.kty {
        case "RSA":
            let bits = key.rsaModulusBits ?? 0
            guard bits >= policy.minimumRSABits, bits >= 2048 else {
                throw .weakKey("RSA key of \(bits) bits; at least \(max(policy.minimumRSABits, 2048)) required")
            }
        case "EC":
            let curve = key.curve ?? ""
            guard let bits = curveBits[curve] else { throw .weakKey("unsupported curve \(curve)") }
            guard bits >= policy.minimumECBits else { throw .weakKey("curve \(curve) is below \(policy.minimumECBits) bits") }
            let expected: String = switch alg {
            case .es256: "P-256"
            case .es384: "P-384"
            default: "P-521"
            }
            guard curve == expected else { throw .keyAlgorithmMismatch("\(alg.rawValue) needs curve \(expected), key is \(curve)") }
        case "OKP":
            guard key.curve == "Ed25519" else { throw .weakKey("unsupported curve \(key.curve ?? "")") }
        default:
            throw .keyAlgorithmMismatch("unsupported key type \(key.kty)")
        }
    }

    static let curveBits: [String: Int] = ["P-256": 256, "P-384": 384, "P-521": 521]

    static func hashSize(_ alg: JWSAlgorithm) -> Int {
        switch alg {
        case .ps384, .rs384, .es384, .hs384: 48
        case .ps512, .rs512, .es512, .hs512, .eddsa: 64
        default: 32
        }
    }

    static func signatureIsValid(_ signature: Data, over input: Data, key: JWK, alg: JWSAlgorithm) throws(JOSEError) -> Bool {
        switch alg {
        case .ps256, .ps384, .ps512, .rs256, .rs384, .rs512:
            guard let n = key.member("n"), let e = key.member("e"),
                let publicKey = try? _RSA.Signing.PublicKey(n: n, e: e)
            else { throw .weakKey("RSA key cannot be loaded") }
            guard let scheme = RSAScheme(alg) else { return false }
            return scheme.isValid(signature, over: input, publicKey: publicKey)
        case .es256:
            // RFC 7518 §3.4: R || S, each the field size.
            guard signature.count == 64 else { return false }
            guard let publicKey = try? P256.Signing.PublicKey(rawRepresentation: ecPoint(key)) else {
                throw .malformed("EC key is not a point on P-256")
            }
            guard let sig = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return publicKey.isValidSignature(sig, for: input)
        case .es384:
            guard signature.count == 96 else { return false }
            guard let publicKey = try? P384.Signing.PublicKey(rawRepresentation: ecPoint(key)) else {
                throw .malformed("EC key is not a point on P-384")
            }
            guard let sig = try? P384.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return publicKey.isValidSignature(sig, for: input)
        case .es512:
            guard signature.count == 132 else { return false }
            guard let publicKey = try? P521.Signing.PublicKey(rawRepresentation: ecPoint(key)) else {
                throw .malformed("EC key is not a point on P-521")
            }
            guard let sig = try? P521.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return publicKey.isValidSignature(sig, for: input)
        case .eddsa:
            guard let x = key.member("x"), let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: x) else {
                throw .malformed("Ed25519 key cannot be loaded")
            }
            return publicKey.isValidSignature(signature, for: input)
        case .hs256, .hs384, .hs512, .none:
            return false
        }
    }

    static func ecPoint(_ key: JWK) -> Data {
        (key.member("x") ?? Data()) + (key.member("y") ?? Data())
    }
}
