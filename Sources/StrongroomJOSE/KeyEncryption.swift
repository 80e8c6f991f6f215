import Crypto
import Foundation
import StrongroomCore

/// A key-encryption key (KEK): 32 random bytes (AES-256), from configuration, the environment or
/// a file, never from the database.
///
/// Its id is derived from the key (HMAC-SHA256 of a fixed label, first 12 bytes, base64url), so
/// the id written into each envelope always names the key that made it and two different keys
/// never share an id by operator mistake. The id reveals nothing usable about the key.
public struct KeyEncryptionKey: Sendable {
    public let id: String
    let key: SymmetricKey

    public static let byteCount = 32

    public init(bytes: some Sequence<UInt8>) throws(SealingError) {
        let data = Data(bytes)
        guard data.count == Self.byteCount else {
            throw .invalidKey("must be \(Self.byteCount) bytes (base64 of 32 random bytes: openssl rand -base64 32), not \(data.count)")
        }
        self.init(key: SymmetricKey(data: data))
    }

    private init(key: SymmetricKey) {
        self.key = key
        let tag = HMAC<SHA256>.authenticationCode(for: Data("strongroom key encryption key id v1".utf8), using: key)
        id = Base64URL.encode(Array(tag).prefix(12))
    }

    /// A fresh random key from the system CSPRNG (demo kits and tests).
    public static func generate() -> KeyEncryptionKey {
        KeyEncryptionKey(key: SymmetricKey(size: .bits256))
    }

    /// The key as standard base64, the form key files and `STRONGROOM_KEY_ENCRYPTION_KEY` hold.
    public var base64: String { key.withUnsafeBytes { Data($0).base64EncodedString() } }
}

/// The current KEK, which seals, and previous KEKs, which only open (for re-keying).
///
/// Envelope: `enc:v1:<kek-id>:<base64url(nonce | ciphertext | tag)>`, AES-256-GCM with a random
/// 96-bit nonce per seal (swift-crypto `AES.GCM`). The associated data is the version, the KEK id
/// and the field (table, column, row id), so a ciphertext only opens in the row and column it was
/// made for, under the key it names.
public struct KeyEncryptionKeyRing: SecretSealer {
    public let current: KeyEncryptionKey
    public let previous: [KeyEncryptionKey]

    public init(current: KeyEncryptionKey, previous: [KeyEncryptionKey] = []) {
        self.current = current
        // The current key is never also a "previous" one; duplicates are dropped.
        var seen: Set<String> = [current.id]
        self.previous = previous.filter { seen.insert($0.id).inserted }
    }

    public var currentKeyID: String { current.id }
    public var keyIDs: [String] { [current.id] + previous.map(\.id) }

    static func associatedData(keyID: String, field: SealedField) -> Data {
        // Table and column are fixed schema names; the row id, the only free-form part, is last.
        Data("strongroom sealed \(SealedEnvelope.version)\u{0}\(keyID)\u{0}\(field.table)\u{0}\(field.column)\u{0}\(field.rowID)".utf8)
    }

    public func seal(_ plaintext: String, for field: SealedField) throws(SealingError) -> String {
        let box: AES.GCM.SealedBox
        do {
            box = try AES.GCM.seal(Data(plaintext.utf8), using: current.key,
                                   authenticating: Self.associatedData(keyID: current.id, field: field))
        } catch {
            throw .invalidKey("AES-GCM sealing failed: \(error)")
        }
        guard let combined = box.combined else { throw .invalidKey("AES-GCM produced no combined form") }
        return "\(SealedEnvelope.prefix)\(SealedEnvelope.version):\(current.id):\(Base64URL.encode(combined))"
    }

    public func open(_ envelope: String, for field: SealedField) throws(SealingError) -> String {
        guard SealedEnvelope.isSealed(envelope) else { throw .notSealed(field) }
        guard let (version, keyID, payload) = SealedEnvelope.parse(envelope) else { throw .malformed(field) }
        guard version == SealedEnvelope.version else { throw .unsupportedVersion(version, field) }
        guard let kek = ([current] + previous).first(where: { $0.id == keyID }) else { throw .unknownKey(keyID: keyID, field) }
        // 12-byte nonce + 16-byte tag at least.
        guard let bytes = Base64URL.decode(payload), bytes.count >= 28 else { throw .malformed(field) }
        let plaintext: Data
        do {
            let box = try AES.GCM.SealedBox(combined: bytes)
            plaintext = try AES.GCM.open(box, using: kek.key, authenticating: Self.associatedData(keyID: keyID, field: field))
        } catch {
            throw .authenticationFailed(keyID: keyID, field)
        }
        guard let text = String(data: plaintext, encoding: .utf8) else { throw .malformed(field) }
        return text
    }
}

extension KeyEncryptionKeyRing {
    /// The ring configured by `keys`: nil when no current KEK is configured.
    /// Errors are `ConfigurationError`s naming the key at fault.
    public static func configured(_ keys: KeySettings, extraPrevious: [String] = []) throws -> KeyEncryptionKeyRing? {
        let material = try keys.keyMaterial(extraPreviousFiles: extraPrevious)
        guard let current = material.current else { return nil }
        func key(_ item: KeySettings.Material.Item) throws -> KeyEncryptionKey {
            do { return try KeyEncryptionKey(bytes: item.bytes) } catch {
                throw ConfigurationError(key: item.source, message: error.description)
            }
        }
        return KeyEncryptionKeyRing(current: try key(current), previous: try material.previous.map(key))
    }
}
