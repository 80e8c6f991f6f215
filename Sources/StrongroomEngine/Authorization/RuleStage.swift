import StrongroomCore
import StrongroomPolicy

/// Stage 4: what the service and the client allow, then every rule of the selected profiles.
/// Every failure is redirected to the validated redirect URI.
enum RuleStage {
    static func check(_ decided: ProfileDecisionStage, _ redirect: RedirectTargetStage, resolved: ResolvedParameters,
                      client: Client, channel: AuthorizationChannel, pushed: Bool, service: ServiceSettings,
                      clockSkew: Int) throws(AuthorizationFailure) -> [String] {
        let params = decided.parameters
        let responseType = redirect.responseType
        let rtValue = responseType.rawValue
        guard service.responseTypes.contains(responseType) else {
            throw redirect.redirect(.init(.unsupportedResponseType, "response_type \(ErrorText.quoted(rtValue)) is not supported"))
        }
        guard client.metadata.responseTypes.contains(responseType) else {
            throw redirect.redirect(.unauthorizedClient("this client is not registered for response_type \(ErrorText.quoted(rtValue))"))
        }
        if let unsupported = decided.decision.profiles.union([decided.profile]).sorted().first(where: { !service.supportedProfiles.contains($0) }) {
            throw redirect.redirect(.invalidScope("the requested scopes select \(unsupported.displayName), which this service does not support"))
        }
        // Scopes must be supported and allowed for the client.
        let scopes = parseScopes(params["scope"])
        for s in scopes {
            if service.scope(named: s) == nil { throw redirect.redirect(.invalidScope("scope \(ErrorText.quoted(s)) is not supported")) }
            if let allowed = client.metadata.allowedScopes, !allowed.contains(s) {
                throw redirect.redirect(.invalidScope("scope \(ErrorText.quoted(s)) is not allowed for this client"))
            }
        }
        if channel == .authorizationEndpoint && !pushed {
            if service.requirePushedAuthorizationRequests || client.metadata.requirePushedAuthorizationRequests {
                throw redirect.redirect(.invalidRequest("this client must use pushed authorization requests"))
            }
        }
        if client.metadata.requireSignedRequestObject && resolved.requestObject == nil {
            throw redirect.redirect(.invalidRequest("this client must send a signed request object"))
        }
        let facts = AuthorizationFacts(
            clientID: client.clientID, client: client.metadata, responseType: responseType, responseMode: redirect.requestedMode,
            redirectURIPresent: redirect.redirectURIPresent, redirectURI: redirect.target.redirectURI, scopes: scopes,
            state: params["state"], nonce: params["nonce"], codeChallenge: params["code_challenge"],
            codeChallengeMethod: params["code_challenge_method"], viaPAR: resolved.viaPAR, requestObject: resolved.requestObject?.facts,
            now: resolved.decisionTime, clockSkew: clockSkew)
        do { try decided.rules.checkAuthorization(facts) } catch { throw redirect.redirect(error) }
        return scopes
    }
}
