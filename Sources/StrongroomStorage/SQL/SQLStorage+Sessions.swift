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
            try await db.select(SigningKeyRecord.self, Self.keyOrder, cipher: cipher)
        }
    }

    static var keyOrder: SQLQueryString { "ORDER BY created_at, kid" }

    /// Sets the status; `active` records `activated_at` (first activation), `retired` records
    /// `retired_at`. Throws `StorageError.notFound` for an unknown kid.
    public func updateKeyStatus(kid: String, status: SigningKeyRecord.Status, at: Date) async throws {
        try await executor.write { db in try await Self.setKeyStatus(db, kid: kid, status: status, at: at) }
    }

    /// PostgreSQL: `SHARE ROW EXCLUSIVE` on `signing_keys`, taken before the keys are read, is held
    /// by one transaction at a time and stops every write to the table (not its reads) until that
    /// transaction ends; the read after it sees what the previous holder committed. SQLite: every
    /// write transaction is `BEGIN IMMEDIATE` (`SQLiteGroupCommitWriter`), which takes the
    /// database's write lock before its first statement, so another connection, in this process or
    /// another, cannot write between the read and the writes.
    public func changeKeys(_ decide: @escaping @Sendable ([SigningKeyRecord]) throws -> [SigningKeyChange]) async throws -> [SigningKeyRecord] {
        let cipher = self.cipher
        let kind = executor.kind
        return try await mappingDuplicate("signing key") {
            try await executor.transaction { db in
                if kind == .postgresql {
                    try await db.raw("LOCK TABLE \(unsafeRaw: SigningKeyRecord.schema.name) IN SHARE ROW EXCLUSIVE MODE").run()
                }
                let keys = try await db.select(SigningKeyRecord.self, Self.keyOrder, cipher: cipher)
                let changes = try decide(keys)
                guard !changes.isEmpty else { return keys }
                for change in changes {
                    switch change {
                    case .add(let key): try await db.insert([key], cipher: cipher)
                    case .setStatus(let kid, let status, let at): try await Self.setKeyStatus(db, kid: kid, status: status, at: at)
                    }
                }
                return try await db.select(SigningKeyRecord.self, Self.keyOrder, cipher: cipher)
            }
        }
    }

    static func setKeyStatus(_ db: any SQLDatabase, kid: String, status: SigningKeyRecord.Status, at: Date) async throws {
        let millis = at.storageMillis
        let set: SQLQueryString
        switch status {
        case .active: set = "status = \(bind: status.rawValue), activated_at = COALESCE(activated_at, \(bind: millis))"
        case .retired: set = "status = \(bind: status.rawValue), retired_at = \(bind: millis)"
        case .next, .retiring: set = "status = \(bind: status.rawValue)"
        }
        let updated = try await db.updateCount(SigningKeyRecord.self, set: set, "WHERE kid = \(bind: kid)")
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
