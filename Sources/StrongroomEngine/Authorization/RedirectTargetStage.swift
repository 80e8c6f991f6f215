import StrongroomCore
import StrongroomPolicy

/// Stage 3: where the answer goes. Until the redirect URI is validated every failure is an error
/// page; from here on errors go back to the client, in the response mode the request asked for.
struct RedirectTargetStage: Sendable {
    var target: RedirectTarget
    var redirectURIPresent: Bool
    var responseType: ResponseType
    /// The `response_mode` the request named, if any (before `jwt` is resolved).
    var requestedMode: ResponseMode?

    static func resolve(_ stage: ProfileDecisionStage, client: Client, service: ServiceSettings) throws(AuthorizationFailure) -> RedirectTargetStage {
        let params = stage.parameters
        let profile = stage.profile
        // The redirect URI: exact match against the registered list; required where the rules say so.
        let registered = client.metadata.redirectURIs
        let redirectURI: String
        let redirectPresent = params["redirect_uri"] != nil
        if let r = params["redirect_uri"] {
            guard registered.contains(r) else { throw .page(.invalidRequest("redirect_uri is not registered for this client"), profile: profile) }
            redirectURI = r
        } else if let only = registered.first, registered.count == 1, !stage.rules.requirements.requireRedirectURIInRequest {
            redirectURI = only
        } else {
            throw .page(.invalidRequest("redirect_uri is required"), profile: profile)
        }

        let state = params["state"]
        let responseType = params["response_type"].flatMap(ResponseType.init(parsing:))
        var mode: ResponseMode? = nil
        var modeError: OAuthError? = nil
        if let m = params["response_mode"] {
            if let parsed = ResponseMode(rawValue: m), service.responseModes.contains(parsed) { mode = parsed }
            else { modeError = .invalidRequest("response_mode \(ErrorText.quoted(m)) is not supported") }
        }
        let defaultMode = responseType?.defaultResponseMode ?? .query
        var effectiveMode = mode ?? defaultMode
        if effectiveMode == .jwt { effectiveMode = defaultMode == .query ? .queryJWT : .fragmentJWT }
        var target = RedirectTarget(client: client, redirectURI: redirectURI, responseMode: effectiveMode, state: state, profile: profile)
        func redirect(_ e: OAuthError) -> AuthorizationFailure { .redirect(e.redirecting(), target) }

        if let modeError { target.responseMode = defaultMode; throw redirect(modeError) }
        guard let rtValue = params["response_type"] else { throw redirect(.invalidRequest("response_type is required")) }
        guard let responseType else {
            throw redirect(.init(.unsupportedResponseType, "response_type \(ErrorText.quoted(rtValue)) is not supported"))
        }
        if (effectiveMode == .query || effectiveMode == .queryJWT) && (responseType.includesIDToken || responseType.includesToken) {
            // Tokens never travel in the query; the error goes where this response type's answers go.
            target.responseMode = effectiveMode.isJARM ? .fragmentJWT : responseType.defaultResponseMode
            throw redirect(.invalidRequest("response_mode \(effectiveMode.rawValue) is not allowed with this response_type (OAuth 2.0 Multiple Response Types §5, JARM §2.3.1)"))
        }
        return RedirectTargetStage(target: target, redirectURIPresent: redirectPresent, responseType: responseType, requestedMode: mode)
    }

    func redirect(_ e: OAuthError) -> AuthorizationFailure { .redirect(e.redirecting(), target) }
}
