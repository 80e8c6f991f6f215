import Foundation
import StrongroomCore

/// `signing_keys`: the server's keys. `private_key_pem` is sealed.
extension SigningKeyRecord: TableRecord {
    static let schema = TableSchema<SigningKeyRecord>("signing_keys", primaryKey: ["kid"], columns: [
        .text("kid", \.kid),
        .enumeration("algorithm", \.algorithm),
        .sealedText("private_key_pem", \.privateKeyPEM, rowID: \.kid),
        .json("public_jwk", \.publicJWK),
        .enumeration("status", \.status),
        .date("created_at", \.createdAt),
        .optionalDate("activated_at", \.activatedAt),
        .optionalDate("retired_at", \.retiredAt),
    ])

    init(row: StoredRow<SigningKeyRecord>) throws {
        self.init(
            kid: try row[\.kid], algorithm: try row[\.algorithm], privateKeyPEM: try row[\.privateKeyPEM],
            publicJWK: try row[\.publicJWK], status: try row[\.status], createdAt: try row[\.createdAt],
            activatedAt: try row[\.activatedAt], retiredAt: try row[\.retiredAt])
    }
}
