import Foundation
import Logging
import PostgresKit
import SQLKit
import StrongroomCore

/// The one SQL implementation of `Storage`, over SQLKit, for SQLite (embedded default) and
/// PostgreSQL (several nodes sharing one database).
///
/// Every secret arrives already hashed by the caller. Single-use values (codes, refresh tokens,
/// pushed requests, interactions) are consumed with one conditional `UPDATE`/`DELETE … RETURNING`,
/// so exactly one of any number of concurrent consumers wins, on either database.
///
/// The secrets that must stay recoverable (server private keys, `client_secret_jwt` secrets) are
/// sealed by `sealer` on the way in and opened on the way out, bound to their row (see
/// `SQLStorage+Sealing.swift`). Without a sealer (unit tests only) they are stored as given.
public final class SQLStorage: Storage {
    public enum DatabaseKind: String, Sendable {
        case sqlite
        case postgresql
    }

    let executor: any SQLExecutor
    let logger: Logger
    /// Seals and opens the recoverable secrets; `FieldCipher(sealer: nil)` stores them as given.
    let cipher: FieldCipher

    /// Which database this storage talks to.
    public var kind: DatabaseKind { executor.kind }

    private init(executor: any SQLExecutor, sealer: (any SecretSealer)?, logger: Logger) {
        self.executor = executor
        self.logger = logger
        self.cipher = FieldCipher(sealer: sealer)
    }

    /// Opens a database by URL. Does not migrate: call `migrate()`.
    ///
    /// - `sqlite:PATH` (also `sqlite://PATH`): a database file, created if absent; WAL journal,
    ///   `synchronous=FULL`, one writer with group commit and `poolSize` reader connections.
    /// - `sqlite::memory:`: a new private in-memory database on one connection.
    /// - `postgres://user:pass@host:port/db` or `postgresql://…` (PostgresKit URL options such as
    ///   `?tlsmode=require` apply; `?search_path=schema` keeps the tables in that schema): a pool
    ///   of up to `poolSize` connections.
    ///
    /// `sealer` encrypts the secrets kept recoverable; every command that opens a real database
    /// passes one (the KEK from configuration).
    public static func open(url: String, poolSize: Int = 8, sealer: (any SecretSealer)? = nil, logger: Logger) async throws -> SQLStorage {
        if url.hasPrefix("sqlite:") {
            var path = String(url.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
            guard !path.isEmpty else { throw StorageError.invalid("sqlite URL without a path: \(url)") }
            let executor = try await SQLiteExecutor.open(
                path: path == ":memory:" ? nil : path, readerCount: poolSize, logger: logger)
            return SQLStorage(executor: executor, sealer: sealer, logger: logger)
        }
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            let executor = try PostgresExecutor(url: url, poolSize: max(1, poolSize), logger: logger)
            return SQLStorage(executor: executor, sealer: sealer, logger: logger)
        }
        throw StorageError.invalid("unsupported database URL scheme (expected sqlite: or postgres://)")
    }

    // MARK: Housekeeping

    /// Applies pending migrations in one transaction. Passing `Schema.sealedSecretsVersion` also
    /// encrypts the secrets an older database holds in plain text (when a sealer is configured).
    public func migrate() async throws {
        let kind = executor.kind
        let logger = self.logger
        let cipher = self.cipher
        try await executor.transaction { db in
            if kind == .postgresql {
                // Serialize concurrent migrations of several nodes starting together.
                try await db.raw("SELECT pg_advisory_xact_lock(7318190231)").run()
            }
            try await db.raw(SQLQueryString(Schema.createMigrationsTable)).run()
            let row = try await db.raw("SELECT MAX(version) AS version FROM schema_migrations").first()
            let current = try row?.decode(column: "version", as: Int?.self) ?? 0
            for migration in Schema.all where migration.version > current {
                for statement in migration.statements {
                    try await db.raw(SQLQueryString(statement)).run()
                }
                if migration.version == Schema.sealedSecretsVersion, current > 0, let sealer = cipher.sealer {
                    let sealed = try await Self.sealPlaintextSecrets(db, sealer: sealer)
                    logger.notice("Encrypted stored secrets under the key encryption key",
                                  metadata: ["count": "\(sealed)", "kek_id": "\(sealer.currentKeyID)"])
                }
                try await db.insert([SchemaMigration(version: migration.version, name: migration.name, appliedAt: Date())],
                                    cipher: cipher)
                logger.info("Applied schema migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            }
        }
    }

    /// The schema version the database is at (0 before the first migration).
    public func schemaVersion() async throws -> Int {
        try await executor.read { db in
            let exists: Bool
            do {
                _ = try await db.raw("SELECT 1 FROM schema_migrations WHERE 1 = 0").all()
                exists = true
            } catch {
                exists = false
            }
            guard exists else { return 0 }
            let row = try await db.raw("SELECT MAX(version) AS version FROM schema_migrations").first()
            return try row?.decode(column: "version", as: Int?.self) ?? 0
        }
    }

    public func sweepExpired(now: Date) async throws -> Int {
        let cutoff = now.storageMillis
        return try await executor.transaction { db in
            var removed = 0
            for table in Tables.all where table.sweptOnExpiry {
                let rows = try await db.rows("DELETE FROM \(unsafeRaw: table.name) WHERE expires_at <= \(bind: cutoff) RETURNING expires_at")
                removed += rows.count
            }
            return removed
        }
    }

    public func ping() async throws {
        _ = try await executor.read { db in try await db.raw("SELECT 1 AS one").all().count }
    }

    /// Closes connections after queued writes are committed. Idempotent.
    public func shutdown() async throws {
        try await executor.shutdown()
    }
}
