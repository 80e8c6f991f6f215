import Foundation
import SQLKit
import StrongroomCore

// MARK: - Clients

extension SQLStorage {
    static func clientRow(_ client: Client, cipher: FieldCipher) throws -> RowValues {
        var row = RowValues()
        row.set("client_id", client.clientID)
        row.set("metadata", try StoredJSON.encode(client.metadata))
        row.set("secret_hash", client.secretHash)
        row.set("secret_for_hmac", try cipher.seal(client.secretForHMAC, SealedColumn.clientSecret.field(client.clientID)))
        row.set("secret_expires_at", client.secretExpiresAt.storageMillis)
        row.set("registration_access_token_hash", client.registrationAccessTokenHash)
        row.set("source", client.source)
        row.set("created_at", client.createdAt.storageMillis)
        row.set("updated_at", client.updatedAt.storageMillis)
        return row
    }

    static func client(from row: any SQLRow, cipher: FieldCipher) throws -> Client {
        let r = RowReader(row: row)
        let clientID = try r.string("client_id")
        return Client(
            clientID: clientID,
            metadata: try r.json("metadata", as: ClientMetadata.self),
            secretHash: try r.optionalString("secret_hash"),
            secretForHMAC: try cipher.open(try r.optionalString("secret_for_hmac"), SealedColumn.clientSecret.field(clientID)),
            secretExpiresAt: try r.optionalDate("secret_expires_at"),
            registrationAccessTokenHash: try r.optionalString("registration_access_token_hash"),
            source: try r.string("source"),
            createdAt: try r.date("created_at"),
            updatedAt: try r.date("updated_at")
        )
    }

    public func createClient(_ client: Client) async throws {
        let row = try Self.clientRow(client, cipher: cipher)
        try await mappingDuplicate("client \(client.clientID)") {
            try await executor.write { db in try await db.insert(into: "clients", rows: [row]) }
        }
    }

    public func client(id: String) async throws -> Client? {
        let cipher = self.cipher
        return try await executor.read { db in
            try await db.rows("SELECT * FROM clients WHERE client_id = \(bind: id)").first.map { try Self.client(from: $0, cipher: cipher) }
        }
    }

    public func clients() async throws -> [Client] {
        let cipher = self.cipher
        return try await executor.read { db in
            try await db.rows("SELECT * FROM clients ORDER BY client_id").map { try Self.client(from: $0, cipher: cipher) }
        }
    }

    /// Replaces everything but `created_at`; throws `StorageError.notFound` if there is no such client.
    public func updateClient(_ client: Client) async throws {
        let metadata = try StoredJSON.encode(client.metadata)
        let sealedSecret = try cipher.seal(client.secretForHMAC, SealedColumn.clientSecret.field(client.clientID))
        let updated = try await executor.write { db in
            try await db.rows("""
                UPDATE clients SET metadata = \(bind: metadata), secret_hash = \(bind: client.secretHash),
                    secret_for_hmac = \(bind: sealedSecret),
                    secret_expires_at = \(bind: client.secretExpiresAt.storageMillis),
                    registration_access_token_hash = \(bind: client.registrationAccessTokenHash),
                    source = \(bind: client.source), updated_at = \(bind: client.updatedAt.storageMillis)
                WHERE client_id = \(bind: client.clientID) RETURNING client_id
                """).count
        }
        guard updated > 0 else { throw StorageError.notFound("client \(client.clientID)") }
    }

    public func deleteClient(id: String) async throws -> Bool {
        try await executor.write { db in
            try await db.rows("DELETE FROM clients WHERE client_id = \(bind: id) RETURNING client_id").count > 0
        }
    }
}

// MARK: - Users

extension SQLStorage {
    static func user(from row: any SQLRow) throws -> User {
        let r = RowReader(row: row)
        return User(
            subject: try r.string("subject"),
            username: try r.string("username"),
            passwordHash: try r.string("password_hash"),
            claims: try r.json("claims", as: [String: JSONValue].self),
            createdAt: try r.date("created_at")
        )
    }

    /// Throws `StorageError.duplicate` if the subject or the username is taken.
    public func createUser(_ user: User) async throws {
        var row = RowValues()
        row.set("subject", user.subject)
        row.set("username", user.username)
        row.set("password_hash", user.passwordHash)
        row.set("claims", try StoredJSON.encode(user.claims))
        row.set("created_at", user.createdAt.storageMillis)
        try await mappingDuplicate("user \(user.username)") { [row] in
            try await executor.write { db in try await db.insert(into: "users", rows: [row]) }
        }
    }

    public func user(username: String) async throws -> User? {
        try await executor.read { db in
            try await db.rows("SELECT * FROM users WHERE username = \(bind: username)").first.map(Self.user(from:))
        }
    }

    public func user(subject: String) async throws -> User? {
        try await executor.read { db in
            try await db.rows("SELECT * FROM users WHERE subject = \(bind: subject)").first.map(Self.user(from:))
        }
    }

    public func users() async throws -> [User] {
        try await executor.read { db in
            try await db.rows("SELECT * FROM users ORDER BY username").map(Self.user(from:))
        }
    }

    /// Updates the user with this subject (the username may change); `StorageError.notFound` if absent,
    /// `StorageError.duplicate` if the new username is taken.
    public func updateUser(_ user: User) async throws {
        let claims = try StoredJSON.encode(user.claims)
        let updated = try await mappingDuplicate("user \(user.username)") {
            try await executor.write { db in
                try await db.rows("""
                    UPDATE users SET username = \(bind: user.username), password_hash = \(bind: user.passwordHash),
                        claims = \(bind: claims)
                    WHERE subject = \(bind: user.subject) RETURNING subject
                    """).count
            }
        }
        guard updated > 0 else { throw StorageError.notFound("user \(user.subject)") }
    }

    public func deleteUser(username: String) async throws -> Bool {
        try await executor.write { db in
            try await db.rows("DELETE FROM users WHERE username = \(bind: username) RETURNING subject").count > 0
        }
    }
}

// MARK: - Grants

extension SQLStorage {
    static func grant(from row: any SQLRow) throws -> Grant {
        let r = RowReader(row: row)
        return Grant(
            id: try r.string("id"),
            subject: try r.string("subject"),
            clientID: try r.string("client_id"),
            scopes: try r.json("scopes", as: [String].self),
            claims: try r.json("claims", as: [String].self),
            createdAt: try r.date("created_at"),
            updatedAt: try r.date("updated_at"),
            revokedAt: try r.optionalDate("revoked_at")
        )
    }

    /// Upserts by id. Any other active grant for the same (subject, client) is superseded: marked
    /// revoked at `grant.updatedAt`, so there is one active grant per pair.
    public func saveGrant(_ grant: Grant) async throws {
        var row = RowValues()
        row.set("id", grant.id)
        row.set("subject", grant.subject)
        row.set("client_id", grant.clientID)
        row.set("scopes", try StoredJSON.encode(grant.scopes))
        row.set("claims", try StoredJSON.encode(grant.claims))
        row.set("created_at", grant.createdAt.storageMillis)
        row.set("updated_at", grant.updatedAt.storageMillis)
        row.set("revoked_at", grant.revokedAt.storageMillis)
        try await executor.transaction { [row] db in
            if grant.revokedAt == nil {
                try await db.raw("""
                    UPDATE grants SET revoked_at = \(bind: grant.updatedAt.storageMillis)
                    WHERE subject = \(bind: grant.subject) AND client_id = \(bind: grant.clientID)
                        AND revoked_at IS NULL AND id <> \(bind: grant.id)
                    """).run()
            }
            try await db.upsert(into: "grants", row: row, key: ["id"])
        }
    }

    public func activeGrant(subject: String, clientID: String) async throws -> Grant? {
        try await executor.read { db in
            try await db.rows("""
                SELECT * FROM grants WHERE subject = \(bind: subject) AND client_id = \(bind: clientID)
                    AND revoked_at IS NULL
                ORDER BY updated_at DESC LIMIT 1
                """).first.map(Self.grant(from:))
        }
    }

    public func grant(id: String) async throws -> Grant? {
        try await executor.read { db in
            try await db.rows("SELECT * FROM grants WHERE id = \(bind: id)").first.map(Self.grant(from:))
        }
    }

    public func grants(subject: String) async throws -> [Grant] {
        try await executor.read { db in
            try await db.rows("SELECT * FROM grants WHERE subject = \(bind: subject) ORDER BY created_at, id")
                .map(Self.grant(from:))
        }
    }

    public func revokeGrant(id: String, at: Date) async throws -> Bool {
        try await executor.write { db in
            try await db.rows("""
                UPDATE grants SET revoked_at = \(bind: at.storageMillis)
                WHERE id = \(bind: id) AND revoked_at IS NULL RETURNING id
                """).count > 0
        }
    }
}
