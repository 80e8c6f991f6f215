import Foundation
import SQLKit
import StrongroomCore

// MARK: - Authorization codes

extension SQLStorage {
    public func saveCode(_ record: AuthorizationCodeRecord) async throws {
        let cipher = self.cipher
        try await mappingDuplicate("authorization code") {
            try await executor.write { db in try await db.insert([record], cipher: cipher) }
        }
    }

    /// Expiry is not checked here: the caller compares `expiresAt` with its clock.
    public func redeemCode(hash: String, clientID: String, at: Date) async throws -> CodeRedemption {
        let cipher = self.cipher
        return try await executor.write { db in
            let consumed = try await db.update(AuthorizationCodeRecord.self, set: "consumed_at = \(bind: at.storageMillis)",
                "WHERE code_hash = \(bind: hash) AND client_id = \(bind: clientID) AND consumed_at IS NULL", cipher: cipher)
            if let record = consumed.first { return .redeemed(record) }
            let existing = try await db.select(AuthorizationCodeRecord.self, "WHERE code_hash = \(bind: hash)", cipher: cipher)
            guard let record = existing.first else { return .unknown }
            return record.clientID == clientID ? .replayed(record) : .otherClient
        }
    }
}

// MARK: - Tokens

extension SQLStorage {
    /// One multi-row INSERT: all the tokens of a response are committed together (on SQLite, in the
    /// next group commit) before this returns.
    public func saveTokens(_ tokens: [TokenRecord]) async throws {
        guard !tokens.isEmpty else { return }
        let cipher = self.cipher
        try await mappingDuplicate("token") {
            try await executor.write { db in try await db.insert(tokens, cipher: cipher) }
        }
    }

    public func token(hash: String) async throws -> TokenRecord? {
        let cipher = self.cipher
        return try await executor.read { db in
            try await db.select(TokenRecord.self, "WHERE token_hash = \(bind: hash)", cipher: cipher).first
        }
    }

    /// `.replayed` also covers a refresh token that was revoked without being rotated: any use of
    /// a dead refresh token is treated as theft of the family. An access token's hash is `.unknown`.
    public func rotateRefreshToken(hash: String, at: Date) async throws -> RefreshRotation {
        let refresh = TokenKind.refresh.rawValue
        let cipher = self.cipher
        return try await executor.write { db in
            let rotated = try await db.update(TokenRecord.self, set: "rotated_at = \(bind: at.storageMillis)", """
                WHERE token_hash = \(bind: hash) AND kind = \(bind: refresh) AND rotated_at IS NULL AND revoked_at IS NULL
                """, cipher: cipher)
            if let token = rotated.first { return .rotated(token) }
            let existing = try await db.select(TokenRecord.self, "WHERE token_hash = \(bind: hash) AND kind = \(bind: refresh)",
                                               cipher: cipher)
            if let token = existing.first { return .replayed(token) }
            return .unknown
        }
    }

    public func revokeToken(hash: String, at: Date) async throws -> Bool {
        try await executor.write { db in
            try await db.updateCount(TokenRecord.self, set: "revoked_at = \(bind: at.storageMillis)",
                                     "WHERE token_hash = \(bind: hash) AND revoked_at IS NULL") > 0
        }
    }

    public func revokeTokens(codeID: String, at: Date) async throws -> Int {
        try await revokeTokens(column: "code_id", value: codeID, at: at)
    }

    public func revokeTokens(familyID: String, at: Date) async throws -> Int {
        try await revokeTokens(column: "family_id", value: familyID, at: at)
    }

    public func revokeTokens(grantID: String, at: Date) async throws -> Int {
        try await revokeTokens(column: "grant_id", value: grantID, at: at)
    }

    private func revokeTokens(column: String, value: String, at: Date) async throws -> Int {
        try await executor.write { db in
            try await db.updateCount(TokenRecord.self, set: "revoked_at = \(bind: at.storageMillis)",
                                     "WHERE \(ident: column) = \(bind: value) AND revoked_at IS NULL")
        }
    }
}

// MARK: - Pushed authorization requests

extension SQLStorage {
    public func savePushedRequest(_ record: PushedRequestRecord) async throws {
        let cipher = self.cipher
        try await mappingDuplicate("pushed request") {
            try await executor.write { db in try await db.insert([record], cipher: cipher) }
        }
    }

    public func pushedRequest(hash: String) async throws -> PushedRequestRecord? {
        let cipher = self.cipher
        return try await executor.read { db in
            try await db.select(PushedRequestRecord.self, "WHERE request_uri_hash = \(bind: hash)", cipher: cipher).first
        }
    }

    public func consumePushedRequest(hash: String, at: Date) async throws -> PushedRequestRecord? {
        let cipher = self.cipher
        return try await executor.write { db in
            try await db.update(PushedRequestRecord.self, set: "consumed_at = \(bind: at.storageMillis)",
                                "WHERE request_uri_hash = \(bind: hash) AND consumed_at IS NULL", cipher: cipher).first
        }
    }
}

// MARK: - Replay cache

extension SQLStorage {
    /// One upsert: inserts, or takes over an entry that has expired; an unexpired entry is left as is
    /// and no row is returned (a replay).
    public func remember(namespace: String, value: String, expiresAt: Date, now: Date) async throws -> Bool {
        var query = try ReplayEntry.schema.insert([ReplayEntry(namespace: namespace, value: value, expiresAt: expiresAt)], cipher: cipher)
        query += """
             ON CONFLICT (namespace, value) DO UPDATE SET expires_at = excluded.expires_at
                WHERE \(table: ReplayEntry.self).expires_at <= \(bind: now.storageMillis)
            RETURNING namespace
            """
        return try await executor.write { [query] db in
            try await db.raw(query).all().count > 0
        }
    }

    public func isRemembered(namespace: String, values: [String], now: Date) async throws -> Bool {
        guard !values.isEmpty else { return false }
        let binds: [any Encodable & Sendable] = values
        return try await executor.read { db in
            try await db.rows("""
                SELECT 1 AS hit FROM \(table: ReplayEntry.self)
                WHERE namespace = \(bind: namespace) AND value IN (\(binds: binds)) AND expires_at > \(bind: now.storageMillis)
                LIMIT 1
                """).count > 0
        }
    }
}
