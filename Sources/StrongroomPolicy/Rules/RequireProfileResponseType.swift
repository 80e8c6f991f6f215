import StrongroomCore

/// `response_type` must be one the profile allows; `code` alone only with JARM where required.
public struct RequireProfileResponseType: Rule {
    public let clause: String
    let allowed: [ResponseType]
    let codeRequiresJARM: Bool
    public init(allowed: [ResponseType], codeRequiresJARM: Bool, clause: String) {
        self.allowed = allowed; self.codeRequiresJARM = codeRequiresJARM; self.clause = clause
    }
    public func constrain(_ p: inout ProfileRequirements) {
        p.responseTypes = (p.responseTypes ?? allowed).filter(allowed.contains)
        p.codeRequiresJARM = p.codeRequiresJARM || codeRequiresJARM
    }
    public func checkAuthorization(_ f: AuthorizationFacts) throws(OAuthError) {
        guard allowed.contains(f.responseType) else {
            throw fail(.unsupportedResponseType, "response_type must be \(allowed.map(\.rawValue).joined(separator: " or "))")
        }
        if codeRequiresJARM && f.responseType == .code && !(f.responseMode?.isJARM ?? false) {
            throw fail(.invalidRequest, "response_type code requires a JARM response_mode (jwt)")
        }
    }
    public func violations(of c: ClientMetadata, _ ctx: ConformanceContext) -> [Violation] {
        guard c.grantTypes.contains(.authorizationCode) else { return [] }
        var out: [Violation] = []
        if !c.responseTypes.contains(where: allowed.contains) {
            out.append(violation(ctx, "response_types", "none of \(c.responseTypes.map(\.rawValue)) is allowed for \(ctx.label) scopes; use \(allowed.map(\.rawValue).joined(separator: " or "))"))
        }
        if codeRequiresJARM, c.responseTypes == [.code], c.authorizationSignedResponseAlg == nil {
            out.append(violation(ctx, "authorization_signed_response_alg", "response type 'code' needs JARM for \(ctx.label) scopes: set authorization_signed_response_alg"))
        }
        return out
    }
    public func violations(of s: ServiceSettings, _ ctx: ConformanceContext) -> [Violation] {
        let usable = allowed.filter { s.responseTypes.contains($0) && ($0 != .code || !codeRequiresJARM || s.responseModes.contains(where: \.isJARM)) }
        guard usable.isEmpty else { return [] }
        let what = codeRequiresJARM ? allowed.map { $0 == .code ? "'code' with a JARM response mode" : "'\($0.rawValue)'" } : allowed.map { "'\($0.rawValue)'" }
        return [violation(ctx, "response_types", "offer \(what.joined(separator: " or ")) for \(ctx.label)")]
    }
}
