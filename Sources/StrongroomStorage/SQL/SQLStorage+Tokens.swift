import Foundation
import SQLKit
import StrongroomCore

// MARK: - Authorization codes

extension SQLStorage {
    static func codeRow(_ code: AuthorizationCodeRecord) throws -> RowValues {
        var row = RowValues()
        row.set("code_hash", code.codeHash)
        row.set("id", code.id)
        row.set("client_id", code.clientID)
        row.set("subject", code.subject)
        row.set("redirect_uri", code.redirectURI)
        row.set("scopes", try StoredJSON.encode(code.scopes))
        row.set("nonce", code.nonce)
        row.set("code_challenge", code.codeChallenge)
        row.set("code_challenge_method", code.codeChallengeMethod)
        row.set("auth_time", code.authTime.storageMillis)
        row.set("acr", code.acr)
        row.set("amr", try StoredJSON.encode(code.amr))
        row.set("claims_request", try StoredJSON.encode(code.claimsRequest))
        row.set("grant_id", code.grantID)
        row.set("profile", code.profile.rawValue)
        row.set("dpop_jkt", code.dpopJKT)
        row.set("expires_at", code.expiresAt.storageMillis)
        row.set("created_at", code.createdAt.storageMillis)
        row.set("consumed_at", code.consumedAt.storageMillis)
        return row
    }

    static func code(from row: any SQLRow) throws -> AuthorizationCodeRecord {
        let r = RowReader(row: row)
        return AuthorizationCodeRecord(
            codeHash: try r.string("code_hash"),
            id: try r.string("id"),
            clientID: try r.string("client_id"),
            subject: try r.string("subject"),
            redirectURI: try r.optionalString("redirect_uri"),
            scopes: try r.json("scopes", as: [String].self),
            nonce: try r.optionalString("nonce"),
            codeChallenge: try r.optionalString("code_challenge"),
            codeChallengeMethod: try r.optionalString("code_challenge_method"),
            authTime: try r.date("auth_time"),
            acr: try r.optionalString("acr"),
            amr: try r.json("amr", as: [String].self),
            claimsRequest: try r.optionalJSON("claims_request", as: JSONValue.self),
            grantID: try r.optionalString("grant_id"),
            profile: try r.rawEnum("profile", as: Profile.self),
            dpopJKT: try r.optionalString("dpop_jkt"),
            expiresAt: try r.date("expires_at"),
            createdAt: try r.date("created_at"),
            consumedAt: try r.optionalDate("consumed_at")
        )
    }

    public func saveCode(_ record: AuthorizationCodeRecord) async throws {
        let row = try Self.codeRow(record)
        try await mappingDuplicate("authorization code") {
            try await executor.write { db in try await db.insert(into: "authorization_codes", rows: [row]) }
        }
    }

    /// Expiry is not checked here: the caller compares `expiresAt` with its clock.
    public func redeemCode(hash: String, clientID: String, at: Date) async throws -> CodeRedemption {
        try await executor.write { db in
            let consumed = try await db.rows("""
                UPDATE authorization_codes SET consumed_at = \(bind: at.storageMillis)
                WHERE code_hash = \(bind: hash) AND client_id = \(bind: clientID) AND consumed_at IS NULL RETURNING *
                """)
            if let row = consumed.first { return .redeemed(try Self.code(from: row)) }
            let existing = try await db.rows("SELECT * FROM authorization_codes WHERE code_hash = \(bind: hash)")
            guard let row = existing.first else { return .unknown }
            let record = try Self.code(from: row)
            return record.clientID == clientID ? .replayed(record) : .otherClient
        }
    }
}

// MARK: - Tokens

extension SQLStorage {
    static func tokenRow(_ token: TokenRecord) throws -> RowValues {
        var row = RowValues()
        row.set("token_hash", token.tokenHash)
        row.set("id", token.id)
        row.set("kind", token.kind.rawValue)
        row.set("client_id", token.clientID)
        row.set("subject", token.subject)
        row.set("scopes", try StoredJSON.encode(token.scopes))
        row.set("code_id", token.codeID)
        row.set("grant_id", token.grantID)
        row.set("family_id", token.familyID)
        row.set("certificate_thumbprint", token.certificateThumbprint)
        row.set("dpop_jkt", token.dpopJKT)
        row.set("profile", token.profile.rawValue)
        row.set("auth_time", token.authTime.storageMillis)
        row.set("acr", token.acr)
        row.set("claims_request", try StoredJSON.encode(token.claimsRequest))
        row.set("expires_at", token.expiresAt.storageMillis)
        row.set("created_at", token.createdAt.storageMillis)
        row.set("revoked_at", token.revokedAt.storageMillis)
        row.set("rotated_at", token.rotatedAt.storageMillis)
        return row
    }

    static func token(from row: any SQLRow) throws -> TokenRecord {
        let r = RowReader(row: row)
        return TokenRecord(
            tokenHash: try r.string("token_hash"),
            id: try r.string("id"),
            kind: try r.rawEnum("kind", as: TokenKind.self),
            clientID: try r.string("client_id"),
            subject: try r.optionalString("subject"),
            scopes: try r.json("scopes", as: [String].self),
            codeID: try r.optionalString("code_id"),
            grantID: try r.optionalString("grant_id"),
            familyID: try r.string("family_id"),
            certificateThumbprint: try r.optionalString("certificate_thumbprint"),
            dpopJKT: try r.optionalString("dpop_jkt"),
            profile: try r.rawEnum("profile", as: Profile.self),
            authTime: try r.optionalDate("auth_time"),
            acr: try r.optionalString("acr"),
            claimsRequest: try r.optionalJSON("claims_request", as: JSONValue.self),
            expiresAt: try r.date("expires_at"),
            createdAt: try r.date("created_at"),
            revokedAt: try r.optionalDate("revoked_at"),
            rotatedAt: try r.optionalDate("rotated_at")
        )
    }

    /// One multi-row INSERT: all the tokens of a response are committed together (on SQLite, in the
    /// next group commit) before this returns.
    public func saveTokens(_ tokens: [TokenRecord]) async throws {
        guard !tokens.isEmpty else { return }
        let rows = try tokens.map(Self.tokenRow)
        try await mappingDuplicate("token") {
            try await executor.write { db in try await db.insert(into: "tokens", rows: rows) }
        }
    }

    public func token(hash: String) async throws -> TokenRecord? {
        try await executor.read { db in
            try await db.rows("SELECT * FROM tokens WHERE token_hash = \(bind: hash)").first.map(Self.token(from:))
        }
    }

    /// `.replayed` also covers a refresh token that was revoked without being rotated: any use of
    /// a dead refresh token is treated as theft of the family. An access token's hash is `.unknown`.
    public func rotateRefreshToken(hash: String, at: Date) async throws -> RefreshRotation {
        let refresh = TokenKind.refresh.rawValue
        return try await executor.write { db in
            let rotated = try await db.rows("""
                UPDATE tokens SET rotated_at = \(bind: at.storageMillis)
                WHERE token_hash = \(bind: hash) AND kind = \(bind: refresh)
                    AND rotated_at IS NULL AND revoked_at IS NULL
                RETURNING *
                """)
            if let row = rotated.first { return .rotated(try Self.token(from: row)) }
            let existing = try await db.rows("""
                SELECT * FROM tokens WHERE token_hash = \(bind: hash) AND kind = \(bind: refresh)
                """)
            if let row = existing.first { return .replayed(try Self.token(from: row)) }
            return .unknown
        }
    }

    public func revokeToken(hash: String, at: Date) async throws -> Bool {
        try await executor.write { db in
            try await db.rows("""
                UPDATE tokens SET revoked_at = \(bind: at.storageMillis)
                WHERE token_hash = \(bind: hash) AND revoked_at IS NULL RETURNING token_hash
                """).count > 0
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
            try await db.rows("""
                UPDATE tokens SET revoked_at = \(bind: at.storageMillis)
                WHERE \(ident: column) = \(bind: value) AND revoked_at IS NULL RETURNING token_hash
                """).count
        }
    }
}

// MARK: - Pushed authorization requests

extension SQLStorage {
    static func pushedRequest(from row: any SQLRow) throws -> PushedRequestRecord {
        let r = RowReader(row: row)
        return PushedRequestRecord(
            requestURIHash: try r.string("request_uri_hash"),
            clientID: try r.string("client_id"),
            parameters: try r.json("parameters", as: [String: String].self),
            requestObjectClaims: try r.optionalJSON("request_object_claims", as: JSONValue.self),
            profile: try r.rawEnum("profile", as: Profile.self),
            expiresAt: try r.date("expires_at"),
            createdAt: try r.date("created_at"),
            consumedAt: try r.optionalDate("consumed_at")
        )
    }

    public func savePushedRequest(_ record: PushedRequestRecord) async throws {
        var row = RowValues()
        row.set("request_uri_hash", record.requestURIHash)
        row.set("client_id", record.clientID)
        row.set("parameters", try StoredJSON.encode(record.parameters))
        row.set("request_object_claims", try StoredJSON.encode(record.requestObjectClaims))
        row.set("profile", record.profile.rawValue)
        row.set("expires_at", record.expiresAt.storageMillis)
        row.set("created_at", record.createdAt.storageMillis)
        row.set("consumed_at", record.consumedAt.storageMillis)
        try await mappingDuplicate("pushed request") { [row] in
            try await executor.write { db in try await db.insert(into: "pushed_requests", rows: [row]) }
        }
    }

    public func pushedRequest(hash: String) async throws -> PushedRequestRecord? {
        try await executor.read { db in
            try await db.rows("SELECT * FROM pushed_requests WHERE request_uri_hash = \(bind: hash)")
                .first.map(Self.pushedRequest(from:))
        }
    }

    public func consumePushedRequest(hash: String, at: Date) async throws -> PushedRequestRecord? {
        try await executor.write { db in
            try await db.rows("""
                UPDATE pushed_requests SET consumed_at = \(bind: at.storageMillis)
                WHERE request_uri_hash = \(bind: hash) AND consumed_at IS NULL RETURNING *
                """).first.map(Self.pushedRequest(from:))
        }
    }
}

// MARK: - Replay cache

extension SQLStorage {
    /// One upsert: inserts, or takes over an entry that has expired; an unexpired entry is left as is
    /// and no row is returned (a replay).
    public func remember(namespace: String, value: String, expiresAt: Date, now: Date) async throws -> Bool {
        try await executor.write { db in
            try await db.rows("""
                INSERT INTO replay_cache (namespace, value, expires_at)
                VALUES (\(bind: namespace), \(bind: value), \(bind: expiresAt.storageMillis))
                ON CONFLICT (namespace, value) DO UPDATE SET expires_at = excluded.expires_at
                    WHERE replay_cache.expires_at <= \(bind: now.storageMillis)
                RETURNING namespace
                """).count > 0
        }
    }

    public func isRemembered(namespace: String, values: [String], now: Date) async throws -> Bool {
        guard !values.isEmpty else { return false }
        let binds: [any Encodable & Sendable] = values
        return try await executor.read { db in
            try await db.rows("""
                SELECT 1 AS hit FROM replay_cache
                WHERE namespace = \(bind: namespace) AND value IN (\(binds: binds)) AND expires_at > \(bind: now.storageMillis)
                LIMIT 1
                """).count > 0
        }
    }
}
