import Crypto
import Foundation
import HummingbirdBcrypt
import StrongroomCore

/// Keyed hash for high-entropy secrets, tokens, codes and `request_uri`s stored in the database
/// (`secret_hash_key`, docs/configuration.md): HMAC-SHA256 under a server key, base64url. A database leak alone does not reveal
/// usable tokens. Not for passwords (use `PasswordHasher`).
public struct SecretHasher: Sendable {
    private let key: SymmetricKey

    public init(key: Data) {
        self.key = SymmetricKey(data: key)
    }

    public func hash(_ value: String) -> String {
        Base64URL.encode(HMAC<SHA256>.authenticationCode(for: Data(value.utf8), using: key))
    }

    /// Constant-time comparison of `value`'s hash with a stored hash.
    public func matches(_ value: String, hash: String) -> Bool {
        constantTimeEquals(self.hash(value), hash)
    }
}

/// bcrypt for user passwords. Costs outside 4…31 are clamped (the library traps on them).
/// bcrypt reads at most 72 bytes of the password.
public enum PasswordHasher {
    public static func hash(_ password: String, cost: UInt8 = 12) -> String {
        Bcrypt.hash(password, cost: min(max(cost, 4), 31))
    }

    public static func verify(_ password: String, hash: String) -> Bool {
        // The C implementation expects a well-formed "$2…$" string; refuse anything else up front.
        guard hash.hasPrefix("$2"), hash.utf8.count == 60 else { return false }
        return Bcrypt.verify(password, hash: hash)
    }
}

/// Compares two strings in time that depends only on their lengths, not on where they differ.
public func constantTimeEquals(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    var difference: UInt8 = x.count == y.count ? 0 : 1
    let count = max(x.count, y.count)
    for i in 0..<count {
        let l = i < x.count ? x[i] : 0
        let r = i < y.count ? y[i] : 0
        difference |= l ^ r
    }
    return difference == 0
}
