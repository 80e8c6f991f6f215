import Foundation
import SQLKit
import StrongroomCore
import StrongroomDemo
import StrongroomJOSE
import Testing
@testable import StrongroomStorage

extension SQLStorage {
    /// The stored (raw) value of a sealed column, read with plain SQL.
    func rawSealedValue(_ column: SealedColumn, rowID: String) async throws -> String? {
        try await executor.read { db in
            try await SQLStorage.storedValues(db, column).first { $0.0 == rowID }?.1
        }
    }

    /// Overwrites a sealed column with `value` as it is (to move ciphertexts between rows).
    func overwriteSealedValue(_ column: SealedColumn, rowID: String, with value: String) async throws {
        let old = try await rawSealedValue(column, rowID: rowID)
        try await executor.write { db in
            try await SQLStorage.replace(db, column, id: rowID, old: old ?? "", new: value)
        }
    }

    func executeForTests(_ sql: String) async throws {
        try await executor.write { db in try await db.raw("\(unsafeRaw: sql)").run() }
    }
}

enum SealedFixtures {
    static func ring(_ current: KeyEncryptionKey, previous: [KeyEncryptionKey] = []) -> KeyEncryptionKeyRing {
        KeyEncryptionKeyRing(current: current, previous: previous)
    }

    /// A signing-key record with a real private key, and that key's private JWK member `d`.
    static func signingKey(_ alg: JWSAlgorithm = .es256) throws -> (record: SigningKeyRecord, d: String) {
        let key = try ServerSigningKey.generate(alg)
        let d = try #require(try DemoPKI.jwkPair(privateKeyPEM: key.privateKeyPEM, algorithm: alg).privateJWK.json["d"]?.stringValue)
        let record = SigningKeyRecord(kid: key.kid, algorithm: alg, privateKeyPEM: key.privateKeyPEM, publicJWK: key.publicJWK.json,
                                      status: .active, createdAt: t0, activatedAt: t0)
        return (record, d)
    }

    static func hmacClient(id: String = uniqueID("csjwt"), secret: String = SystemRandom().token(bits: 256)) -> Client {
        Client(clientID: id, metadata: ClientMetadata(tokenEndpointAuthMethod: .clientSecretJWT, tokenEndpointAuthSigningAlg: .hs256),
               secretHash: "hash-of-\(id)", secretForHMAC: secret, source: "test", createdAt: t0, updatedAt: t0)
    }

    /// The base64 body of a PEM (what must never appear in the database).
    static func pemBody(_ pem: String) -> String {
        pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
    }
}

/// Server private keys and client_secret_jwt secrets are stored as `enc:v1:` envelopes, bound to
/// their row, on every backend.
@Suite("Storage encryption at rest")
struct StorageEncryptionTests {
    @Test("rows hold envelopes, never the private key or the secret; reads give them back", arguments: StorageBackend.enabled)
    func rowsHoldNoPlaintext(backend: StorageBackend) async throws {
        try await withIsolatedDatabase(backend, prefix: "sealed") { db in
            let kek = KeyEncryptionKey.generate()
            let storage = try await db.open(SealedFixtures.ring(kek))
            do {
                let prefix = "enc:v1:\(kek.id):"
                for alg in [JWSAlgorithm.es256, .ps256] {
                    let (record, d) = try SealedFixtures.signingKey(alg)
                    try await storage.saveKey(record)
                    let raw = try #require(try await storage.rawSealedValue(.signingKey, rowID: record.kid))
                    #expect(raw.hasPrefix(prefix))
                    #expect(!raw.contains("PRIVATE KEY"))
                    #expect(!raw.contains(d))
                    #expect(!raw.contains(String(SealedFixtures.pemBody(record.privateKeyPEM).prefix(24))))
                    #expect(try await storage.keys().first { $0.kid == record.kid } == record)
                }

                var client = SealedFixtures.hmacClient()
                let secret = try #require(client.secretForHMAC)
                try await storage.createClient(client)
                var raw = try #require(try await storage.rawSealedValue(.clientSecret, rowID: client.clientID))
                #expect(raw.hasPrefix(prefix))
                #expect(!raw.contains(secret))
                #expect(try await storage.client(id: client.clientID) == client)

                // An update seals again (fresh nonce), and never writes the plain value.
                client.secretForHMAC = SystemRandom().token(bits: 256)
                try await storage.updateClient(client)
                let updated = try #require(try await storage.rawSealedValue(.clientSecret, rowID: client.clientID))
                #expect(updated.hasPrefix(prefix) && updated != raw && !updated.contains(client.secretForHMAC!))
                #expect(try await storage.clients().first { $0.clientID == client.clientID } == client)
                raw = updated

                // A client without a recoverable secret stores NULL.
                var basic = SealedFixtures.hmacClient()
                basic.secretForHMAC = nil
                try await storage.createClient(basic)
                #expect(try await storage.rawSealedValue(.clientSecret, rowID: basic.clientID) == nil)
                #expect(try await storage.client(id: basic.clientID)?.secretForHMAC == nil)
            } catch {
                try? await storage.shutdown()
                throw error
            }
            try await storage.shutdown()
        }
    }

    @Test("a ciphertext moved to another row or column does not decrypt", arguments: StorageBackend.enabled)
    func swappedCiphertextFails(backend: StorageBackend) async throws {
        try await withIsolatedDatabase(backend, prefix: "sealed") { db in
            let kek = KeyEncryptionKey.generate()
            let storage = try await db.open(SealedFixtures.ring(kek))
            do {
                let a = SealedFixtures.hmacClient(), b = SealedFixtures.hmacClient()
                try await storage.createClient(a)
                try await storage.createClient(b)
                let rawA = try #require(try await storage.rawSealedValue(.clientSecret, rowID: a.clientID))
                try await storage.overwriteSealedValue(.clientSecret, rowID: b.clientID, with: rawA)
                let field = SealedColumn.clientSecret.field(b.clientID)
                await #expect(throws: SealingError.authenticationFailed(keyID: kek.id, field)) {
                    _ = try await storage.client(id: b.clientID)
                }
                #expect(try await storage.client(id: a.clientID) == a)

                // Nor into another table's column: a client secret is not a private key.
                let (key, _) = try SealedFixtures.signingKey()
                try await storage.saveKey(key)
                try await storage.overwriteSealedValue(.signingKey, rowID: key.kid, with: rawA)
                await #expect(throws: SealingError.authenticationFailed(keyID: kek.id, SealedColumn.signingKey.field(key.kid))) {
                    _ = try await storage.keys()
                }
                let report = try await storage.sealedSecretsReport()
                #expect(Set(report.problems) == [.authenticationFailed(keyID: kek.id, field),
                                                 .authenticationFailed(keyID: kek.id, SealedColumn.signingKey.field(key.kid))])
                // Re-keying refuses (and changes nothing) while a value does not open.
                await #expect(throws: SealingError.self) { _ = try await storage.resealSecrets() }
                #expect(try await storage.rawSealedValue(.clientSecret, rowID: a.clientID) == rawA)
            } catch {
                try? await storage.shutdown()
                throw error
            }
            try await storage.shutdown()
        }
    }

    @Test("a wrong or missing key-encryption key is a clear error, not a crash", arguments: IsolatedDatabase.reopenable)
    func wrongKeyIsAnError(backend: StorageBackend) async throws {
        try await withIsolatedDatabase(backend, prefix: "sealed") { db in
            let right = KeyEncryptionKey.generate(), wrong = KeyEncryptionKey.generate()
            let client = SealedFixtures.hmacClient()
            let (key, _) = try SealedFixtures.signingKey()
            let first = try await db.open(SealedFixtures.ring(right))
            try await first.createClient(client)
            try await first.saveKey(key)
            try await first.shutdown()

            let storage = try await db.open(SealedFixtures.ring(wrong))
            let unknown = SealingError.unknownKey(keyID: right.id, SealedColumn.clientSecret.field(client.clientID))
            await #expect(throws: unknown) { _ = try await storage.client(id: client.clientID) }
            await #expect(throws: SealingError.self) { _ = try await storage.keys() }
            let report = try await storage.sealedSecretsReport()
            #expect(report.total == 2 && report.problems.count == 2)
            #expect(report.problems.contains(unknown))
            #expect(unknown.description.contains(right.id) && unknown.description.contains("not configured"))
            await #expect(throws: SealingError.self) { _ = try await storage.resealSecrets() }
            try await storage.shutdown()

            // Without any key the values are refused too (never handed out as if they were plain).
            let none = try await db.open(nil)
            await #expect(throws: SealingError.noKeyConfigured(SealedColumn.clientSecret.field(client.clientID))) {
                _ = try await none.client(id: client.clientID)
            }
            try await none.shutdown()
        }
    }

    @Test("rekey moves every secret to the new key, in one go, idempotently", arguments: IsolatedDatabase.reopenable)
    func rekey(backend: StorageBackend) async throws {
        try await withIsolatedDatabase(backend, prefix: "sealed") { db in
            let old = KeyEncryptionKey.generate(), new = KeyEncryptionKey.generate()
            let client = SealedFixtures.hmacClient()
            let (key, d) = try SealedFixtures.signingKey(.ps256)
            let first = try await db.open(SealedFixtures.ring(old))
            try await first.createClient(client)
            try await first.saveKey(key)
            try await first.shutdown()

            let both = try await db.open(SealedFixtures.ring(new, previous: [old]))
            #expect(try await both.sealedSecretsReport().byKeyID == [old.id: 2])
            #expect(try await both.resealSecrets() == ResealSummary(keyID: new.id, resealed: 2, encrypted: 0, unchanged: 0))
            #expect(try await both.resealSecrets() == ResealSummary(keyID: new.id, resealed: 0, encrypted: 0, unchanged: 2))
            try await both.shutdown()

            let storage = try await db.open(SealedFixtures.ring(new))
            let report = try await storage.sealedSecretsReport()
            #expect(report.problems.isEmpty && report.byKeyID == [new.id: 2])
            let rawKey = try #require(try await storage.rawSealedValue(.signingKey, rowID: key.kid))
            #expect(rawKey.hasPrefix("enc:v1:\(new.id):") && !rawKey.contains(d))
            #expect(try await storage.keys().first { $0.kid == key.kid } == key)
            #expect(try await storage.client(id: client.clientID) == client)
            try await storage.shutdown()

            // The old key alone no longer opens anything.
            let stale = try await db.open(SealedFixtures.ring(old))
            #expect(try await stale.sealedSecretsReport().problems.count == 2)
            try await stale.shutdown()
        }
    }

    @Test("plain values of a database from before encryption are sealed by the migration", arguments: IsolatedDatabase.reopenable)
    func migrationSealsLegacyRows(backend: StorageBackend) async throws {
        try await withIsolatedDatabase(backend, prefix: "sealed") { db in
            let client = SealedFixtures.hmacClient()
            let (key, d) = try SealedFixtures.signingKey()
            // A schema-1 database as an older release left it: secrets in plain text.
            let legacy = try await db.open(nil)
            try await legacy.createClient(client)
            try await legacy.saveKey(key)
            try await legacy.executeForTests("DELETE FROM schema_migrations WHERE version >= \(Schema.sealedSecretsVersion)")
            // Without the columns later migrations add, as that release's schema had them.
            try await legacy.executeForTests("ALTER TABLE pushed_requests DROP COLUMN dpop_jkt")
            #expect(try await legacy.rawSealedValue(.clientSecret, rowID: client.clientID) == client.secretForHMAC)
            try await legacy.shutdown()

            let kek = KeyEncryptionKey.generate()
            let storage = try await db.open(SealedFixtures.ring(kek))
            #expect(try await storage.schemaVersion() == Schema.latestVersion)
            let rawSecret = try #require(try await storage.rawSealedValue(.clientSecret, rowID: client.clientID))
            let rawKey = try #require(try await storage.rawSealedValue(.signingKey, rowID: key.kid))
            #expect(rawSecret.hasPrefix("enc:v1:\(kek.id):") && !rawSecret.contains(client.secretForHMAC!))
            #expect(rawKey.hasPrefix("enc:v1:\(kek.id):") && !rawKey.contains(d) && !rawKey.contains("PRIVATE KEY"))
            #expect(try await storage.client(id: client.clientID) == client)
            #expect(try await storage.keys() == [key])
            try await storage.shutdown()
        }
    }

    @Test("rekey also encrypts values written without a key", arguments: IsolatedDatabase.reopenable)
    func rekeyEncryptsPlaintext(backend: StorageBackend) async throws {
        try await withIsolatedDatabase(backend, prefix: "sealed") { db in
            let client = SealedFixtures.hmacClient()
            let unsealed = try await db.open(nil)
            try await unsealed.createClient(client)
            try await unsealed.shutdown()

            let kek = KeyEncryptionKey.generate()
            let storage = try await db.open(SealedFixtures.ring(kek))
            let field = SealedColumn.clientSecret.field(client.clientID)
            #expect(try await storage.sealedSecretsReport().problems == [.notSealed(field)])
            await #expect(throws: SealingError.notSealed(field)) { _ = try await storage.client(id: client.clientID) }
            #expect(try await storage.resealSecrets() == ResealSummary(keyID: kek.id, resealed: 0, encrypted: 1, unchanged: 0))
            #expect(try await storage.client(id: client.clientID) == client)
            #expect(try await storage.rawSealedValue(.clientSecret, rowID: client.clientID)?.hasPrefix("enc:v1:\(kek.id):") == true)
            try await storage.shutdown()
        }
    }
}
