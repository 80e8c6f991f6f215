import Foundation
import SQLKit
import StrongroomCore

// MARK: - Signing keys

extension SQLStorage {
    public func saveKey(_ key: SigningKeyRecord) async throws {
        let cipher = self.cipher
        try await mappingDuplicate("signing key \(key.kid)") {
            try await executor.write { db in try await db.insert([key], cipher: cipher) }
        }
    }

    public func keys() async throws -> [SigningKeyRecord] {
        let cipher = self.cipher
        return try await executor.read { db in
            try await db.select(SigningKeyRecord.self, "ORDER BY created_at, kid", cipher: cipher)
        }
    }

    /// Sets the status; `active` records `activated_at` (first activation), `retired` records
    /// `retired_at`. Throws `StorageError.notFound` for an unknown kid.
    public func updateKeyStatus(kid: String, status: SigningKeyRecord.Status, at: Date) async throws {
        let millis = at.storageMillis
        let set: SQLQueryString
        switch status {
        case .active: set = "status = \(bind: status.rawValue), activated_at = COALESCE(activated_at, \(bind: millis))"
        case .retired: set = "status = \(bind: status.rawValue), retired_at = \(bind: millis)"
        case .next, .retiring: set = "status = \(bind: status.rawValue)"
        }
        let updated = try await executor.write { [set] db in
            try await db.updateCount(SigningKeyRecord.self, set: set, "WHERE kid = \(bind: kid)")
        }
        guard updated > 0 else { throw StorageError.notFound("signing key \(kid)") }
    }
}

// MARK: - Sessions

extension SQLStorage {
    /// Upserts by id hash (re-authentication refreshes a session).
    public func saveSession(_ session: SessionRecord) async throws {
        let cipher = self.cipher
        try await executor.write { db in try await db.upsert(session, cipher: cipher) }
    }

    public func session(idHash: String) async throws -> SessionRecord? {
        let cipher = self.cipher
        return try await executor.read { db in
            try await db.select(SessionRecord.self, "WHERE id_hash = \(bind: idHash)", cipher: cipher).first
        }
    }

    public func deleteSession(idHash: String) async throws {
        try await executor.write { db in
            _ = try await db.deleteCount(SessionRecord.self, "WHERE id_hash = \(bind: idHash)")
        }
    }
}

// MARK: - Interactions

extension SQLStorage {
    /// Upserts by id hash.
    public func saveInteraction(_ record: InteractionRecord) async throws {
        let cipher = self.cipher
        try await executor.write { db in try await db.upsert(record, cipher: cipher) }
    }

    public func interaction(idHash: String) async throws -> InteractionRecord? {
        let cipher = self.cipher
        return try await executor.read { db in
            try await db.select(InteractionRecord.self, "WHERE id_hash = \(bind: idHash)", cipher: cipher).first
        }
    }

    /// Throws `StorageError.notFound` if the interaction is gone (consumed or swept).
    public func setInteractionSubject(idHash: String, subject: String) async throws {
        let updated = try await executor.write { db in
            try await db.updateCount(InteractionRecord.self, set: "subject = \(bind: subject)", "WHERE id_hash = \(bind: idHash)")
        }
        guard updated > 0 else { throw StorageError.notFound("interaction") }
    }

    public func consumeInteraction(idHash: String) async throws -> InteractionRecord? {
        let cipher = self.cipher
        return try await executor.write { db in
            try await db.delete(InteractionRecord.self, "WHERE id_hash = \(bind: idHash)", cipher: cipher).first
        }
    }
}
