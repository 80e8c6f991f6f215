import Foundation

/// Where a sealed value lives: its table, column and row. The seal is bound to all three (as
/// AEAD associated data), so a ciphertext copied into another row or column does not open.
public struct SealedField: Sendable, Hashable, CustomStringConvertible {
    public var table: String
    public var column: String
    /// The row's primary key (`kid`, `client_id`).
    public var rowID: String
    public init(table: String, column: String, rowID: String) {
        self.table = table; self.column = column; self.rowID = rowID
    }
    public var description: String { "\(table).\(column) of \(rowID)" }
}

/// Encrypts and decrypts the secrets the database must keep recoverable (server private keys,
/// `client_secret_jwt` secrets) under a key-encryption key (KEK) that never comes from the
/// database. Implemented with AES-GCM in StrongroomJOSE (`KeyEncryptionKeyRing`); the storage
/// layer only sees this protocol.
public protocol SecretSealer: Sendable {
    /// Id of the KEK new seals are made under.
    var currentKeyID: String { get }
    /// Ids of every KEK this sealer can open (current first).
    var keyIDs: [String] { get }
    /// The envelope `enc:v1:<kek-id>:<base64url(nonce | ciphertext | tag)>`, bound to `field`.
    func seal(_ plaintext: String, for field: SealedField) throws(SealingError) -> String
    /// The plaintext of an envelope made for `field` under any known KEK.
    func open(_ envelope: String, for field: SealedField) throws(SealingError) -> String
}

/// The envelope's text form, readable without the key (to classify stored values).
public enum SealedEnvelope {
    /// Every envelope starts with this.
    public static let prefix = "enc:"
    public static let version = "v1"

    /// Whether a stored value is an envelope (of any version) rather than legacy plaintext.
    public static func isSealed(_ value: String) -> Bool { value.hasPrefix(prefix) }

    /// `(version, kek id, payload)` of `enc:<version>:<kek-id>:<payload>`, or nil if malformed.
    public static func parse(_ value: String) -> (version: String, keyID: String, payload: Substring)? {
        guard value.hasPrefix(prefix) else { return nil }
        let parts = value.dropFirst(prefix.count).split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty, !parts[2].isEmpty else { return nil }
        return (String(parts[0]), String(parts[1]), parts[2])
    }

    /// The KEK id an envelope names, or nil if it is not a well-formed envelope.
    public static func keyID(of value: String) -> String? { parse(value)?.keyID }
}

/// Why a sealed value could not be written or read. Descriptions never contain the secret.
public enum SealingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A sealed value was read but no KEK is configured.
    case noKeyConfigured(SealedField)
    /// A plaintext value where an envelope was expected (a row written without encryption).
    case notSealed(SealedField)
    /// The envelope names a KEK that is not configured.
    case unknownKey(keyID: String, SealedField)
    /// The envelope names a version this build does not know.
    case unsupportedVersion(String, SealedField)
    case malformed(SealedField)
    /// AES-GCM authentication failed: a different key with a colliding id, a value moved from
    /// another row, or an altered value.
    case authenticationFailed(keyID: String, SealedField)
    /// The KEK itself is unusable (wrong length, not base64).
    case invalidKey(String)

    public var description: String {
        switch self {
        case .noKeyConfigured(let f):
            "\(f) is encrypted, but no key encryption key is configured (keys.encryption_key_file)"
        case .notSealed(let f):
            "\(f) is stored unencrypted; run `strongroom keys rekey` to encrypt it"
        case .unknownKey(let id, let f):
            "\(f) is encrypted under key encryption key \(id), which is not configured (give it as keys.previous_encryption_key_files or --old-key-file)"
        case .unsupportedVersion(let v, let f):
            "\(f) is encrypted with envelope version \(v), which this build does not know"
        case .malformed(let f):
            "\(f) is not a well-formed encrypted value"
        case .authenticationFailed(let id, let f):
            "\(f) does not decrypt under key encryption key \(id) (altered, or copied from another row)"
        case .invalidKey(let m):
            "invalid key encryption key: \(m)"
        }
    }

    /// The field at fault, if any.
    public var field: SealedField? {
        switch self {
        case .noKeyConfigured(let f), .notSealed(let f), .unknownKey(_, let f), .unsupportedVersion(_, let f),
             .malformed(let f), .authenticationFailed(_, let f): f
        case .invalidKey: nil
        }
    }
}
