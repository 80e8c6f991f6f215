import StrongroomCore
import StrongroomPolicy

/// Stage 5: the OpenID Connect parameters, and the validated authorization the pages and the
/// code issuance work from.
enum ValidatedAuthorizationStage {
    static func build(_ decided: ProfileDecisionStage, _ redirect: RedirectTargetStage, scopes: [String], client: Client,
                      service: ServiceSettings) throws(AuthorizationFailure) -> ValidatedAuthorization {
        let params = decided.parameters
        let prompt = (params["prompt"] ?? "").split(separator: " ").map(String.init)
        for p in prompt where !["none", "login", "consent", "select_account"].contains(p) {
            throw redirect.redirect(.invalidRequest("prompt value \(ErrorText.quoted(p)) is not supported"))
        }
        if prompt.contains("none") && prompt.count > 1 { throw redirect.redirect(.invalidRequest("prompt=none must stand alone")) }
        var maxAge: Int? = nil
        if let m = params["max_age"] {
            guard let v = Int(m), v >= 0 else { throw redirect.redirect(.invalidRequest("max_age must be a non-negative integer")) }
            maxAge = v
        }
        var claims: JSONValue? = nil
        if let c = params["claims"] {
            guard let parsed = JSONValue.parse(c), parsed.objectValue != nil else { throw redirect.redirect(.invalidRequest("claims must be a JSON object")) }
            claims = parsed
        }
        var acrValues = (params["acr_values"] ?? "").split(separator: " ").map(String.init)
        var essentialACR = false
        if let acr = claims?["id_token"]?["acr"] {
            if acr["essential"]?.boolValue == true { essentialACR = true }
            let values = (acr["values"]?.arrayValue?.compactMap(\.stringValue) ?? []) + [acr["value"]?.stringValue].compactMap { $0 }
            acrValues = values + acrValues.filter { !values.contains($0) }
        }
        if essentialACR && !acrValues.isEmpty && !acrValues.contains(where: service.acrValues.contains) {
            // OIDC Core §5.5.1.1: an essential acr that cannot be met is a failed authentication.
            throw redirect.redirect(.init(.accessDenied, "none of the requested acr values can be satisfied"))
        }
        let target = redirect.target
        return ValidatedAuthorization(
            clientID: client.clientID, redirectURI: target.redirectURI, responseType: redirect.responseType, responseMode: target.responseMode,
            scopes: scopes, state: target.state, nonce: params["nonce"], codeChallenge: params["code_challenge"],
            codeChallengeMethod: params["code_challenge"] != nil ? (params["code_challenge_method"] ?? "plain") : nil,
            prompt: prompt, maxAge: maxAge, acrValues: acrValues, essentialACR: essentialACR, claims: claims,
            loginHint: params["login_hint"], profile: decided.profile, profiles: decided.decision.profiles.sorted(),
            profileReason: decided.decision.reason, parHash: nil, dpopJKT: params["dpop_jkt"], browserHash: nil,
            redirectURIPresent: redirect.redirectURIPresent)
    }
}
