import Foundation
import StrongroomCore

/// `interactions`: validated authorization requests waiting for login and consent.
extension InteractionRecord: TableRecord {
    static let schema = TableSchema<InteractionRecord>("interactions", primaryKey: ["id_hash"], columns: [
        .text("id_hash", \.idHash),
        .text("client_id", \.clientID),
        .json("request", \.request),
        .enumeration("profile", \.profile),
        .optionalText("subject", \.subject),
        .date("expires_at", \.expiresAt),
        .date("created_at", \.createdAt),
    ])

    init(row: StoredRow<InteractionRecord>) throws {
        self.init(idHash: try row[\.idHash], clientID: try row[\.clientID], request: try row[\.request],
                  profile: try row[\.profile], subject: try row[\.subject], expiresAt: try row[\.expiresAt],
                  createdAt: try row[\.createdAt])
    }
}
