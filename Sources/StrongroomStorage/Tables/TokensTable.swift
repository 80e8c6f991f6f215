import Foundation
import StrongroomCore

/// `tokens`: access and refresh tokens, by keyed hash.
extension TokenRecord: TableRecord {
    static let schema = TableSchema<TokenRecord>("tokens", primaryKey: ["token_hash"], columns: [
        .text("token_hash", \.tokenHash),
        .text("id", \.id),
        .enumeration("kind", \.kind),
        .text("client_id", \.clientID),
        .optionalText("subject", \.subject),
        .json("scopes", \.scopes),
        .optionalText("code_id", \.codeID),
        .optionalText("grant_id", \.grantID),
        .text("family_id", \.familyID),
        .optionalText("certificate_thumbprint", \.certificateThumbprint),
        .optionalText("dpop_jkt", \.dpopJKT),
        .enumeration("profile", \.profile),
        .optionalDate("auth_time", \.authTime),
        .optionalText("acr", \.acr),
        .optionalJSON("claims_request", \.claimsRequest),
        .date("expires_at", \.expiresAt),
        .date("created_at", \.createdAt),
        .optionalDate("revoked_at", \.revokedAt),
        .optionalDate("rotated_at", \.rotatedAt),
    ])

    init(row: StoredRow<TokenRecord>) throws {
        self.init(
            tokenHash: try row[\.tokenHash], id: try row[\.id], kind: try row[\.kind], clientID: try row[\.clientID],
            subject: try row[\.subject], scopes: try row[\.scopes], codeID: try row[\.codeID], grantID: try row[\.grantID],
            familyID: try row[\.familyID], certificateThumbprint: try row[\.certificateThumbprint], dpopJKT: try row[\.dpopJKT],
            profile: try row[\.profile], authTime: try row[\.authTime], acr: try row[\.acr],
            claimsRequest: try row[\.claimsRequest], expiresAt: try row[\.expiresAt], createdAt: try row[\.createdAt],
            revokedAt: try row[\.revokedAt], rotatedAt: try row[\.rotatedAt])
    }
}
