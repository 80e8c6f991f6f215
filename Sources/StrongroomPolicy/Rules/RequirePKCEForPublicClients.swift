import StrongroomCore

/// RFC 9700 §2.1.1: a public client's code request carries PKCE, whatever the profile.
public struct RequirePKCEForPublicClients: Rule {
    public let clause = "RFC 9700 §2.1.1"
    public init() {}
    public func checkAuthorization(_ f: AuthorizationFacts) throws(OAuthError) {
        guard f.client.isPublic, f.responseType.includesCode, f.codeChallenge == nil else { return }
        throw fail(.invalidRequest, "code_challenge is required for public clients (PKCE, RFC 9700 §2.1.1)")
    }
}
