import Foundation
import StrongroomCore

/// `grants`: consents, one active per (subject, client).
extension Grant: TableRecord {
    static let schema = TableSchema<Grant>("grants", primaryKey: ["id"], columns: [
        .text("id", \.id),
        .text("subject", \.subject),
        .text("client_id", \.clientID),
        .json("scopes", \.scopes),
        .json("claims", \.claims),
        .date("created_at", \.createdAt),
        .date("updated_at", \.updatedAt),
        .optionalDate("revoked_at", \.revokedAt),
    ])

    init(row: StoredRow<Grant>) throws {
        self.init(id: try row[\.id], subject: try row[\.subject], clientID: try row[\.clientID], scopes: try row[\.scopes],
                  claims: try row[\.claims], createdAt: try row[\.createdAt], updatedAt: try row[\.updatedAt],
                  revokedAt: try row[\.revokedAt])
    }
}
