import Foundation
import SQLKit
import StrongroomCore

// MARK: - Clients

extension SQLStorage {
    public func createClient(_ client: Client) async throws {
        let cipher = self.cipher
        try await mappingDuplicate("client \(client.clientID)") {
            try await executor.write { db in try await db.insert([client], cipher: cipher) }
        }
    }

    public func client(id: String) async throws -> Client? {
        let cipher = self.cipher
        return try await executor.read { db in
            try await db.select(Client.self, "WHERE client_id = \(bind: id)", cipher: cipher).first
        }
    }

    public func clients() async throws -> [Client] {
        let cipher = self.cipher
        return try await executor.read { db in
            try await db.select(Client.self, "ORDER BY client_id", cipher: cipher)
        }
    }

    /// Replaces everything but `created_at`; throws `StorageError.notFound` if there is no such client.
    public func updateClient(_ client: Client) async throws {
        let cipher = self.cipher
        let updated = try await executor.write { db in try await db.update(client, cipher: cipher) }
        guard updated else { throw StorageError.notFound("client \(client.clientID)") }
    }

    public func deleteClient(id: String) async throws -> Bool {
        try await executor.write { db in
            try await db.deleteCount(Client.self, "WHERE client_id = \(bind: id)") > 0
        }
    }
}

// MARK: - Users

extension SQLStorage {
    /// Throws `StorageError.duplicate` if the subject or the username is taken.
    public func createUser(_ user: User) async throws {
        let cipher = self.cipher
        try await mappingDuplicate("user \(user.username)") {
            try await executor.write { db in try await db.insert([user], cipher: cipher) }
        }
    }

    public func user(username: String) async throws -> User? {
        let cipher = self.cipher
        return try await executor.read { db in
            try await db.select(User.self, "WHERE username = \(bind: username)", cipher: cipher).first
        }
    }

    public func user(subject: String) async throws -> User? {
        let cipher = self.cipher
        return try await executor.read { db in
            try await db.select(User.self, "WHERE subject = \(bind: subject)", cipher: cipher).first
        }
    }

    public func users() async throws -> [User] {
        let cipher = self.cipher
        return try await executor.read { db in
            try await db.select(User.self, "ORDER BY username", cipher: cipher)
        }
    }

    /// Updates the user with this subject (the username may change; `created_at` is kept);
    /// `StorageError.notFound` if absent, `StorageError.duplicate` if the new username is taken.
    public func updateUser(_ user: User) async throws {
        let cipher = self.cipher
        let updated = try await mappingDuplicate("user \(user.username)") {
            try await executor.write { db in try await db.update(user, cipher: cipher) }
        }
        guard updated else { throw StorageError.notFound("user \(user.subject)") }
    }

    public func deleteUser(username: String) async throws -> Bool {
        try await executor.write { db in
            try await db.deleteCount(User.self, "WHERE username = \(bind: username)") > 0
        }
    }
}

// MARK: - Grants

extension SQLStorage {
    /// Upserts by id. Any other active grant for the same (subject, client) is superseded: marked
    /// revoked at `grant.updatedAt`, so there is one active grant per pair.
    public func saveGrant(_ grant: Grant) async throws {
        let cipher = self.cipher
        try await executor.transaction { db in
            if grant.revokedAt == nil {
                _ = try await db.updateCount(Grant.self, set: "revoked_at = \(bind: grant.updatedAt.storageMillis)", """
                    WHERE subject = \(bind: grant.subject) AND client_id = \(bind: grant.clientID)
                        AND revoked_at IS NULL AND id <> \(bind: grant.id)
                    """)
            }
            try await db.upsert(grant, cipher: cipher)
        }
    }

    public func activeGrant(subject: String, clientID: String) async throws -> Grant? {
        let cipher = self.cipher
        return try await executor.read { db in
            try await db.select(Grant.self, """
                WHERE subject = \(bind: subject) AND client_id = \(bind: clientID) AND revoked_at IS NULL
                ORDER BY updated_at DESC LIMIT 1
                """, cipher: cipher).first
        }
    }

    public func grant(id: String) async throws -> Grant? {
        let cipher = self.cipher
        return try await executor.read { db in
            try await db.select(Grant.self, "WHERE id = \(bind: id)", cipher: cipher).first
        }
    }

    public func grants(subject: String) async throws -> [Grant] {
        let cipher = self.cipher
        return try await executor.read { db in
            try await db.select(Grant.self, "WHERE subject = \(bind: subject) ORDER BY created_at, id", cipher: cipher)
        }
    }

    public func revokeGrant(id: String, at: Date) async throws -> Bool {
        try await executor.write { db in
            try await db.updateCount(Grant.self, set: "revoked_at = \(bind: at.storageMillis)",
                                     "WHERE id = \(bind: id) AND revoked_at IS NULL") > 0
        }
    }
}
