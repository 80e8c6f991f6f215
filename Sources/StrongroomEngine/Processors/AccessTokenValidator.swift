import Foundation
import StrongroomCore
import StrongroomJOSE
import StrongroomStorage

/// Judges access tokens presented at userinfo and the resource API, with what it uses: the token
/// store, the secret hasher, the client registry (a deleted client's tokens stop working), the
/// clock and the lineage revoker.
struct AccessTokenValidator: Sendable {
    let storage: any TokenStore
    let hasher: SecretHasher
    let clients: ClientRegistry
    let clock: any TimeSource
    let lineage: LineageRevoker

    var now: Date { clock.now() }

    /// Looks up, and checks expiry, revocation and certificate binding (RFC 8705 §3). Returns the
    /// token and the client it was issued to, read for the check (so callers need not read it again).
    func validate(_ token: String, request: TransportRequest) async throws(OAuthError) -> (record: TokenRecord, client: Client) {
        let record: TokenRecord
        do {
            guard let r = try await storage.token(hash: hasher.hash(token)), r.kind == .access else {
                throw OAuthError(.invalidToken, "the access token is invalid")
            }
            record = r
        } catch let e as OAuthError { throw e } catch { throw OAuthError.failure(error, "token lookup") }
        guard record.revokedAt == nil else { throw OAuthError(.invalidToken, "the access token has been revoked") }
        // RFC 7592 §2.3: a deleted client's tokens stop working.
        let found: Client?
        do { found = try await clients.lookup(record.clientID) } catch let e as OAuthError { throw e } catch { throw OAuthError.failure(error, "client lookup") }
        guard let owner = found else { throw OAuthError(.invalidToken, "the client of this access token no longer exists") }
        guard record.expiresAt > now else { throw OAuthError(.invalidToken, "the access token has expired") }
        if try await lineage.isRevoked(Lineage.of(codeID: record.codeID, familyID: record.familyID, grantID: record.grantID)) {
            throw OAuthError(.invalidToken, "the access token has been revoked")
        }
        switch CertificateBinding.check(bound: record.certificateThumbprint, presented: request.clientCertificate) {
        case .satisfied: break
        case .missing: throw OAuthError(.invalidToken, "this access token is certificate-bound: present the client certificate", rule: "RFC 8705 §3")
        case .other: throw OAuthError(.invalidToken, "the access token is bound to another certificate", rule: "RFC 8705 §3")
        }
        return (record, owner)
    }

}

/// Whether what a request presents matches what a token or code is bound to: nothing bound, or the
/// same thumbprint. Each caller answers a failure on its own channel.
enum BindingCheck {
    case satisfied, missing, other

    static func compare(bound: String?, presented: String?) -> BindingCheck {
        guard let bound else { return .satisfied }
        guard let presented else { return .missing }
        return constantTimeEquals(presented, bound) ? .satisfied : .other
    }
}

/// RFC 8705 §3: whether the certificate presented is the one a token is bound to. Access tokens
/// and refresh tokens answer a failure on their own channels (`invalid_token`, `invalid_grant`).
enum CertificateBinding {
    static func check(bound: String?, presented: ClientCertificate?) -> BindingCheck {
        .compare(bound: bound, presented: presented?.thumbprintS256)
    }
}

/// RFC 9449 §5, §7.1, §10: whether a DPoP proof is by the key a code, a refresh token or an access
/// token is bound to (`dpop_jkt`, `cnf.jkt`).
enum DPoPBinding {
    static func check(bound: String?, presented: DPoPProof?) -> BindingCheck {
        .compare(bound: bound, presented: presented?.thumbprint)
    }
}
