import Crypto
import Foundation
import StrongroomCore
import _CryptoExtras

/// How an RSA JWS algorithm signs (RFC 7518 §3.3, §3.5): its digest, and RSASSA-PSS (PS*: MGF1 with
/// the same hash, salt as long as the digest, which is swift-crypto's `.PSS`) or PKCS #1 v1.5 (RS*).
/// The one place that maps the algorithm names to these, for signing (OpenSSL or swift-crypto) and
/// for verifying.
struct RSAScheme {
    enum Digest { case sha256, sha384, sha512 }

    let digest: Digest
    let pss: Bool

    /// nil for an algorithm that is not RSA.
    init?(_ algorithm: JWSAlgorithm) {
        switch algorithm {
        case .ps256: (digest, pss) = (.sha256, true)
        case .ps384: (digest, pss) = (.sha384, true)
        case .ps512: (digest, pss) = (.sha512, true)
        case .rs256: (digest, pss) = (.sha256, false)
        case .rs384: (digest, pss) = (.sha384, false)
        case .rs512: (digest, pss) = (.sha512, false)
        default: return nil
        }
    }

    var padding: _RSA.Signing.Padding { pss ? .PSS : .insecurePKCS1v1_5 }

    func isValid(_ signature: Data, over data: Data, publicKey: _RSA.Signing.PublicKey) -> Bool {
        let sig = _RSA.Signing.RSASignature(rawRepresentation: signature)
        switch digest {
        case .sha256: return publicKey.isValidSignature(sig, for: SHA256.hash(data: data), padding: padding)
        case .sha384: return publicKey.isValidSignature(sig, for: SHA384.hash(data: data), padding: padding)
        case .sha512: return publicKey.isValidSignature(sig, for: SHA512.hash(data: data), padding: padding)
        }
    }

    /// The signature made by swift-crypto (BoringSSL).
    func signature(over data: Data, key: _RSA.Signing.PrivateKey) throws -> Data {
        switch digest {
        case .sha256: return try key.signature(for: SHA256.hash(data: data), padding: padding).rawRepresentation
        case .sha384: return try key.signature(for: SHA384.hash(data: data), padding: padding).rawRepresentation
        case .sha512: return try key.signature(for: SHA512.hash(data: data), padding: padding).rawRepresentation
        }
    }
}
