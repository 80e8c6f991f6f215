import Foundation
import StrongroomCore
import StrongroomJOSE
import StrongroomPolicy
import StrongroomStorage

/// How an access token was presented (RFC 6750 §2.1, RFC 9449 §7.1).
enum TokenScheme: Equatable {
    case bearer
    case dpop
}

extension Engine {
    /// The `DPoP` proof of a request to the endpoint it was sent to, verified (RFC 9449 §4.3), or
    /// nil when the request has none. `htu` is compared with the public URL of the endpoint on
    /// the listener the request came in on; `accessToken` (at protected endpoints) must match `ath`.
    /// Refusals are `invalid_dpop_proof` or `use_dpop_nonce`, for the caller to answer on its channel.
    func dpopProof(_ request: TransportRequest, accessToken: String? = nil) async throws(OAuthError) -> DPoPProof? {
        let headers = request.headers("dpop")
        guard !headers.isEmpty else { return nil }
        return try await dpop.verify(headers, method: request.method, url: urls.url(request.path, listener: request.listener),
                                     accessToken: accessToken, requireNonce: service.dpopNonceRequired)
    }

    /// `DPoP-Nonce` on every answer of an endpoint that takes proofs when nonces are required
    /// (RFC 9449 §8.2: also on successful responses, so a client always holds a fresh one).
    func withDPoPNonce(_ response: EngineResponse) -> EngineResponse {
        guard service.dpopNonceRequired else { return response }
        var r = response
        r.headers.append(Param("DPoP-Nonce", dpop.currentNonce))
        return r
    }

    /// RFC 9449 §7.1 at a protected endpoint: a DPoP-bound token needs the `DPoP` scheme and a
    /// proof by its key tied to it (`ath`); a token that is not DPoP-bound is refused under the
    /// `DPoP` scheme. Either way the answer carries the `DPoP` challenge, whose
    /// `protectedResourceError` gives these refusals their 401.
    func checkDPoPBinding(_ record: TokenRecord, token: String, scheme: TokenScheme, request: TransportRequest) async throws(OAuthError) {
        guard record.dpopJKT != nil else {
            if scheme == .dpop { throw OAuthError(.invalidToken, "the access token is not DPoP-bound: use the Bearer scheme") }
            return
        }
        guard scheme == .dpop else {
            throw OAuthError(.invalidToken, "the access token is DPoP-bound: present it with the DPoP scheme and a proof",
                             rule: "RFC 9449 sec. 7.1")
        }
        switch DPoPBinding.check(bound: record.dpopJKT, presented: try await dpopProof(request, accessToken: token)) {
        case .satisfied: break
        case .missing:
            throw OAuthError(.invalidToken, "a DPoP proof is required with a DPoP-bound access token", rule: "RFC 9449 sec. 7.1")
        case .other:
            throw OAuthError(.invalidToken, "the DPoP proof is not signed by the key the access token is bound to", rule: "RFC 9449 sec. 7.1")
        }
    }

    /// The RFC 9449 §7.1 challenge of a protected endpoint: `DPoP` with the accepted algorithms.
    var dpopChallengeAlgorithms: String { dpop.allowed.map(\.rawValue).joined(separator: " ") }
}
