import StrongroomCore
import StrongroomPolicy

/// Stage 2: which profiles the request falls under, and so which rules judge it.
struct ProfileDecisionStage: Sendable {
    var decision: ProfileSelector.Decision
    var rules: RuleSet
    /// The parameters the request is answered with (see `ResolvedParameters.effective`).
    var parameters: [String: String]
    var sources: [String: ParameterSource]

    var profile: Profile { decision.profile }

    /// Decides from every scope the request names, inside the request object and outside it: a
    /// scope left outside a request object can only add a profile, never remove one, and it is
    /// never granted when the rules take the request object's claims only. A request that names
    /// no scope at all is judged under every profile the client's scopes can select
    /// (`ProfileSelector.select`).
    static func decide(_ resolved: ResolvedParameters, client: Client, selector: ProfileSelector, ruleBook: RuleBook) -> ProfileDecisionStage {
        let decision = selector.select(scopes: resolved.namedScopes, client: client.metadata)
        let rules = ruleBook.rules(for: decision.profiles)
        let (values, sources) = resolved.effective(requestObjectOnly: rules.requirements.requireSignedRequestObject)
        return ProfileDecisionStage(decision: decision, rules: rules, parameters: values, sources: sources)
    }
}
