import StrongroomCore

/// PKCE with S256: required always (Baseline, FAPI 2.0), or for public clients and PAR (Advanced);
/// `plain` refused whenever a FAPI profile applies. With `.optional` it only checks that a
/// challenge that is sent is well formed (RFC 7636 §4.2).
public struct RequirePKCES256: Rule {
    public let clause: String
    let requirement: ProfileRequirements.PKCE
    public init(_ requirement: ProfileRequirements.PKCE) {
        self.requirement = requirement
        switch requirement {
        case .requiredS256ForPublicOrPAR: clause = "FAPI 1.0 Part 2 §5.2.2-18"
        case .requiredS256: clause = "FAPI 1.0 Part 1 §5.2.2-7"
        case .optional: clause = "RFC 7636 §4.3"
        }
    }
    public func constrain(_ p: inout ProfileRequirements) { p.pkce = .strictest(p.pkce, requirement) }
    public func checkAuthorization(_ f: AuthorizationFacts) throws(OAuthError) {
        let required: Bool
        switch requirement {
        case .optional: required = false
        case .requiredS256: required = true
        case .requiredS256ForPublicOrPAR: required = f.client.isPublic || f.viaPAR
        }
        guard let challenge = f.codeChallenge else {
            if required { throw fail(.invalidRequest, "code_challenge is required (PKCE with S256)") }
            if f.codeChallengeMethod != nil { throw fail(.invalidRequest, "code_challenge_method without code_challenge") }
            return
        }
        let method = f.codeChallengeMethod ?? "plain"
        if requirement != .optional && method != "S256" {
            throw fail(.invalidRequest, "code_challenge_method must be S256")
        }
        guard method == "S256" || method == "plain" else { throw fail(.invalidRequest, "unsupported code_challenge_method") }
        // RFC 7636 §4.2: 43–128 characters of [A-Z a-z 0-9 - . _ ~].
        let ok = (43...128).contains(challenge.count) && challenge.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-._~".contains($0)) }
        guard ok else { throw fail(.invalidRequest, "code_challenge is malformed") }
    }
}
