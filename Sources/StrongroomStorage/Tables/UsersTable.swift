import Foundation
import StrongroomCore

/// `users`: accounts of the built-in login.
extension User: TableRecord {
    static let schema = TableSchema<User>("users", primaryKey: ["subject"], columns: [
        .text("subject", \.subject),
        .text("username", \.username),
        .text("password_hash", \.passwordHash),
        .json("claims", \.claims),
        .date("created_at", \.createdAt).insertOnly(),
    ])

    init(row: StoredRow<User>) throws {
        self.init(subject: try row[\.subject], username: try row[\.username], passwordHash: try row[\.passwordHash],
                  claims: try row[\.claims], createdAt: try row[\.createdAt])
    }
}
