import Foundation

/// Why a JOSE object, key or certificate was refused. Mapped to an `OAuthError` at the endpoint;
/// the description is safe to show as error detail (it never contains key material).
public enum JOSEError: Error, Sendable, Equatable {
    /// Not parseable: wrong part count, bad base64url, not a JSON object, missing member, too large.
    case malformed(String)
    /// The header `alg` is `none`, unknown, outside the policy's allow-list, or not the registered one.
    case algorithmNotAllowed(String)
    /// No key could be pinned: unknown `kid`, no candidate, or more than one candidate.
    case noSuitableKey(String)
    /// The signature does not verify with the pinned key.
    case badSignature
    /// The key is too short or uses a curve we do not accept.
    case weakKey(String)
    /// The header has a `crit` member (RFC 7515 §4.1.11): we understand no extensions.
    case unsupportedCritical(String)
    /// The pinned key cannot be used with the header `alg` (key type or the key's own `alg`).
    case keyAlgorithmMismatch(String)
}

extension JOSEError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .malformed(let why): "malformed JOSE object: \(why)"
        case .algorithmNotAllowed(let why): "algorithm not allowed: \(why)"
        case .noSuitableKey(let why): "no suitable key: \(why)"
        case .badSignature: "signature verification failed"
        case .weakKey(let why): "key refused: \(why)"
        case .unsupportedCritical(let why): "unsupported critical header: \(why)"
        case .keyAlgorithmMismatch(let why): "key does not match algorithm: \(why)"
        }
    }
}
