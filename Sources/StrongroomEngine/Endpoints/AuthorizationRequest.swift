import Foundation
import StrongroomCore
import StrongroomJOSE
import StrongroomPolicy
import StrongroomStorage

/// A validated authorization request: everything needed to answer it after login and consent.
/// Stored (as JSON) with the interaction while the user is on the pages.
struct ValidatedAuthorization: Codable, Sendable, Equatable {
    var clientID: String
    var redirectURI: String
    var responseType: ResponseType
    var responseMode: ResponseMode
    var scopes: [String]
    var state: String?
    var nonce: String?
    var codeChallenge: String?
    var codeChallengeMethod: String?
    var prompt: [String]
    var maxAge: Int?
    var acrValues: [String]
    var essentialACR: Bool
    var claims: JSONValue?
    var loginHint: String?
    var profile: Profile
    /// Every profile the request selects (their rules all applied); nil in interactions stored
    /// before it existed, meaning `[profile]`.
    var profiles: [Profile]?
    var profileReason: String
    /// Hash of the PAR `request_uri`, consumed when the code is issued.
    var parHash: String?
    var dpopJKT: String?
    /// Keyed hash of the browser-binding cookie of the browser that started the request.
    var browserHash: String?
    /// Whether `redirect_uri` was in the request (then the token request must repeat it, RFC 6749 §4.1.3).
    var redirectURIPresent: Bool?
}

/// Why an authorization request failed, and whether the error may go back to the client.
enum AuthorizationFailure: Error {
    /// `client_id` or `redirect_uri` not validated: show an error page, never redirect.
    case page(OAuthError, profile: Profile?)
    /// Redirect the error to the validated redirect URI.
    case redirect(OAuthError, RedirectTarget)
}

/// Where and how an authorization response (or error) is delivered.
struct RedirectTarget: Sendable {
    var client: Client
    var redirectURI: String
    var responseMode: ResponseMode
    var state: String?
    var profile: Profile
}

/// Which front door the request came through.
enum AuthorizationChannel {
    case authorizationEndpoint
    case pushed
}

extension Engine {
    static let parURNPrefix = "urn:ietf:params:oauth:request_uri:"

    /// Validates an authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.2, RFC 9101, RFC 9126,
    /// the rules of every selected profile) in stages, each a type of its own in `Authorization/`:
    /// raw parameters → `ResolvedParameters` (request object verified, sources known) →
    /// `ProfileDecisionStage` (profiles and their rules) → `RedirectTargetStage` (where the
    /// answer goes; errors before it are pages) → `RuleStage` → `ValidatedAuthorizationStage`.
    /// Used by the authorization endpoint and, for pushed requests, by the PAR endpoint (which
    /// reports every failure as JSON).
    func validateAuthorization(outer: [Param], client: Client, channel: AuthorizationChannel,
                               pushed: PushedRequestRecord? = nil) async throws(AuthorizationFailure) -> ValidatedAuthorization {
        let resolved = try await ResolvedParameters.resolve(
            outer: outer, client: client, channel: channel, pushed: pushed, now: now,
            verify: { (compact, client) async throws(OAuthError) -> VerifiedJWS in
                let verified = try await self.verifyRequestObject(compact, client: client)
                try await self.refuseSpentAssertionAsRequestObject(verified.payload, clientID: client.clientID)
                return verified
            })
        let decided = ProfileDecisionStage.decide(resolved, client: client, selector: selector(), ruleBook: ruleBook)
        let redirect = try RedirectTargetStage.resolve(decided, client: client, service: service)
        let scopes = try RuleStage.check(decided, redirect, resolved: resolved, client: client, channel: channel, pushed: pushed != nil,
                                         service: service, clockSkew: service.clockSkew)
        return try ValidatedAuthorizationStage.build(decided, redirect, scopes: scopes, client: client, service: service)
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
            let keys = try await jwksFetcher.keys(for: client.metadata)
            return try JWSVerifier.verify(jws, keys: keys, policy: policy)
        } catch let e as OAuthError {
            throw OAuthError.invalidRequestObject("The request object could not be verified.", detail: e.detail ?? e.errorDescription)
        } catch {
            throw OAuthError.invalidRequestObject("The request object could not be verified.", detail: "\(error)")
        }
    }
}
