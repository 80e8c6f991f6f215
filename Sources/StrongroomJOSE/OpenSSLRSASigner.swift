import COpenSSLCrypto
import Foundation

/// RSA signing (PS256/384/512, RS256/384/512) through the system OpenSSL 3 libcrypto.
///
/// Why not swift-crypto for these: the BoringSSL inside swift-crypto has no AVX-512 IFMA code path
/// for RSA, OpenSSL 3 has one, and on CPUs with IFMA it signs RSA-2048 about 2.4 times faster
/// (`openssl speed rsa2048`; see docs/benchmarks.md). A PS256 access token or ID token is one RSA
/// signature, the largest single cost of issuing it. Key generation, the public key, PEM and JWK
/// forms, and every verification stay in swift-crypto; this type only signs, with the same key.
///
/// Padding and parameters are OpenSSL's own: PSS with MGF1 over the same digest and a salt as long
/// as the digest (RFC 7518 §3.5), or PKCS #1 v1.5 for RS*. OpenSSL applies RSA blinding itself.
/// At load, `ServerSigningKey` signs a probe and verifies it with swift-crypto, so a key that the
/// two libraries would read differently is never used.
final class OpenSSLRSASigner: @unchecked Sendable {
    // @unchecked: the EVP_PKEY is created once, never modified afterwards, and OpenSSL 3 allows one
    // key to be used for signing on several threads at once; each signature has its own contexts.
    private let key: OpaquePointer

    /// `pkcs1DER`: the RSAPrivateKey structure (PKCS #1), as swift-crypto's `derRepresentation` gives it.
    init?(pkcs1DER: Data) {
        let key: OpaquePointer? = pkcs1DER.withUnsafeBytes { raw -> OpaquePointer? in
            guard let base = raw.bindMemory(to: UInt8.self).baseAddress else { return nil }
            var cursor: UnsafePointer<UInt8>? = base
            return d2i_PrivateKey(EVP_PKEY_RSA, nil, &cursor, raw.count)
        }
        guard let key else {
            ERR_clear_error()
            return nil
        }
        self.key = key
    }

    deinit {
        EVP_PKEY_free(key)
    }

    /// The signature over `data` under `scheme`: the digest is computed by OpenSSL (EVP_DigestSign).
    func sign(_ data: Data, scheme: RSAScheme) -> Data? {
        guard let context = EVP_MD_CTX_new() else { return nil }
        defer { EVP_MD_CTX_free(context) }
        let md: OpaquePointer? = switch scheme.digest {
        case .sha256: EVP_sha256()
        case .sha384: EVP_sha384()
        case .sha512: EVP_sha512()
        }
        var keyContext: OpaquePointer?
        guard EVP_DigestSignInit(context, &keyContext, md, nil, key) == 1, let keyContext else {
            ERR_clear_error()
            return nil
        }
        if scheme.pss {
            guard EVP_PKEY_CTX_set_rsa_padding(keyContext, RSA_PKCS1_PSS_PADDING) == 1,
                  EVP_PKEY_CTX_set_rsa_pss_saltlen(keyContext, RSA_PSS_SALTLEN_DIGEST) == 1 else {
                ERR_clear_error()
                return nil
            }
        } else {
            guard EVP_PKEY_CTX_set_rsa_padding(keyContext, RSA_PKCS1_PADDING) == 1 else {
                ERR_clear_error()
                return nil
            }
        }
        var length = Int(EVP_PKEY_get_size(key))
        var signature = Data(count: length)
        let ok = signature.withUnsafeMutableBytes { out in
            data.withUnsafeBytes { input in
                EVP_DigestSign(context, out.bindMemory(to: UInt8.self).baseAddress, &length,
                               input.bindMemory(to: UInt8.self).baseAddress, input.count)
            }
        }
        guard ok == 1 else {
            ERR_clear_error()
            return nil
        }
        signature.count = length
        return signature
    }
}
