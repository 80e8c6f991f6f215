import StrongroomCore

/// Authorization responses are signed (JARM): the request asks for a JWT response mode, the
/// client registers the algorithm, the service offers a JARM mode.
public struct RequireJARMResponseMode: Rule {
    public let clause = "FAPI 2.0 Message Signing (signed authorization responses, JARM)"
    public init() {}
    public func checkAuthorization(_ f: AuthorizationFacts) throws(OAuthError) {
        guard !(f.responseMode?.isJARM ?? false) else { return }
        throw fail(.invalidRequest, "a JARM response_mode (jwt, query.jwt, fragment.jwt or form_post.jwt) is required")
    }
    public func violations(of c: ClientMetadata, _ ctx: ConformanceContext) -> [Violation] {
        guard c.authorizationSignedResponseAlg == nil else { return [] }
        return [violation(ctx, "authorization_signed_response_alg", "must be set for \(ctx.label) scopes: authorization responses are signed (JARM)")]
    }
    public func violations(of s: ServiceSettings, _ ctx: ConformanceContext) -> [Violation] {
        guard !s.responseModes.contains(where: \.isJARM) else { return [] }
        return [violation(ctx, "response_modes", "offer a JARM response mode for \(ctx.label)")]
    }
}
