import Foundation
import StrongroomCore

/// `clients`: registered clients. `secret_for_hmac` (`client_secret_jwt` secrets) is sealed.
extension Client: TableRecord {
    static let schema = TableSchema<Client>("clients", primaryKey: ["client_id"], columns: [
        .text("client_id", \.clientID),
        .json("metadata", \.metadata, memo: metadataMemo),
        .optionalText("secret_hash", \.secretHash),
        .optionalSealedText("secret_for_hmac", \.secretForHMAC, rowID: \.clientID),
        .optionalDate("secret_expires_at", \.secretExpiresAt),
        .optionalText("registration_access_token_hash", \.registrationAccessTokenHash),
        .text("source", \.source),
        .date("created_at", \.createdAt).insertOnly(),
        .date("updated_at", \.updatedAt),
    ])

    /// Client metadata is decoded once per distinct stored text (see `DecodedJSONMemo`): at most 1,024
    /// texts and 4 MiB of them.
    static let metadataMemo = DecodedJSONMemo<ClientMetadata>(capacity: 1024, byteCapacity: 4 << 20)

    init(row: StoredRow<Client>) throws {
        self.init(
            clientID: try row[\.clientID], metadata: try row[\.metadata], secretHash: try row[\.secretHash],
            secretForHMAC: try row[\.secretForHMAC], secretExpiresAt: try row[\.secretExpiresAt],
            registrationAccessTokenHash: try row[\.registrationAccessTokenHash], source: try row[\.source],
            createdAt: try row[\.createdAt], updatedAt: try row[\.updatedAt])
    }
}
