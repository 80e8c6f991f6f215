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
}
