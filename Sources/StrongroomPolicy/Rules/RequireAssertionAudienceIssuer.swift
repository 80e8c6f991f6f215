import StrongroomCore

/// A client assertion's `aud` is exactly the issuer, as a single value.
public struct RequireAssertionAudienceIssuer: Rule {
    public let clause = "FAPI 2.0 Security Profile §5.3.2.1"
    public init() {}
    public func constrain(_ p: inout ProfileRequirements) { p.assertionAudienceMustBeIssuer = true }
    public func checkClientAuthentication(_ f: ClientAuthenticationFacts) throws(OAuthError) {
        guard f.assertionAlgorithm != nil, f.assertionAudiences != [f.issuer] else { return }
        throw fail(.invalidClient, "The client assertion's aud must be the issuer.")
    }
}
