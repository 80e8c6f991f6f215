import Foundation
import StrongroomCore
import StrongroomJOSE
import StrongroomStorage

/// DPoP proofs (RFC 9449) with what they need beyond the stateless checks: the shared replay
/// store (a proof's `jti` is single-use across every node, keyed by the key's thumbprint, for as
/// long as its `iat` window plus the skew) and server nonces.
///
/// Nonces are stateless: the keyed hash (`secret_hash_key`, the same on every node) of the
/// current time window, so any node can check one any other node handed out; the current and
/// the previous window are accepted, so a nonce lives between one and two windows.
struct DPoPVerifier: Sendable {
    let replay: any ReplayCache
    let hasher: SecretHasher
    let clock: any TimeSource
    let allowed: [JWSAlgorithm]
    let skew: TimeInterval
    /// How old a proof's `iat` may be.
    static let maxAge: TimeInterval = 300
    static let nonceWindow: TimeInterval = 300

    init(replay: any ReplayCache, hasher: SecretHasher, clock: any TimeSource, allowed: [JWSAlgorithm], skew: Int) {
        self.replay = replay
        self.hasher = hasher
        self.clock = clock
        self.allowed = allowed.filter { $0 != .none && !$0.isSymmetric }
        self.skew = TimeInterval(skew)
    }

    func nonce(window offset: Int = 0) -> String {
        let window = Int((clock.now().timeIntervalSince1970 / Self.nonceWindow).rounded(.down)) + offset
        return hasher.hash("dpop-nonce|\(window)")
    }

    /// The nonce to hand out now (`DPoP-Nonce`).
    var currentNonce: String { nonce() }

    func isCurrent(_ nonce: String) -> Bool {
        constantTimeEquals(nonce, self.nonce()) || constantTimeEquals(nonce, self.nonce(window: -1))
    }

    /// Verifies the `DPoP` header of a request: the stateless checks, the server nonce when
    /// `requireNonce`, and single use of its `jti`. Refusals are `invalid_dpop_proof` (or
    /// `use_dpop_nonce`, RFC 9449 §8), for the caller to answer on its channel.
    func verify(_ headers: [String], method: String, url: String, accessToken: String?, requireNonce: Bool) async throws(OAuthError) -> DPoPProof {
        guard headers.count == 1, let header = headers.first else {
            throw OAuthError(.invalidDPoPProof, headers.isEmpty ? "a DPoP proof is required" : "exactly one DPoP header is allowed")
        }
        let now = clock.now()
        let proof: DPoPProof
        do {
            proof = try DPoPProofVerifier.verify(header, method: method, url: url, accessToken: accessToken, allowed: allowed,
                                                 now: now, maxAge: Self.maxAge, skew: skew)
        } catch {
            throw OAuthError(.invalidDPoPProof, error.description)
        }
        if requireNonce {
            guard let n = proof.nonce, isCurrent(n) else {
                throw OAuthError(.useDPoPNonce, proof.nonce == nil ? "a DPoP nonce is required" : "the DPoP nonce is not current")
            }
        }
        let fresh: Bool
        do {
            fresh = try await replay.remember(namespace: "dpop:" + proof.thumbprint, value: proof.jti,
                                              expiresAt: proof.issuedAt.addingTimeInterval(Self.maxAge + 2 * skew), now: now)
        } catch {
            throw OAuthError.failure(error, "DPoP replay store")
        }
        guard fresh else { throw OAuthError(.invalidDPoPProof, "the DPoP proof has been used before (jti replay)") }
        return proof
    }
}
