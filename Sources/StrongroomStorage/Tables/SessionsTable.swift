import Foundation
import StrongroomCore

/// `sessions`: login sessions of the built-in login page, by keyed hash of the cookie.
extension SessionRecord: TableRecord {
    static let schema = TableSchema<SessionRecord>("sessions", primaryKey: ["id_hash"], columns: [
        .text("id_hash", \.idHash),
        .text("subject", \.subject),
        .date("auth_time", \.authTime),
        .optionalText("acr", \.acr),
        .json("amr", \.amr),
        .text("csrf_token", \.csrfToken),
        .date("expires_at", \.expiresAt),
    ])

    init(row: StoredRow<SessionRecord>) throws {
        self.init(idHash: try row[\.idHash], subject: try row[\.subject], authTime: try row[\.authTime], acr: try row[\.acr],
                  amr: try row[\.amr], csrfToken: try row[\.csrfToken], expiresAt: try row[\.expiresAt])
    }
}
