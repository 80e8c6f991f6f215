import StrongroomCore

/// RFC 9700 §2.1.1 / RFC 7636 §4.2: `plain` gives no protection if the request leaks; it is
/// refused unless the operator allowed it (`service.allow_plain_pkce`).
public struct RefusePlainPKCEUnlessAllowed: Rule {
    public let clause = "RFC 9700 §2.1.1"
    let allowPlain: Bool
    public init(allowPlain: Bool) { self.allowPlain = allowPlain }
    public func checkAuthorization(_ f: AuthorizationFacts) throws(OAuthError) {
        guard !allowPlain, f.codeChallenge != nil, (f.codeChallengeMethod ?? "plain") == "plain" else { return }
        throw fail(.invalidRequest, "code_challenge_method plain is not allowed")
    }
}
