import StrongroomCore
import StrongroomJOSE
import StrongroomStorage

/// Keeps the two kinds of JWT a client signs with the same key apart, so that one can never be
/// accepted as the other (cross-JWT confusion, RFC 8725 §2.8 and §3.11):
///
/// - a client assertion (RFC 7523) names the server in `aud`, carries `sub` = client_id and no
///   authorization request parameters; if typed, its `typ` is `client-authentication+jwt`
///   (draft-ietf-oauth-rfc7523bis) or plain `JWT`;
/// - a request object (RFC 9101) carries authorization request parameters; if typed, its `typ` is
///   `oauth-authz-req+jwt` (RFC 9101 §4) or plain `JWT`; and an identifier (`jti`) already spent
///   as a client assertion is never accepted as a request object.
///
/// Explicit typing cannot be required of FAPI 1.0 clients (the conformance suite's request objects
/// carry no `typ`), so the claim rules carry the weight where a `typ` is absent.
enum JWTKind {
    static let assertionTypes: Set<String> = ["client-authentication+jwt", "jwt"]
    static let requestObjectTypes: Set<String> = ["oauth-authz-req+jwt", "jwt"]
    /// Authorization request parameters: any one of them marks a JWT as a request object.
    static let authorizationParameters: Set<String> = [
        "response_type", "redirect_uri", "scope", "state", "nonce", "code_challenge", "code_challenge_method", "response_mode",
        "claims", "prompt", "request", "request_uri", "max_age", "acr_values", "login_hint", "dpop_jkt",
    ]

    static func normalised(_ typ: String?) -> String? {
        guard var t = typ?.lowercased() else { return nil }
        if t.hasPrefix("application/") { t.removeFirst("application/".count) }
        return t
    }

    /// Refuses a client assertion that is typed, or shaped, as a request object.
    static func checkAssertion(_ jws: UnverifiedJWS) throws(OAuthError) {
        if let typ = normalised(jws.typ), !assertionTypes.contains(typ) {
            throw OAuthError.invalidClient("The client assertion's typ must be client-authentication+jwt or JWT.",
                                           rule: "SeparateClientAssertionsFromRequestObjects (RFC 8725 sec. 3.11)")
        }
        if jws.payload.keys.contains(where: authorizationParameters.contains) {
            throw OAuthError.invalidClient("A client assertion must not carry authorization request parameters.",
                                           rule: "SeparateClientAssertionsFromRequestObjects (RFC 8725 sec. 3.11)")
        }
    }

    /// Refuses a request object that is typed, or shaped, as a client assertion.
    static func checkRequestObject(_ jws: UnverifiedJWS) throws(OAuthError) {
        if let typ = normalised(jws.typ), !requestObjectTypes.contains(typ) {
            throw OAuthError.invalidRequestObject("The request object's typ must be oauth-authz-req+jwt or JWT.",
                                                  rule: "SeparateClientAssertionsFromRequestObjects (RFC 9101 sec. 10.8)")
        }
        if !jws.payload.keys.contains(where: { authorizationParameters.contains($0) || $0 == "client_id" }) {
            throw OAuthError.invalidRequestObject("The request object carries no authorization request parameters.",
                                                  rule: "SeparateClientAssertionsFromRequestObjects (RFC 9101 sec. 10.8)")
        }
    }
}
