import StrongroomCore

/// The authorization endpoint's rules for one profile or several (their union, `RuleSet`).
public enum AuthorizationProfile {
    public static func checks(for profile: Profile, service: ServiceSettings) -> RuleSet {
        RuleSet(profiles: [profile], service: service)
    }

    public static func checks(for profiles: Set<Profile>, service: ServiceSettings) -> RuleSet {
        RuleSet(profiles: profiles, service: service)
    }
}

extension RuleSet {
    /// The authorization face of every rule, in order (`RuleSet.checkAuthorization`).
    public func evaluate(_ f: AuthorizationFacts) throws(OAuthError) { try checkAuthorization(f) }
}
