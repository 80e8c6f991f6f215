import StrongroomCore

/// A client assertion's `aud` is exactly the issuer, as a single value (an array, even of the
/// issuer alone, or an endpoint URL is refused), at the PAR, token and introspection endpoints
/// alike. Judged from every profile the client can be held to, as soon as the assertion is
/// verified: at the token endpoint the request's own profile is only known from the code or
/// refresh token the request would spend.
public struct RequireAssertionAudienceIssuer: Rule {
    public let clause = "FAPI 2.0 Security Profile §5.3.2.1"
    public init() {}
    public func constrain(_ p: inout ProfileRequirements) { p.assertionAudienceMustBeIssuer = true }
    public func checkClientAssertion(_ f: ClientAuthenticationFacts) throws(OAuthError) {
        guard f.assertionAlgorithm != nil, !(f.assertionAudienceIsString && f.assertionAudiences == [f.issuer]) else { return }
        throw fail(.invalidClient, "The client assertion's aud must be the issuer.")
    }
}
