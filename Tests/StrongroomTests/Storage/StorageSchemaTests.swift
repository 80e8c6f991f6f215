import Foundation
import SQLKit
import StrongroomCore
import Testing
@testable import StrongroomStorage

/// A column as the live database describes it.
private struct LiveColumn: Equatable, CustomStringConvertible {
    var type: String
    var nullable: Bool
    var description: String { "\(type)\(nullable ? "" : " NOT NULL")" }
}

/// A table as the live database describes it.
private struct LiveTable: Equatable {
    var columns: [String: LiveColumn]
    var primaryKey: Set<String>
}

extension SQLStorage {
    /// The tables of the migrated schema, read from the database's own catalogue.
    fileprivate func liveTables() async throws -> [String: LiveTable] {
        let kind = self.kind
        return try await executor.read { db in
            var tables: [String: LiveTable] = [:]
            switch kind {
            case .sqlite:
                let names = try await db.rows(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
                for row in names {
                    let table = try row.decode(column: "name", as: String.self)
                    var live = LiveTable(columns: [:], primaryKey: [])
                    for column in try await db.rows(
                        #"SELECT name, type, "notnull" AS not_null, pk FROM pragma_table_info(\#(bind: table))"#) {
                        let name = try column.decode(column: "name", as: String.self)
                        let isKey = try column.decode(column: "pk", as: Int.self) > 0
                        // SQLite lets a non-INTEGER PRIMARY KEY column hold NULL unless it says NOT NULL;
                        // the storage never writes one, and PostgreSQL refuses it: count it as NOT NULL.
                        let notNull = try column.decode(column: "not_null", as: Int.self) != 0 || isKey
                        live.columns[name] = LiveColumn(type: try column.decode(column: "type", as: String.self).uppercased(),
                                                        nullable: !notNull)
                        if isKey { live.primaryKey.insert(name) }
                    }
                    tables[table] = live
                }
            case .postgresql:
                let names = try await db.rows("""
                    SELECT table_name::text AS name FROM information_schema.tables
                    WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
                    """)
                for row in names {
                    let table = try row.decode(column: "name", as: String.self)
                    var live = LiveTable(columns: [:], primaryKey: [])
                    for column in try await db.rows("""
                        SELECT column_name::text AS name, data_type::text AS type, is_nullable::text AS nullable
                        FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = \(bind: table)
                        """) {
                        live.columns[try column.decode(column: "name", as: String.self)] = LiveColumn(
                            type: try column.decode(column: "type", as: String.self).uppercased(),
                            nullable: try column.decode(column: "nullable", as: String.self) == "YES")
                    }
                    for key in try await db.rows("""
                        SELECT k.column_name::text AS name
                        FROM information_schema.table_constraints c
                        JOIN information_schema.key_column_usage k
                            ON k.constraint_schema = c.constraint_schema AND k.constraint_name = c.constraint_name
                        WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = current_schema() AND c.table_name = \(bind: table)
                        """) {
                        live.primaryKey.insert(try key.decode(column: "name", as: String.self))
                    }
                    tables[table] = live
                }
            }
            return tables
        }
    }
}

/// Every table is defined once, by its record type's column list (`Sources/StrongroomStorage/Tables`);
/// these tests hold those lists to the migrations, on every backend.
@Suite("Storage schema")
struct StorageSchemaTests {
    @Test("every declared table matches the migrated schema: columns, types, nullability, primary key",
          arguments: StorageBackend.enabled)
    func declarationsMatchLiveSchema(backend: StorageBackend) async throws {
        // A database of its own (on PostgreSQL a fresh schema), so only the migrations' tables are seen.
        try await withIsolatedDatabase(backend, prefix: "schema") { database in
            let storage = try await database.open(nil)
            let live: [String: LiveTable]
            do {
                live = try await storage.liveTables()
            } catch {
                try? await storage.shutdown()
                throw error
            }
            try await storage.shutdown()

            #expect(Set(live.keys) == Set(Tables.all.map(\.name)), "tables in the database vs. declared")
            for table in Tables.all {
                guard let liveTable = live[table.name] else {
                    Issue.record("\(table.name) is declared but not in the database")
                    continue
                }
                let declared = Dictionary(uniqueKeysWithValues: table.columnDescriptions.map {
                    ($0.name, LiveColumn(type: $0.type.rawValue, nullable: $0.nullable))
                })
                #expect(declared == liveTable.columns, "\(table.name): declared columns vs. the migrations")
                #expect(Set(table.primaryKey) == liveTable.primaryKey, "\(table.name): primary key")
            }
        }
    }

    @Test("every stored property has a column: as many columns as the record has properties")
    func everyPropertyHasAColumn() throws {
        let key = SigningKeyRecord(kid: "k", algorithm: .es256, privateKeyPEM: "pem", publicJWK: .object([:]), status: .active,
                                   createdAt: t0)
        let samples: [(Any, any AnyTableSchema)] = [
            (SealedFixtures.hmacClient(), Client.schema),
            (User(subject: "s", username: "u", passwordHash: "h"), User.schema),
            (Grant(id: "g", subject: "s", clientID: "c", scopes: [], createdAt: t0, updatedAt: t0), Grant.schema),
            (Records.code(), AuthorizationCodeRecord.schema),
            (Records.token(), TokenRecord.schema),
            (PushedRequestRecord(requestURIHash: "r", clientID: "c", parameters: [:], requestObjectClaims: nil,
                                 profile: .oauth, expiresAt: t0, createdAt: t0), PushedRequestRecord.schema),
            (ReplayEntry(namespace: "n", value: "v", expiresAt: t0), ReplayEntry.schema),
            (key, SigningKeyRecord.schema),
            (SessionRecord(idHash: "i", subject: "s", authTime: t0, acr: nil, amr: [], csrfToken: "c", expiresAt: t0),
             SessionRecord.schema),
            (InteractionRecord(idHash: "i", clientID: "c", request: .object([:]), profile: .oauth, expiresAt: t0, createdAt: t0),
             InteractionRecord.schema),
            (SchemaMigration(version: 1, name: "n", appliedAt: t0), SchemaMigration.schema),
        ]
        #expect(Set(samples.map { $0.1.name }) == Set(Tables.all.map(\.name)))
        for (sample, schema) in samples {
            let properties = Mirror(reflecting: sample).children.compactMap(\.label)
            #expect(properties.count == schema.columnDescriptions.count, "\(schema.name): \(properties)")
        }
    }

    @Test("the recoverable secrets are the sealed columns, and only they")
    func sealedColumns() {
        #expect(SealedColumn.all.map { "\($0.table).\($0.column) by \($0.key)" }
                == ["signing_keys.private_key_pem by kid", "clients.secret_for_hmac by client_id"])
    }

    @Test("statements are derived from the declaration")
    func derivedStatements() throws {
        let cipher = FieldCipher(sealer: nil)
        let user = User(subject: "s", username: "u", passwordHash: "h", createdAt: t0)
        let sqlite = SQLiteDirectDatabase(source: try SQLiteHandle(path: ":memory:"), logger: StorageBackend.logger)
        #expect(try sqlite.prepare(try User.schema.insert([user], cipher: cipher)).sql
                == "INSERT INTO users (subject, username, password_hash, claims, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")
        // A whole-row update keeps the primary key and the insert-only created_at.
        #expect(try sqlite.prepare(try User.schema.update(user, cipher: cipher)).sql
                == "UPDATE users SET username = ?1, password_hash = ?2, claims = ?3 WHERE subject = ?4 RETURNING subject")
        let session = SessionRecord(idHash: "i", subject: "s", authTime: t0, acr: nil, amr: [], csrfToken: "c", expiresAt: t0)
        #expect(try sqlite.prepare(try SessionRecord.schema.upsert(session, cipher: cipher)).sql.hasSuffix(
            "ON CONFLICT (id_hash) DO UPDATE SET subject = excluded.subject, auth_time = excluded.auth_time, acr = excluded.acr, "
            + "amr = excluded.amr, csrf_token = excluded.csrf_token, expires_at = excluded.expires_at"))
        #expect(Tables.all.filter(\.sweptOnExpiry).map(\.name)
                == ["authorization_codes", "tokens", "pushed_requests", "replay_cache", "sessions", "interactions"])
    }
}
