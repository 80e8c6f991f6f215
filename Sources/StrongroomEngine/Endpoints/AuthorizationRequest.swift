import Foundation
import StrongroomCore
import StrongroomJOSE
import StrongroomPolicy
import StrongroomStorage

/// A validated authorization request: everything needed to answer it after login and consent.
/// Stored (as JSON) with the interaction while the user is on the pages.
struct ValidatedAuthorization: Codable, Sendable, Equatable {
    var clientID: String
    var redirectURI: String
    var responseType: ResponseType
    var responseMode: ResponseMode
    var scopes: [String]
    var state: String?
    var nonce: String?
    var codeChallenge: String?
    var codeChallengeMethod: String?
    var prompt: [String]
    var maxAge: Int?
    var acrValues: [String]
    var essentialACR: Bool
    var claims: JSONValue?
    var loginHint: String?
    var profile: Profile
    /// Every profile the request selects (their rules all applied); nil in interactions stored
    /// before it existed, meaning `[profile]`.
    var profiles: [Profile]?
    var profileReason: String
    /// Hash of the PAR `request_uri`, consumed when the code is issued.
    var parHash: String?
    var dpopJKT: String?
    /// Keyed hash of the browser-binding cookie of the browser that started the request.
    var browserHash: String?
    /// Whether `redirect_uri` was in the request (then the token request must repeat it, RFC 6749 §4.1.3).
    var redirectURIPresent: Bool?
}

/// Why an authorization request failed, and whether the error may go back to the client.
enum AuthorizationFailure: Error {
    /// `client_id` or `redirect_uri` not validated: show an error page, never redirect.
    case page(OAuthError, profile: Profile?)
    /// Redirect the error to the validated redirect URI.
    case redirect(OAuthError, RedirectTarget)
}

/// Where and how an authorization response (or error) is delivered.
struct RedirectTarget: Sendable {
    var client: Client
    var redirectURI: String
    var responseMode: ResponseMode
    var state: String?
    var profile: Profile
}

/// Which front door the request came through.
enum AuthorizationChannel {
    case authorizationEndpoint
    case pushed
}

extension Engine {
    static let parURNPrefix = "urn:ietf:params:oauth:request_uri:"
    static let maxParameterLength = 16_384

    /// Validates an authorization request from its parameters (RFC 6749 §4.1.1, OIDC Core §3.1.2.2,
    /// RFC 9101, RFC 9126, the profile's checks). Used by the authorization endpoint and, for
    /// pushed requests, by the PAR endpoint (which reports every failure as JSON).
    func validateAuthorization(outer: [Param], client: Client, channel: AuthorizationChannel,
                               pushed: PushedRequestRecord? = nil) async throws(AuthorizationFailure) -> ValidatedAuthorization {
        func page(_ e: OAuthError, _ p: Profile? = nil) -> AuthorizationFailure { .page(e, profile: p) }
        if let long = outer.first(where: { $0.value.utf8.count > Self.maxParameterLength }) {
            throw page(.invalidRequest("parameter \(ErrorText.quoted(long.name)) is too long"))
        }
        if let dup = outer.hasDuplicates() { throw page(.invalidRequest("parameter \(ErrorText.quoted(dup)) is repeated")) }
        var params = outer.dictionary
        var requestObject: RequestObjectFacts?
        var roClaims: [String: String]?
        var decisionTime = now

        if let pushed {
            // RFC 9126 §4: only the pushed parameters count; its request object is judged as of
            // the moment it was pushed.
            params = pushed.parameters
            decisionTime = pushed.createdAt
        }
        if params["request"] == nil, params["request_uri"] == nil {
            // no request object
        } else if let requestValue = params["request"] {
            if params["request_uri"] != nil { throw page(.invalidRequest("request and request_uri must not both be present")) }
            let verified: VerifiedJWS
            do {
                verified = try await verifyRequestObject(requestValue, client: client)
                try await refuseSpentAssertionAsRequestObject(verified.payload, clientID: client.clientID)
            } catch { throw page(error) }
            if let roClient = verified.payload["client_id"]?.stringValue, roClient != client.clientID {
                throw page(.invalidRequestObject("client_id in the request object does not match"))
            }
            if let iss = verified.payload["iss"]?.stringValue, iss != client.clientID {
                throw page(.invalidRequestObject("iss in the request object must be the client_id"))
            }
            if verified.payload["request"] != nil || verified.payload["request_uri"] != nil {
                throw page(.invalidRequestObject("a request object must not contain request or request_uri"))
            }
            requestObject = requestObjectFacts(verified.payload, algorithm: verified.algorithm)
            roClaims = Self.parameterStrings(verified.payload)
        } else if let uri = params["request_uri"] {
            if uri.hasPrefix(Self.parURNPrefix) {
                throw page(.init(.invalidRequestURI, "request_uri is unknown, expired or already used"))
            }
            throw page(.init(.requestURINotSupported, "only request_uri values from the PAR endpoint are accepted"))
        }

        // Decide the profile from every scope the request names, inside the request object and
        // outside it: a scope left outside a request object can only tighten the profile, never
        // loosen it, and it is never granted when the profile takes the request object's claims
        // only (FAPI 1.0 Part 2 §5.2.2-10). A request that names no scope at all is judged under
        // the strictest profile the client's scopes can select: leaving `scope` out is no way to
        // escape a profile (ProfileSelector.select).
        let namedScopes = parseScopes(roClaims?["scope"]) + parseScopes(params["scope"])
        let decision = selector().select(scopes: namedScopes, client: client.metadata)
        let profile = decision.profile
        let requirements = ProfileRequirements.union(decision.profiles)
        if let roClaims {
            if requirements.requireSignedRequestObject {
                // FAPI 1.0 Part 2 §5.2.2-10: only the request object's parameters are used.
                params = roClaims
            } else {
                // OIDC Core §6.3.3: request object values take precedence.
                params.merge(roClaims) { _, ro in ro }
                params["request"] = nil
            }
        }
        params["request_uri"] = nil

        // The redirect URI: required by FAPI, exact match against the registered list.
        let registered = client.metadata.redirectURIs
        let redirectURI: String
        let redirectPresent = params["redirect_uri"] != nil
        if let r = params["redirect_uri"] {
            guard registered.contains(r) else { throw page(.invalidRequest("redirect_uri is not registered for this client"), profile) }
            redirectURI = r
        } else if registered.count == 1 && !requirements.requireRedirectURIInRequest {
            redirectURI = registered[0]
        } else {
            throw page(.invalidRequest("redirect_uri is required"), profile)
        }

        // From here on, errors go back to the client.
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
        if requirements.requireSignedRequestObject, roClaims != nil, roClaims?["scope"] == nil {
            // FAPI 1.0 Part 2 §5.2.2-10: every parameter, scope included, comes from the request object.
            throw redirect(.invalidRequestObject("the request object must contain scope"))
        }
        if let ro = requestObject, !requirements.requireSignedRequestObject {
            // Whatever the profile, a request object's own time and audience claims hold (RFC 7519
            // §4.1.4/5, RFC 9101 §10.8); the FAPI profiles add the stricter checks.
            let skew = TimeInterval(service.clockSkew)
            if let exp = ro.exp, exp.addingTimeInterval(skew) <= decisionTime {
                throw redirect(.invalidRequestObject("the request object has expired"))
            }
            if let nbf = ro.nbf, nbf > decisionTime.addingTimeInterval(skew) {
                throw redirect(.invalidRequestObject("the request object is not yet valid"))
            }
            if !ro.audiences.isEmpty && !ro.audiences.contains(issuer) {
                throw redirect(.invalidRequestObject("the request object's aud must be the issuer \(issuer)"))
            }
        }
        if (effectiveMode == .query || effectiveMode == .queryJWT) && (responseType.includesIDToken || responseType.includesToken) {
            // Tokens never travel in the query; the error goes where this response type's answers go.
            target.responseMode = effectiveMode.isJARM ? .fragmentJWT : responseType.defaultResponseMode
            throw redirect(.invalidRequest("response_mode \(effectiveMode.rawValue) is not allowed with this response_type (OAuth 2.0 Multiple Response Types §5, JARM §2.3.1)"))
        }
        guard service.responseTypes.contains(responseType) else {
            throw redirect(.init(.unsupportedResponseType, "response_type \(ErrorText.quoted(rtValue)) is not supported"))
        }
        guard client.metadata.responseTypes.contains(responseType) else {
            throw redirect(.unauthorizedClient("this client is not registered for response_type \(ErrorText.quoted(rtValue))"))
        }
        if let unsupported = decision.profiles.union([profile]).sorted().first(where: { !service.supportedProfiles.contains($0) }) {
            throw redirect(.invalidScope("the requested scopes select \(unsupported.displayName), which this service does not support"))
        }

        // Scopes must be supported and allowed for the client.
        let scopes = parseScopes(params["scope"])
        for s in scopes {
            if service.scope(named: s) == nil { throw redirect(.invalidScope("scope \(ErrorText.quoted(s)) is not supported")) }
            if let allowed = client.metadata.allowedScopes, !allowed.contains(s) {
                throw redirect(.invalidScope("scope \(ErrorText.quoted(s)) is not allowed for this client"))
            }
        }
        if channel == .authorizationEndpoint && pushed == nil {
            if service.requirePushedAuthorizationRequests || client.metadata.requirePushedAuthorizationRequests {
                throw redirect(.invalidRequest("this client must use pushed authorization requests"))
            }
        }
        if client.metadata.requireSignedRequestObject && requestObject == nil {
            throw redirect(.invalidRequest("this client must send a signed request object"))
        }

        // The profile's ordered checks.
        let facts = AuthorizationFacts(
            clientID: client.clientID, client: client.metadata, responseType: responseType, responseMode: mode,
            redirectURIPresent: redirectPresent, redirectURI: redirectURI, scopes: scopes, state: state,
            nonce: params["nonce"], codeChallenge: params["code_challenge"], codeChallengeMethod: params["code_challenge_method"],
            viaPAR: pushed != nil || channel == .pushed, requestObject: requestObject, now: decisionTime, clockSkew: service.clockSkew)
        do {
            try AuthorizationProfile.checks(for: decision.profiles, service: service).evaluate(facts)
        } catch {
            // A request object that breaks a rule is refused as invalid_request_object whatever the channel.
            throw redirect(error)
        }

        // OIDC parameters.
        let prompt = (params["prompt"] ?? "").split(separator: " ").map(String.init)
        for p in prompt where !["none", "login", "consent", "select_account"].contains(p) {
            throw redirect(.invalidRequest("prompt value \(ErrorText.quoted(p)) is not supported"))
        }
        if prompt.contains("none") && prompt.count > 1 { throw redirect(.invalidRequest("prompt=none must stand alone")) }
        var maxAge: Int? = nil
        if let m = params["max_age"] {
            guard let v = Int(m), v >= 0 else { throw redirect(.invalidRequest("max_age must be a non-negative integer")) }
            maxAge = v
        }
        var claims: JSONValue? = nil
        if let c = params["claims"] {
            guard let parsed = JSONValue.parse(c), parsed.objectValue != nil else { throw redirect(.invalidRequest("claims must be a JSON object")) }
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
            throw redirect(.init(.accessDenied, "none of the requested acr values can be satisfied"))
        }

        return ValidatedAuthorization(
            clientID: client.clientID, redirectURI: redirectURI, responseType: responseType, responseMode: effectiveMode,
            scopes: scopes, state: state, nonce: params["nonce"], codeChallenge: params["code_challenge"],
            codeChallengeMethod: params["code_challenge"] != nil ? (params["code_challenge_method"] ?? "plain") : nil,
            prompt: prompt, maxAge: maxAge, acrValues: acrValues, essentialACR: essentialACR, claims: claims,
            loginHint: params["login_hint"], profile: profile, profiles: decision.profiles.sorted(), profileReason: decision.reason,
            parHash: nil, dpopJKT: params["dpop_jkt"], browserHash: nil, redirectURIPresent: redirectPresent)
    }

    func requestObjectFacts(_ payload: [String: JSONValue], algorithm: JWSAlgorithm) -> RequestObjectFacts {
        RequestObjectFacts(algorithm: algorithm, exp: dateFrom(payload["exp"]), nbf: dateFrom(payload["nbf"]),
                           audiences: audiences(payload["aud"]), issuer: payload["iss"]?.stringValue)
    }

    /// Request-object claims as authorization parameters: strings as they are, JSON values
    /// (e.g. `claims`, `max_age`) serialized.
    static func parameterStrings(_ payload: [String: JSONValue]) -> [String: String] {
        var out: [String: String] = [:]
        let jwtOnly: Set<String> = ["iss", "aud", "exp", "nbf", "iat", "jti", "sub"]
        for (k, v) in payload where !jwtOnly.contains(k) {
            switch v {
            case .string(let s): out[k] = s
            case .number(let n): out[k] = (n.rounded() == n && abs(n) < 9.0e15) ? String(Int64(n)) : String(n)
            case .bool(let b): out[k] = b ? "true" : "false"
            case .null: continue
            default: out[k] = v.serializedString()
            }
        }
        return out
    }

    /// Verifies a request object's signature with the client's keys (RFC 9101 §6.2): the algorithm
    /// from the client's registration and the service's allow-list, never from the header alone.
    func verifyRequestObject(_ compact: String, client: Client) async throws(OAuthError) -> VerifiedJWS {
        let jws: UnverifiedJWS
        do { jws = try UnverifiedJWS(compact: compact) } catch {
            throw OAuthError.invalidRequestObject("The request object is malformed.", detail: "\(error)")
        }
        if jws.algorithm == "none" { throw OAuthError.invalidRequestObject("Unsigned request objects (alg none) are not accepted.") }
        try JWTKind.checkRequestObject(jws)
        let allowed = service.algorithms.requestObject.filter { !$0.isSymmetric && $0 != .none }
        let policy = VerificationPolicy(allowedAlgorithms: allowed, requiredAlgorithm: client.metadata.requestObjectSigningAlg)
        do {
            let keys = try await jwksFetcher.keys(for: client.metadata)
            return try JWSVerifier.verify(jws, keys: keys, policy: policy)
        } catch let e as OAuthError {
            throw OAuthError.invalidRequestObject("The request object could not be verified.", detail: e.detail ?? e.errorDescription)
        } catch {
            throw OAuthError.invalidRequestObject("The request object could not be verified.", detail: "\(error)")
        }
    }
}
