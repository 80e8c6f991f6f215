import Foundation
import SQLKit
import StrongroomCore

// MARK: - Secrets encrypted at rest
//
// Two columns hold secrets the server must be able to read back: `signing_keys.private_key_pem`
// (the server's private keys) and `clients.secret_for_hmac` (`client_secret_jwt` secrets, which
// cannot be hashed because HMAC verification needs them). Both hold `enc:v1:<kek-id>:…` envelopes
// made by the configured `SecretSealer`, bound to table, column and primary key. Everything else
// secret is stored as a keyed hash and needs no key to be kept.

/// A column holding sealed values, and the primary key of its table.
struct SealedColumn: Sendable {
    let table: String
    let column: String
    let key: String

    // Declared by the tables' column lists (`.sealedText`, `.optionalSealedText`).
    static let signingKey = SigningKeyRecord.schema.sealedColumn(\.privateKeyPEM)
    static let clientSecret = Client.schema.sealedColumn(\.secretForHMAC)
    /// Every sealed column of the schema.
    static let all = Tables.all.flatMap(\.sealedColumns)

    func field(_ rowID: String) -> SealedField { SealedField(table: table, column: column, rowID: rowID) }
}

/// Seals values on the way into the database and opens them on the way out.
struct FieldCipher: Sendable {
    let sealer: (any SecretSealer)?

    func seal(_ value: String, _ field: SealedField) throws -> String {
        guard let sealer else { return value }
        return try sealer.seal(value, for: field)
    }

    func seal(_ value: String?, _ field: SealedField) throws -> String? {
        try value.map { try seal($0, field) }
    }

    /// With a sealer every stored value must be an envelope it can open (`SealingError.notSealed`
    /// otherwise); without one, envelopes are refused and plain values returned as stored.
    func open(_ stored: String, _ field: SealedField) throws -> String {
        guard let sealer else {
            if SealedEnvelope.isSealed(stored) { throw SealingError.noKeyConfigured(field) }
            return stored
        }
        return try sealer.open(stored, for: field)
    }

    func open(_ stored: String?, _ field: SealedField) throws -> String? {
        try stored.map { try open($0, field) }
    }
}

/// What `SQLStorage.sealedSecretsReport()` found.
public struct SealedSecretsReport: Sendable, Equatable {
    /// Stored secrets examined.
    public var total = 0
    /// How many open, by the id of the KEK they are sealed under.
    public var byKeyID: [String: Int] = [:]
    /// Every value that does not open (or is plaintext where envelopes are expected).
    public var problems: [SealingError] = []

    /// Values that open but are sealed under a KEK other than `current` (to be re-keyed).
    public func underOtherKeys(than current: String) -> Int {
        byKeyID.filter { $0.key != current }.values.reduce(0, +)
    }
}

/// What `SQLStorage.resealSecrets()` did.
public struct ResealSummary: Sendable, Equatable {
    /// The KEK everything is now sealed under.
    public var keyID: String
    /// Values moved from a previous KEK to the current one.
    public var resealed = 0
    /// Values that were stored unencrypted and are now sealed.
    public var encrypted = 0
    /// Values already sealed under the current KEK (each was opened to prove it).
    public var unchanged = 0
}

extension SQLStorage {
    /// Opens every stored secret once (nothing is changed). Serve runs this before starting, so a
    /// wrong or missing KEK is a clear configuration error rather than a failure mid-request.
    public func sealedSecretsReport() async throws -> SealedSecretsReport {
        let cipher = self.cipher
        return try await executor.read { db in
            var report = SealedSecretsReport()
            for column in SealedColumn.all {
                for (id, value) in try await Self.storedValues(db, column) {
                    report.total += 1
                    let field = column.field(id)
                    do {
                        _ = try cipher.open(value, field)
                        let keyID = SealedEnvelope.keyID(of: value) ?? "(not encrypted)"
                        report.byKeyID[keyID, default: 0] += 1
                    } catch let error as SealingError {
                        report.problems.append(error)
                    }
                }
            }
            return report
        }
    }

    /// Re-encrypts every stored secret under the sealer's current KEK, in one transaction: values
    /// under a previous KEK are opened and sealed again, plaintext values are sealed, values
    /// already under the current KEK are opened (to prove they can be) and left as they are. If
    /// any value cannot be opened nothing is changed and the error names it. Idempotent.
    public func resealSecrets() async throws -> ResealSummary {
        guard let sealer = cipher.sealer else {
            throw StorageError.invalid("re-keying needs a key encryption key")
        }
        return try await executor.transaction { db in
            var summary = ResealSummary(keyID: sealer.currentKeyID)
            for column in SealedColumn.all {
                for (id, value) in try await Self.storedValues(db, column) {
                    let field = column.field(id)
                    let plaintext: String
                    if SealedEnvelope.isSealed(value) {
                        plaintext = try sealer.open(value, for: field)
                        if SealedEnvelope.keyID(of: value) == sealer.currentKeyID {
                            summary.unchanged += 1
                            continue
                        }
                        summary.resealed += 1
                    } else {
                        plaintext = value
                        summary.encrypted += 1
                    }
                    try await Self.replace(db, column, id: id, old: value, new: try sealer.seal(plaintext, for: field))
                }
            }
            return summary
        }
    }

    /// Seals the plain values of a database from before `Schema.sealedSecretsVersion` (called by
    /// `migrate` inside its transaction). Values that already are envelopes are left alone.
    static func sealPlaintextSecrets(_ db: any SQLDatabase, sealer: any SecretSealer) async throws -> Int {
        var sealed = 0
        for column in SealedColumn.all {
            for (id, value) in try await storedValues(db, column) where !SealedEnvelope.isSealed(value) {
                try await replace(db, column, id: id, old: value, new: try sealer.seal(value, for: column.field(id)))
                sealed += 1
            }
        }
        return sealed
    }

    /// `(primary key, stored value)` of every row whose sealed column is set.
    static func storedValues(_ db: any SQLDatabase, _ column: SealedColumn) async throws -> [(String, String)] {
        let rows = try await db.rows("""
            SELECT \(ident: column.key) AS row_id, \(ident: column.column) AS sealed_value FROM \(ident: column.table)
            WHERE \(ident: column.column) IS NOT NULL ORDER BY \(ident: column.key)
            """)
        return try rows.map { row in
            (try row.decode(column: "row_id", as: String.self), try row.decode(column: "sealed_value", as: String.self))
        }
    }

    /// Replaces one stored value, only if it is still the one read (compare-and-swap).
    static func replace(_ db: any SQLDatabase, _ column: SealedColumn, id: String, old: String, new: String) async throws {
        try await db.raw("""
            UPDATE \(ident: column.table) SET \(ident: column.column) = \(bind: new)
            WHERE \(ident: column.key) = \(bind: id) AND \(ident: column.column) = \(bind: old)
            """).run()
    }
}
