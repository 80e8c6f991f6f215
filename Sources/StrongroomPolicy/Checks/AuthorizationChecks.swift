import Foundation
import StrongroomCore

/// `redirect_uri` must be in the request even when only one is registered.
public struct RequireRedirectURIInRequest: Check {
    public let clause = "FAPI 1.0 Part 1 §5.2.2-9"
    public init() {}
    public func evaluate(_ f: AuthorizationFacts) throws(OAuthError) {
        guard f.redirectURIPresent else { throw fail(.invalidRequest, "redirect_uri is required") }
    }
}

/// Redirect URIs must use https.
public struct RequireHTTPSRedirectURI: Check {
    public let clause = "FAPI 1.0 Part 1 §5.2.2-20"
    public init() {}
    public func evaluate(_ f: AuthorizationFacts) throws(OAuthError) {
        guard URLComponents(string: f.redirectURI)?.scheme?.lowercased() == "https" else {
            throw fail(.invalidRequest, "redirect_uri must use https")
        }
    }
}

/// PKCE with S256: required always (Baseline, FAPI 2.0), or for public clients and PAR (Advanced);
/// `plain` refused whenever a FAPI profile applies.
public struct RequirePKCES256: Check {
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
    public func evaluate(_ f: AuthorizationFacts) throws(OAuthError) {
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

/// `state` is required when `openid` is not requested (reference: read-only request table).
public struct RequireStateWithoutOpenID: Check {
    public let clause = "FAPI 1.0 Part 1 §5.2.2.3"
    public init() {}
    public func evaluate(_ f: AuthorizationFacts) throws(OAuthError) {
        if !f.requestsOpenID && (f.state ?? "").isEmpty { throw fail(.invalidRequest, "state is required when openid is not requested") }
    }
}

/// `nonce` is required when an ID token is returned from the authorization endpoint.
public struct RequireNonceForFrontChannelIDToken: Check {
    public let clause = "OpenID Connect Core §3.3.2.11; FAPI 1.0 Part 2 §5.2.2.2"
    public init() {}
    public func evaluate(_ f: AuthorizationFacts) throws(OAuthError) {
        if f.responseType.includesIDToken && (f.nonce ?? "").isEmpty {
            throw fail(.invalidRequest, "nonce is required when an ID token is returned from the authorization endpoint")
        }
    }
}

/// An ID token from the front channel needs `openid` (OIDC Core §3.3.2.1).
public struct RequireOpenIDForIDToken: Check {
    public let clause = "OpenID Connect Core §3.3.2.1"
    public init() {}
    public func evaluate(_ f: AuthorizationFacts) throws(OAuthError) {
        if f.responseType.includesIDToken && !f.requestsOpenID {
            throw fail(.invalidRequest, "response_type with id_token requires the openid scope")
        }
    }
}

/// A signed request object is required (`request` by value, or pushed via PAR).
public struct RequireSignedRequestObject: Check {
    public let clause = "FAPI 1.0 Part 2 §5.2.2-1"
    public init() {}
    public func evaluate(_ f: AuthorizationFacts) throws(OAuthError) {
        guard f.requestObject != nil else { throw fail(.invalidRequest, "a signed request object is required (request or request_uri)") }
    }
}

/// The request object must carry `exp`, and must not have expired.
public struct RequireRequestObjectExp: Check {
    public let clause = "FAPI 1.0 Part 2 §5.2.2-13"
    public init() {}
    public func evaluate(_ f: AuthorizationFacts) throws(OAuthError) {
        guard let ro = f.requestObject else { return }
        guard let exp = ro.exp else { throw fail(.invalidRequestObject, "request object has no exp claim") }
        guard exp.addingTimeInterval(TimeInterval(f.clockSkew)) > f.now else { throw fail(.invalidRequestObject, "request object has expired") }
    }
}

/// The request object must carry `nbf`, no more than the maximum lifetime in the past and not in the future.
public struct RequireRequestObjectNbf: Check {
    public let clause = "FAPI 1.0 Part 2 §5.2.2-17"
    let maxAge: Int
    public init(maxAge: Int) { self.maxAge = maxAge }
    public func evaluate(_ f: AuthorizationFacts) throws(OAuthError) {
        guard let ro = f.requestObject else { return }
        guard let nbf = ro.nbf else { throw fail(.invalidRequestObject, "request object has no nbf claim") }
        if nbf > f.now.addingTimeInterval(TimeInterval(f.clockSkew)) { throw fail(.invalidRequestObject, "request object nbf is in the future") }
        if nbf < f.now.addingTimeInterval(-TimeInterval(maxAge + f.clockSkew)) {
            throw fail(.invalidRequestObject, "request object nbf is more than \(maxAge / 60) minutes in the past")
        }
    }
}

/// `exp` − `nbf` must not exceed the maximum lifetime (60 minutes).
public struct RequireRequestObjectLifetime: Check {
    public let clause = "FAPI 1.0 Part 2 §5.2.2-13"
    let maxLifetime: Int
    public init(maxLifetime: Int) { self.maxLifetime = maxLifetime }
    public func evaluate(_ f: AuthorizationFacts) throws(OAuthError) {
        guard let ro = f.requestObject, let exp = ro.exp, let nbf = ro.nbf else { return }
        if exp.timeIntervalSince(nbf) > TimeInterval(maxLifetime) {
            throw fail(.invalidRequestObject, "request object lifetime (exp - nbf) exceeds \(maxLifetime / 60) minutes")
        }
    }
}

/// The request object's `aud` must be, or contain, the issuer.
public struct RequireRequestObjectAudience: Check {
    public let clause = "FAPI 1.0 Part 2 §5.2.2-15"
    let issuer: String
    public init(issuer: String) { self.issuer = issuer }
    public func evaluate(_ f: AuthorizationFacts) throws(OAuthError) {
        guard let ro = f.requestObject else { return }
        guard ro.audiences.contains(issuer) else { throw fail(.invalidRequestObject, "request object aud must be the issuer \(issuer)") }
    }
}

/// `response_type` must be one the profile allows; `code` alone only with JARM.
public struct RequireProfileResponseType: Check {
    public let clause: String
    let allowed: [ResponseType]
    let codeRequiresJARM: Bool
    public init(allowed: [ResponseType], codeRequiresJARM: Bool, clause: String) {
        self.allowed = allowed; self.codeRequiresJARM = codeRequiresJARM; self.clause = clause
    }
    public func evaluate(_ f: AuthorizationFacts) throws(OAuthError) {
        guard allowed.contains(f.responseType) else {
            throw fail(.unsupportedResponseType, "response_type must be \(allowed.map(\.rawValue).joined(separator: " or "))")
        }
        if codeRequiresJARM && f.responseType == .code && !(f.responseMode?.isJARM ?? false) {
            throw fail(.invalidRequest, "response_type code requires a JARM response_mode (jwt)")
        }
    }
}

/// Public clients are refused.
public struct RejectPublicClients: Check {
    public let clause: String
    public init(clause: String) { self.clause = clause }
    public func evaluate(_ f: AuthorizationFacts) throws(OAuthError) {
        if f.client.isPublic { throw fail(.unauthorizedClient, "public clients are not allowed for this profile") }
    }
}

/// The request must come through PAR.
public struct RequirePushedAuthorizationRequest: Check {
    public let clause = "FAPI 2.0 Security Profile §5.3.2.2-2"
    public init() {}
    public func evaluate(_ f: AuthorizationFacts) throws(OAuthError) {
        if !f.viaPAR { throw fail(.invalidRequest, "pushed authorization requests are required (use the PAR endpoint)") }
    }
}

/// The request object's algorithm must be one the profile allows.
public struct RequireRequestObjectAlgorithm: Check {
    public let clause = "FAPI 1.0 Part 2 §8.6"
    let allowed: [JWSAlgorithm]
    public init(allowed: [JWSAlgorithm]) { self.allowed = allowed }
    public func evaluate(_ f: AuthorizationFacts) throws(OAuthError) {
        guard let ro = f.requestObject else { return }
        guard allowed.contains(ro.algorithm) else {
            throw fail(.invalidRequestObject, "request object must be signed with \(allowed.map(\.rawValue).joined(separator: " or "))")
        }
    }
}

/// `nonce` is required whenever `openid` is requested (Baseline).
public struct RequireNonceWithOpenID: Check {
    public let clause = "FAPI 1.0 Part 1 §5.2.2.2"
    public init() {}
    public func evaluate(_ f: AuthorizationFacts) throws(OAuthError) {
        if f.requestsOpenID && (f.nonce ?? "").isEmpty { throw fail(.invalidRequest, "nonce is required when openid is requested") }
    }
}

/// RFC 9700 §2.1.1: a public client's code request carries PKCE, whatever the profile.
public struct RequirePKCEForPublicClients: Check {
    public let clause = "RFC 9700 §2.1.1"
    public init() {}
    public func evaluate(_ f: AuthorizationFacts) throws(OAuthError) {
        guard f.client.isPublic, f.responseType.includesCode, f.codeChallenge == nil else { return }
        throw fail(.invalidRequest, "code_challenge is required for public clients (PKCE, RFC 9700 §2.1.1)")
    }
}

/// RFC 9700 §2.1.1 / RFC 7636 §4.2: `plain` gives no protection if the request leaks; it is
/// refused unless the operator allowed it (`service.allow_plain_pkce`).
public struct RefusePlainPKCEUnlessAllowed: Check {
    public let clause = "RFC 9700 §2.1.1"
    let allowPlain: Bool
    public init(allowPlain: Bool) { self.allowPlain = allowPlain }
    public func evaluate(_ f: AuthorizationFacts) throws(OAuthError) {
        guard !allowPlain, f.codeChallenge != nil, (f.codeChallengeMethod ?? "plain") == "plain" else { return }
        throw fail(.invalidRequest, "code_challenge_method plain is not allowed")
    }
}
