import Foundation
import StrongroomCore
import StrongroomJOSE
import StrongroomPolicy
import StrongroomStorage

/// Validates authorization requests, with what it uses: the service settings, the clients' keys
/// (request object signatures), the shared replay store (a spent assertion `jti` is never a
/// request object), the clock and the rules.
struct AuthorizationValidator: Sendable {
    let service: ServiceSettings
    let keys: ClientKeyResolver
    let replay: any ReplayCache
    let clock: any TimeSource
    let ruleBook: RuleBook

    var selector: ProfileSelector { ProfileSelector(service: service) }

    /// Validates an authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.2, RFC 9101, RFC 9126,
    /// the rules of every selected profile) in stages, each a type of its own in `Authorization/`:
    /// raw parameters → `ResolvedParameters` (request object verified, sources known) →
    /// `ProfileDecisionStage` (profiles and their rules) → `RedirectTargetStage` (where the
    /// answer goes; errors before it are pages) → `RuleStage` → `ValidatedAuthorizationStage`.
    /// Used by the authorization endpoint and, for pushed requests, by the PAR endpoint (which
    /// reports every failure as JSON).
    func validate(outer: [Param], client: Client, channel: AuthorizationChannel,
                  pushed: PushedRequestRecord? = nil) async throws(AuthorizationFailure) -> ValidatedAuthorization {
        let resolved = try await ResolvedParameters.resolve(
            outer: outer, client: client, channel: channel, pushed: pushed, now: clock.now(),
            verify: { (compact, client) async throws(OAuthError) -> VerifiedJWS in
                let verified = try await self.verifyRequestObject(compact, client: client)
                try await self.refuseSpentAssertionAsRequestObject(verified.payload, clientID: client.clientID)
                return verified
            })
        let decided = ProfileDecisionStage.decide(resolved, client: client, selector: selector, ruleBook: ruleBook)
        let redirect = try RedirectTargetStage.resolve(decided, client: client, service: service)
        let scopes = try RuleStage.check(decided, redirect, resolved: resolved, client: client, channel: channel, pushed: pushed != nil,
                                         service: service, clockSkew: service.clockSkew)
        var validated = try ValidatedAuthorizationStage.build(decided, redirect, scopes: scopes, client: client, service: service)
        // The key of the DPoP proof sent to /par binds the code as `dpop_jkt` would (RFC 9449 §10.1).
        if let bound = pushed?.dpopJKT { validated.dpopJKT = bound }
        return validated
    }

    /// Verifies a request object's signature with the client's keys (RFC 9101 §6.2): the algorithm
    /// from the client's registration and the service's allow-list, never from the header alone.
    func verifyRequestObject(_ compact: String, client: Client) async throws(OAuthError) -> VerifiedJWS {
        let jws: UnverifiedJWS
        do { jws = try UnverifiedJWS(compact: compact) } catch {
            throw OAuthError.invalidRequestObject("The request object is malformed.", detail: "\(error)")
        }
        if jws.algorithm == "none" { throw OAuthError.invalidRequestObject("Unsigned request objects (alg none) are not accepted.") }
        try JWTKind.checkRequestObject(jws)
        let allowed = service.algorithms.requestObject.filter { !$0.isSymmetric && $0 != .none }
        let policy = VerificationPolicy(allowedAlgorithms: allowed, requiredAlgorithm: client.metadata.requestObjectSigningAlg)
        do {
            let keys = try await self.keys.keys(for: client.metadata)
            return try JWSVerifier.verify(jws, keys: keys, policy: policy)
        } catch let e as OAuthError {
            throw OAuthError.invalidRequestObject("The request object could not be verified.", detail: e.detail ?? e.errorDescription)
        } catch {
            throw OAuthError.invalidRequestObject("The request object could not be verified.", detail: "\(error)")
        }
    }

    /// A request object whose `jti` was spent as this client's assertion is an assertion replayed
    /// in the front channel (`JWTKind`).
    func refuseSpentAssertionAsRequestObject(_ payload: [String: JSONValue], clientID: String) async throws(OAuthError) {
        guard let jti = payload["jti"]?.stringValue, !jti.isEmpty, jti.count <= 512 else { return }
        let spent: Bool
        do { spent = try await replay.isRemembered(namespace: "assertion:" + clientID, values: [jti], now: clock.now()) } catch {
            throw OAuthError.failure(error, "replay cache")
        }
        if spent {
            throw OAuthError.invalidRequestObject("The request object's jti was already used as a client assertion.",
                                                  rule: "SeparateClientAssertionsFromRequestObjects (RFC 9101 sec. 10.8)")
        }
    }
}
