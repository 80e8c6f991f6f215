import Foundation
import SQLKit
import StrongroomCore

// MARK: - Signing keys

extension SQLStorage {
    static func signingKey(from row: any SQLRow, cipher: FieldCipher) throws -> SigningKeyRecord {
        let r = RowReader(row: row)
        let kid = try r.string("kid")
        return SigningKeyRecord(
            kid: kid,
            algorithm: try r.rawEnum("algorithm", as: JWSAlgorithm.self),
            privateKeyPEM: try cipher.open(try r.string("private_key_pem"), SealedColumn.signingKey.field(kid)),
            publicJWK: try r.json("public_jwk", as: JSONValue.self),
            status: try r.rawEnum("status", as: SigningKeyRecord.Status.self),
            createdAt: try r.date("created_at"),
            activatedAt: try r.optionalDate("activated_at"),
            retiredAt: try r.optionalDate("retired_at")
        )
    }

    public func saveKey(_ key: SigningKeyRecord) async throws {
        var row = RowValues()
        row.set("kid", key.kid)
        row.set("algorithm", key.algorithm.rawValue)
        row.set("private_key_pem", try cipher.seal(key.privateKeyPEM, SealedColumn.signingKey.field(key.kid)))
        row.set("public_jwk", try StoredJSON.encode(key.publicJWK))
        row.set("status", key.status.rawValue)
        row.set("created_at", key.createdAt.storageMillis)
        row.set("activated_at", key.activatedAt.storageMillis)
        row.set("retired_at", key.retiredAt.storageMillis)
        try await mappingDuplicate("signing key \(key.kid)") { [row] in
            try await executor.write { db in try await db.insert(into: "signing_keys", rows: [row]) }
        }
    }

    public func keys() async throws -> [SigningKeyRecord] {
        let cipher = self.cipher
        return try await executor.read { db in
            try await db.rows("SELECT * FROM signing_keys ORDER BY created_at, kid").map { try Self.signingKey(from: $0, cipher: cipher) }
        }
    }

    /// Sets the status; `active` records `activated_at` (first activation), `retired` records
    /// `retired_at`. Throws `StorageError.notFound` for an unknown kid.
    public func updateKeyStatus(kid: String, status: SigningKeyRecord.Status, at: Date) async throws {
        let millis = at.storageMillis
        let updated = try await executor.write { db -> Int in
            let query: SQLQueryString
            switch status {
            case .active:
                query = """
                    UPDATE signing_keys SET status = \(bind: status.rawValue),
                        activated_at = COALESCE(activated_at, \(bind: millis))
                    WHERE kid = \(bind: kid) RETURNING kid
                    """
            case .retired:
                query = """
                    UPDATE signing_keys SET status = \(bind: status.rawValue), retired_at = \(bind: millis)
                    WHERE kid = \(bind: kid) RETURNING kid
                    """
            case .next, .retiring:
                query = "UPDATE signing_keys SET status = \(bind: status.rawValue) WHERE kid = \(bind: kid) RETURNING kid"
            }
            return try await db.rows(query).count
        }
        guard updated > 0 else { throw StorageError.notFound("signing key \(kid)") }
    }
}

// MARK: - Sessions

extension SQLStorage {
    static func session(from row: any SQLRow) throws -> SessionRecord {
        let r = RowReader(row: row)
        return SessionRecord(
            idHash: try r.string("id_hash"),
            subject: try r.string("subject"),
            authTime: try r.date("auth_time"),
            acr: try r.optionalString("acr"),
            amr: try r.json("amr", as: [String].self),
            csrfToken: try r.string("csrf_token"),
            expiresAt: try r.date("expires_at")
        )
    }

    /// Upserts by id hash (re-authentication refreshes a session).
    public func saveSession(_ session: SessionRecord) async throws {
        var row = RowValues()
        row.set("id_hash", session.idHash)
        row.set("subject", session.subject)
        row.set("auth_time", session.authTime.storageMillis)
        row.set("acr", session.acr)
        row.set("amr", try StoredJSON.encode(session.amr))
        row.set("csrf_token", session.csrfToken)
        row.set("expires_at", session.expiresAt.storageMillis)
        try await executor.write { [row] db in try await db.upsert(into: "sessions", row: row, key: ["id_hash"]) }
    }

    public func session(idHash: String) async throws -> SessionRecord? {
        try await executor.read { db in
            try await db.rows("SELECT * FROM sessions WHERE id_hash = \(bind: idHash)").first.map(Self.session(from:))
        }
    }

    public func deleteSession(idHash: String) async throws {
        try await executor.write { db in
            try await db.raw("DELETE FROM sessions WHERE id_hash = \(bind: idHash)").run()
        }
    }
}

// MARK: - Interactions

extension SQLStorage {
    static func interaction(from row: any SQLRow) throws -> InteractionRecord {
        let r = RowReader(row: row)
        return InteractionRecord(
            idHash: try r.string("id_hash"),
            clientID: try r.string("client_id"),
            request: try r.json("request", as: JSONValue.self),
            profile: try r.rawEnum("profile", as: Profile.self),
            subject: try r.optionalString("subject"),
            expiresAt: try r.date("expires_at"),
            createdAt: try r.date("created_at")
        )
    }

    /// Upserts by id hash.
    public func saveInteraction(_ record: InteractionRecord) async throws {
        var row = RowValues()
        row.set("id_hash", record.idHash)
        row.set("client_id", record.clientID)
        row.set("request", try StoredJSON.encode(record.request))
        row.set("profile", record.profile.rawValue)
        row.set("subject", record.subject)
        row.set("expires_at", record.expiresAt.storageMillis)
        row.set("created_at", record.createdAt.storageMillis)
        try await executor.write { [row] db in try await db.upsert(into: "interactions", row: row, key: ["id_hash"]) }
    }

    public func interaction(idHash: String) async throws -> InteractionRecord? {
        try await executor.read { db in
            try await db.rows("SELECT * FROM interactions WHERE id_hash = \(bind: idHash)")
                .first.map(Self.interaction(from:))
        }
    }

    /// Throws `StorageError.notFound` if the interaction is gone (consumed or swept).
    public func setInteractionSubject(idHash: String, subject: String) async throws {
        let updated = try await executor.write { db in
            try await db.rows("""
                UPDATE interactions SET subject = \(bind: subject) WHERE id_hash = \(bind: idHash) RETURNING id_hash
                """).count
        }
        guard updated > 0 else { throw StorageError.notFound("interaction") }
    }

    public func consumeInteraction(idHash: String) async throws -> InteractionRecord? {
        try await executor.write { db in
            try await db.rows("DELETE FROM interactions WHERE id_hash = \(bind: idHash) RETURNING *")
                .first.map(Self.interaction(from:))
        }
    }
}
