import Foundation
import StrongroomCore

/// `pushed_requests`: RFC 9126 requests, by keyed hash of the `request_uri`.
extension PushedRequestRecord: TableRecord {
    static let schema = TableSchema<PushedRequestRecord>("pushed_requests", primaryKey: ["request_uri_hash"], columns: [
        .text("request_uri_hash", \.requestURIHash),
        .text("client_id", \.clientID),
        .json("parameters", \.parameters),
        .optionalJSON("request_object_claims", \.requestObjectClaims),
        .enumeration("profile", \.profile),
        .date("expires_at", \.expiresAt),
        .date("created_at", \.createdAt),
        .optionalDate("consumed_at", \.consumedAt),
        .optionalText("dpop_jkt", \.dpopJKT),
    ])

    init(row: StoredRow<PushedRequestRecord>) throws {
        self.init(
            requestURIHash: try row[\.requestURIHash], clientID: try row[\.clientID], parameters: try row[\.parameters],
            requestObjectClaims: try row[\.requestObjectClaims], profile: try row[\.profile], expiresAt: try row[\.expiresAt],
            createdAt: try row[\.createdAt], consumedAt: try row[\.consumedAt], dpopJKT: try row[\.dpopJKT])
    }
}
