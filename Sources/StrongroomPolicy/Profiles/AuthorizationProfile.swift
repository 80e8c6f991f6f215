import StrongroomCore

/// The authorization endpoint's ordered checks for each profile, built from `ProfileRequirements`.
public enum AuthorizationProfile {
    public static func checks(for profile: Profile, service: ServiceSettings) -> CheckList<AuthorizationFacts> {
        checks(for: [profile], service: service)
    }

    /// The checks of a request that selects all of `profiles`: built from their union, so each
    /// profile's checks are all present.
    public static func checks(for profiles: Set<Profile>, service: ServiceSettings) -> CheckList<AuthorizationFacts> {
        let r = ProfileRequirements.union(profiles)
        let profile = r.profile
        var list: [any Check<AuthorizationFacts>] = []
        if !r.allowsPublicClients { list.append(RejectPublicClients(clause: profile == .fapi1Advanced ? "FAPI 1.0 Part 2 §5.2.2-16" : "FAPI 2.0 Security Profile §5.3.2.1")) }
        if r.requirePAR { list.append(RequirePushedAuthorizationRequest()) }
        if r.requireRedirectURIInRequest { list.append(RequireRedirectURIInRequest()) }
        if r.requireHTTPSRedirectURIs { list.append(RequireHTTPSRedirectURI()) }
        if r.requireSignedRequestObject {
            list.append(RequireSignedRequestObject())
            list.append(RequireRequestObjectAlgorithm(allowed: r.permitted(service.algorithms.requestObject)))
            list.append(RequireRequestObjectExp())
            let maxLifetime = min(r.requestObjectMaxLifetime ?? 3600, service.requestObjectMaxLifetime)
            list.append(RequireRequestObjectNbf(maxAge: maxLifetime))
            list.append(RequireRequestObjectLifetime(maxLifetime: maxLifetime))
            list.append(RequireRequestObjectAudience(issuer: service.issuer))
        }
        if let allowed = r.responseTypes {
            list.append(RequireProfileResponseType(allowed: allowed, codeRequiresJARM: r.codeRequiresJARM,
                                                   clause: profile == .fapi1Advanced ? "FAPI 1.0 Part 2 §5.2.2-2" : "FAPI 2.0 Security Profile §5.3.2.2-1"))
        }
        list.append(RequireOpenIDForIDToken())
        list.append(RequirePKCEForPublicClients())
        list.append(RequirePKCES256(r.pkce))
        list.append(RefusePlainPKCEUnlessAllowed(allowPlain: service.allowPlainPKCE))
        if r.requireStateWithoutOpenID { list.append(RequireStateWithoutOpenID()) }
        if r.requireNonceForFrontChannelIDToken { list.append(RequireNonceForFrontChannelIDToken()) }
        if r.requireNonceWithOpenID { list.append(RequireNonceWithOpenID()) }
        return CheckList(list)
    }
}
