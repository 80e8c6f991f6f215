import Foundation
import StrongroomCore

/// `authorization_codes`: issued codes, by keyed hash, until redeemed or expired.
extension AuthorizationCodeRecord: TableRecord {
    static let schema = TableSchema<AuthorizationCodeRecord>("authorization_codes", primaryKey: ["code_hash"], columns: [
        .text("code_hash", \.codeHash),
        .text("id", \.id),
        .text("client_id", \.clientID),
        .text("subject", \.subject),
        .optionalText("redirect_uri", \.redirectURI),
        .json("scopes", \.scopes),
        .optionalText("nonce", \.nonce),
        .optionalText("code_challenge", \.codeChallenge),
        .optionalText("code_challenge_method", \.codeChallengeMethod),
        .date("auth_time", \.authTime),
        .optionalText("acr", \.acr),
        .json("amr", \.amr),
        .optionalJSON("claims_request", \.claimsRequest),
        .optionalText("grant_id", \.grantID),
        .enumeration("profile", \.profile),
        .optionalText("dpop_jkt", \.dpopJKT),
        .date("expires_at", \.expiresAt),
        .date("created_at", \.createdAt),
        .optionalDate("consumed_at", \.consumedAt),
    ])

    init(row: StoredRow<AuthorizationCodeRecord>) throws {
        self.init(
            codeHash: try row[\.codeHash], id: try row[\.id], clientID: try row[\.clientID], subject: try row[\.subject],
            redirectURI: try row[\.redirectURI], scopes: try row[\.scopes], nonce: try row[\.nonce],
            codeChallenge: try row[\.codeChallenge], codeChallengeMethod: try row[\.codeChallengeMethod],
            authTime: try row[\.authTime], acr: try row[\.acr], amr: try row[\.amr], claimsRequest: try row[\.claimsRequest],
            grantID: try row[\.grantID], profile: try row[\.profile], dpopJKT: try row[\.dpopJKT],
            expiresAt: try row[\.expiresAt], createdAt: try row[\.createdAt], consumedAt: try row[\.consumedAt])
    }
}
