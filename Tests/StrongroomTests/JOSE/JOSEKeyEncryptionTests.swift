import Foundation
import StrongroomCore
import StrongroomJOSE
import Testing

/// The AES-GCM envelope of secrets stored at rest, and how key-encryption keys are configured.
/// Keys here are generated per run (or are fixed bytes named as test keys): test material only.
@Suite("JOSE key encryption")
struct JOSEKeyEncryptionTests {
    static let field = SealedField(table: "clients", column: "secret_for_hmac", rowID: "client-a")

    @Test("seal and open round-trip; the envelope is versioned, names its key and hides the plaintext")
    func roundTrip() throws {
        let kek = KeyEncryptionKey.generate()
        let ring = KeyEncryptionKeyRing(current: kek)
        let secret = "a client_secret_jwt secret of enough length 0123456789"
        let sealed = try ring.seal(secret, for: Self.field)
        #expect(sealed.hasPrefix("enc:v1:\(kek.id):"))
        #expect(!sealed.contains(secret))
        #expect(SealedEnvelope.keyID(of: sealed) == kek.id)
        #expect(try ring.open(sealed, for: Self.field) == secret)
        // A fresh nonce every time.
        #expect(try ring.seal(secret, for: Self.field) != sealed)
    }

    @Test("the key id is derived from the key: stable, distinct, and not the key")
    func keyIDs() throws {
        let bytes = [UInt8](repeating: 0x42, count: 32)  // a fixed TEST key
        let a = try KeyEncryptionKey(bytes: bytes), b = try KeyEncryptionKey(bytes: bytes)
        #expect(a.id == b.id)
        #expect(a.id != KeyEncryptionKey.generate().id)
        #expect(a.id.count == 16)
        #expect(!a.base64.contains(a.id))
        #expect(try KeyEncryptionKey(bytes: Array(Data(base64Encoded: a.base64)!)).id == a.id)
    }

    @Test("a key that is not 32 bytes is refused")
    func keyLength() {
        #expect(throws: SealingError.self) { try KeyEncryptionKey(bytes: [UInt8](repeating: 1, count: 16)) }
        #expect(throws: SealingError.self) { try KeyEncryptionKey(bytes: [UInt8](repeating: 1, count: 33)) }
    }

    @Test("another key, another row or column, or an altered value does not open")
    func refusals() throws {
        let kek = KeyEncryptionKey.generate(), other = KeyEncryptionKey.generate()
        let ring = KeyEncryptionKeyRing(current: kek)
        let sealed = try ring.seal("secret-value-0123456789-0123456789", for: Self.field)

        #expect(throws: SealingError.unknownKey(keyID: kek.id, Self.field)) {
            try KeyEncryptionKeyRing(current: other).open(sealed, for: Self.field)
        }
        let otherRow = SealedField(table: "clients", column: "secret_for_hmac", rowID: "client-b")
        #expect(throws: SealingError.authenticationFailed(keyID: kek.id, otherRow)) { try ring.open(sealed, for: otherRow) }
        let otherColumn = SealedField(table: "signing_keys", column: "private_key_pem", rowID: "client-a")
        #expect(throws: SealingError.authenticationFailed(keyID: kek.id, otherColumn)) { try ring.open(sealed, for: otherColumn) }

        // Flip one character of the payload.
        var chars = Array(sealed)
        let i = chars.count - 5
        chars[i] = chars[i] == "A" ? "B" : "A"
        #expect(throws: SealingError.self) { try ring.open(String(chars), for: Self.field) }
        // Pretending another (configured) key made it fails authentication: the key id is authenticated too.
        let both = KeyEncryptionKeyRing(current: other, previous: [kek])
        let relabelled = sealed.replacingOccurrences(of: ":\(kek.id):", with: ":\(other.id):")
        #expect(throws: SealingError.authenticationFailed(keyID: other.id, Self.field)) { try both.open(relabelled, for: Self.field) }

        #expect(throws: SealingError.notSealed(Self.field)) { try ring.open("-----BEGIN PRIVATE KEY-----", for: Self.field) }
        #expect(throws: SealingError.malformed(Self.field)) { try ring.open("enc:v1:\(kek.id)", for: Self.field) }
        #expect(throws: SealingError.malformed(Self.field)) { try ring.open("enc:v1:\(kek.id):not*base64", for: Self.field) }
        #expect(throws: SealingError.unsupportedVersion("v9", Self.field)) { try ring.open("enc:v9:\(kek.id):AAAA", for: Self.field) }
    }

    @Test("previous keys open but never seal")
    func previousKeys() throws {
        let old = KeyEncryptionKey.generate(), new = KeyEncryptionKey.generate()
        let sealedOld = try KeyEncryptionKeyRing(current: old).seal("s", for: Self.field)
        let ring = KeyEncryptionKeyRing(current: new, previous: [old, new, old])
        #expect(ring.keyIDs == [new.id, old.id])
        #expect(try ring.open(sealedOld, for: Self.field) == "s")
        #expect(SealedEnvelope.keyID(of: try ring.seal("s", for: Self.field)) == new.id)
    }

    @Test("keys come from a file (with # comments), the configuration or the environment")
    func configuredKeys() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("strongroom-kek-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let current = KeyEncryptionKey.generate(), old = KeyEncryptionKey.generate()
        let file = dir.appendingPathComponent("kek.key"), oldFile = dir.appendingPathComponent("old.key")
        try KeySettings.keyFileText(base64: current.base64, comment: ["TEST key"]).write(to: file, atomically: true, encoding: .utf8)
        try (old.base64 + "\n").write(to: oldFile, atomically: true, encoding: .utf8)

        let ring = try #require(try KeyEncryptionKeyRing.configured(
            KeySettings(encryptionKeyFile: file.path), extraPrevious: [oldFile.path]))
        #expect(ring.currentKeyID == current.id && ring.previous.map(\.id) == [old.id])
        #expect(try KeyEncryptionKeyRing.configured(KeySettings()) == nil)
        #expect(try KeyEncryptionKeyRing.configured(KeySettings(encryptionKey: current.base64))?.currentKeyID == current.id)

        #expect(throws: ConfigurationError.self) {
            try KeyEncryptionKeyRing.configured(KeySettings(encryptionKeyFile: dir.appendingPathComponent("missing").path))
        }
        do {
            _ = try KeyEncryptionKeyRing.configured(KeySettings(encryptionKey: Data(count: 16).base64EncodedString()))
            Issue.record("a 16-byte key was accepted")
        } catch let error as ConfigurationError {
            #expect(error.key == "keys.encryption_key")
            #expect(error.message.contains("32 bytes"))
        }

        // The environment replaces the file's choice; both at once is refused.
        let yaml = """
            service: {issuer: "https://as.example"}
            server: {tls_certificate: c.pem, tls_private_key: k.pem}
            secret_hash_key: \(Data(count: 32).base64EncodedString())
            keys:
              encryption_key_file: kek.key
              previous_encryption_key_files: [old.key]
            """
        let path = dir.appendingPathComponent("strongroom.yaml")
        try yaml.write(to: path, atomically: true, encoding: .utf8)
        let loaded = try StrongroomConfiguration.load(path: path.path, environment: [:])
        #expect(loaded.keys.encryptionKeyFile == file.path && loaded.keys.previousEncryptionKeyFiles == [oldFile.path])
        let fromEnv = try StrongroomConfiguration.load(path: path.path, environment: [
            "STRONGROOM_KEY_ENCRYPTION_KEY": current.base64, "STRONGROOM_PREVIOUS_KEY_ENCRYPTION_KEYS": "\(old.base64), ",
        ])
        #expect(fromEnv.keys.encryptionKey == current.base64 && fromEnv.keys.encryptionKeyFile == nil)
        #expect(fromEnv.keys.previousEncryptionKeys == [old.base64])
        #expect(throws: ConfigurationError.self) {
            try StrongroomConfiguration.load(path: path.path, environment: [
                "STRONGROOM_KEY_ENCRYPTION_KEY": current.base64, "STRONGROOM_KEY_ENCRYPTION_KEY_FILE": file.path,
            ])
        }
    }
}
