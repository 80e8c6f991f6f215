import Foundation
import StrongroomCore

/// One remembered single-use identifier (`ReplayCache`).
struct ReplayEntry: Sendable, Equatable {
    var namespace: String
    var value: String
    var expiresAt: Date
}

/// `replay_cache`: client assertion and DPoP proof `jti`s until they expire.
extension ReplayEntry: TableRecord {
    static let schema = TableSchema<ReplayEntry>("replay_cache", primaryKey: ["namespace", "value"], columns: [
        .text("namespace", \.namespace),
        .text("value", \.value),
        .date("expires_at", \.expiresAt),
    ])

    init(row: StoredRow<ReplayEntry>) throws {
        self.init(namespace: try row[\.namespace], value: try row[\.value], expiresAt: try row[\.expiresAt])
    }
}
