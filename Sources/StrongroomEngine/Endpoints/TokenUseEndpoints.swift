import Foundation
import StrongroomCore
import StrongroomJOSE
import StrongroomPolicy
import StrongroomStorage

/// An access token presented to a protected endpoint, after every check.
struct PresentedToken {
    var record: TokenRecord
}

extension Engine {
    /// RFC 6750 §2.1 / RFC 9449 §7.1: the token from the Authorization header, under the `Bearer`
    /// or the `DPoP` scheme (case-insensitive), or (userinfo) a form body. Tokens in the query
    /// (`access_token`) are refused.
    func presentedToken(_ request: TransportRequest, allowForm: Bool = false) throws(OAuthError) -> (token: String, scheme: TokenScheme) {
        if request.query.contains(where: { $0.name == "access_token" }) {
            throw OAuthError.invalidRequest("access tokens are not accepted in the query string")
        }
        let headers = request.headers("authorization")
        if headers.count > 1 { throw OAuthError.invalidRequest("more than one Authorization header") }
        if let h = headers.first {
            let parts = h.split(separator: " ", maxSplits: 1)
            let scheme: TokenScheme? = switch parts.first?.lowercased() {
            case "bearer": .bearer
            case "dpop": .dpop
            default: nil
            }
            guard parts.count == 2, let scheme else {
                throw OAuthError(.invalidToken, "the Authorization header must use the Bearer or the DPoP scheme")
            }
            let token = parts[1].trimmingCharacters(in: .whitespaces)
            guard !token.isEmpty, token.count <= 4096 else { throw OAuthError(.invalidToken, "the access token is malformed") }
            return (token, scheme)
        }
        if allowForm, request.contentType == "application/x-www-form-urlencoded" {
            let form = try request.formParameters()
            let tokens = form.filter { $0.name == "access_token" }
            if tokens.count > 1 { throw OAuthError.invalidRequest("parameter 'access_token' is repeated") }
            if let t = tokens.first?.value { return (t, .bearer) }
        }
        throw OAuthError(.invalidToken, "an access token is required", status: 401, rule: Self.noCredentialsRule)
    }

    /// A token under the `Bearer` scheme only (registration management, the admin API).
    func bearerToken(_ request: TransportRequest) throws(OAuthError) -> String {
        let (token, scheme) = try presentedToken(request)
        guard scheme == .bearer else { throw OAuthError(.invalidToken, "the Authorization header must use the Bearer scheme") }
        return token
    }

    /// Marks a request that carried no credentials at all.
    static let noCredentialsRule = "RFC 6750 §3.1 (no credentials)"

    /// The error of a protected endpoint, with its `WWW-Authenticate` challenge: `DPoP` (with the
    /// accepted algorithms, RFC 9449 §7.1) when the token was presented under that scheme or is
    /// DPoP-bound, else `Bearer` (RFC 6750 §3).
    func protectedResourceError(_ e: OAuthError, dpopChallenge: Bool) -> EngineResponse {
        guard dpopChallenge else { return Self.bearerError(e) }
        var e = e
        if e.code == .invalidToken || e.code == .invalidDPoPProof || e.code == .useDPoPNonce { e.status = 401 }
        var challenge = "DPoP algs=\"\(dpopChallengeAlgorithms)\", error=\"\(e.code.rawValue)\""
        if !e.errorDescription.isEmpty { challenge += ", error_description=\"\(e.errorDescription.replacingOccurrences(of: "\"", with: "'"))\"" }
        var r = EngineResponse.json(["error": .string(e.code.rawValue), "error_description": .string(e.errorDescription)], status: e.status)
        r.headers.append(Param("WWW-Authenticate", challenge))
        // `use_dpop_nonce` is only ever raised when nonces are required, so this carries its nonce.
        return withDPoPNonce(r)
    }

    static func bearerError(_ e: OAuthError) -> EngineResponse {
        var e = e
        if e.code == .invalidToken { e.status = 401 }
        var challenge = "Bearer realm=\"strongroom\""
        // RFC 6750 §3.1: a request without any credentials gets the bare challenge.
        if e.rule == noCredentialsRule {
            var r = EngineResponse.json(["error": .string(e.code.rawValue), "error_description": .string(e.errorDescription)], status: 401)
            r.headers.append(Param("WWW-Authenticate", challenge))
            return r
        }
        challenge += ", error=\"\(e.code.rawValue)\""
        if !e.errorDescription.isEmpty { challenge += ", error_description=\"\(e.errorDescription.replacingOccurrences(of: "\"", with: "'"))\"" }
        var r = EngineResponse.json(["error": .string(e.code.rawValue), "error_description": .string(e.errorDescription)], status: e.status)
        r.headers.append(Param("WWW-Authenticate", challenge))
        return r
    }

    /// GET/POST /userinfo (OIDC Core §5.3): claims by scope and by the claims parameter; a signed
    /// JWT when the client registered `userinfo_signed_response_alg`.
    public func userinfo(_ request: TransportRequest) async -> EngineResponse {
        var dpopChallenge = false
        do {
            let (token, scheme) = try presentedToken(request, allowForm: request.method == "POST")
            dpopChallenge = scheme == .dpop
            let (record, client) = try await accessTokens.validate(token, request: request)
            dpopChallenge = dpopChallenge || record.dpopJKT != nil
            try await checkDPoPBinding(record, token: token, scheme: scheme, request: request)
            guard record.scopes.contains("openid"), let subject = record.subject else {
                throw OAuthError(.insufficientScope, "the access token does not carry the openid scope", status: 403)
            }
            guard let user = try? await storage.user(subject: subject) else { throw OAuthError(.invalidToken, "the user no longer exists") }
            var claims: [String: JSONValue] = ["sub": .string(subject)]
            for scope in record.scopes { for name in Self.claimsByScope[scope] ?? [] { if let v = user.claims[name] { claims[name] = v } } }
            for name in record.claimsRequest?["userinfo"]?.objectValue?.keys.map({ $0 }) ?? [] {
                if let v = user.claims[name] { claims[name] = v }
            }
            if let alg = client.metadata.userinfoSignedResponseAlg {
                claims["iss"] = .string(issuer)
                claims["aud"] = .string(client.clientID)
                let a = signingAlgorithm(registered: alg, offered: service.algorithms.userinfo, profile: record.profile)
                return withDPoPNonce(.jwt(try sign(claims, algorithm: a), contentType: "application/jwt"))
            }
            return withDPoPNonce(.json(.object(claims)))
        } catch let raw {
            let error = OAuthError.wrap(raw)
            logRefusal(error, endpoint: "userinfo", profile: nil, request: request)
            return protectedResourceError(error, dpopChallenge: dpopChallenge)
        }
    }

    /// POST /introspect (RFC 7662; RFC 9701 JWT response on `Accept: application/token-introspection+jwt`).
    /// Callers authenticate as clients; a client learns only about its own tokens unless an operator
    /// registered it as a resource server (`strongroom_resource_server`).
    public func introspect(_ request: TransportRequest) async -> EngineResponse {
        do {
            let form = try request.backChannelForm()
            let auth = try await clientAuthenticator.authenticate(request, form: form, endpointPath: EndpointPath.introspection)
            guard auth.method != .none else { throw OAuthError.invalidClient("public clients cannot introspect tokens") }
            guard let token = try form.single("token"), !token.isEmpty else { throw OAuthError.invalidRequest("token is required") }
            let body = try await introspector.describe(token, for: auth)
            if (request.header("accept") ?? "").contains("application/token-introspection+jwt") {
                return .jwt(try introspector.signed(body, for: auth), contentType: "application/token-introspection+jwt")
            }
            return .json(.object(body))
        } catch let raw {
            let error = OAuthError.wrap(raw)
            logRefusal(error, endpoint: "introspection", profile: nil, request: request)
            return .oauthError(error)
        }
    }

    /// POST /revoke (RFC 7009): a client revokes its own tokens; revoking a refresh token revokes its family.
    /// Unknown tokens get 200 as the RFC requires.
    public func revoke(_ request: TransportRequest) async -> EngineResponse {
        do {
            let form = try request.backChannelForm()
            let auth = try await clientAuthenticator.authenticate(request, form: form, endpointPath: EndpointPath.revocation)
            guard let token = try form.single("token"), !token.isEmpty else { throw OAuthError.invalidRequest("token is required") }
            if let hint = try form.single("token_type_hint"), hint != "access_token", hint != "refresh_token" {
                throw OAuthError(.unsupportedTokenType, "token_type_hint \(ErrorText.quoted(hint)) is not supported")
            }
            // A database outage is 503, never a 200 for a revocation that did not happen.
            if token.count <= 4096 {
                let found: TokenRecord?
                do { found = try await storage.token(hash: hasher.hash(token)) } catch { throw OAuthError.failure(error, "revocation") }
                if let r = found, r.clientID == auth.clientID {
                    if r.kind == .refresh {
                        await lineage.revoke(.family(r.familyID))
                    } else {
                        do { _ = try await storage.revokeToken(hash: r.tokenHash, at: now) } catch { throw OAuthError.failure(error, "revocation") }
                    }
                }
            }
            return EngineResponse(status: 200, headers: [Param("Cache-Control", "no-store")])
        } catch let raw {
            let error = OAuthError.wrap(raw)
            logRefusal(error, endpoint: "revocation", profile: nil, request: request)
            return .oauthError(error)
        }
    }

    /// The built-in protected resource API, as a financial API would look: `GET /api/accounts`
    /// (any FAPI scope) and `POST /api/payments` (a scope selecting FAPI 1.0 Advanced or a FAPI
    /// 2.0 profile: read-write access).
    public func resource(_ request: TransportRequest) async -> EngineResponse {
        var dpopChallenge = false
        do {
            let (token, scheme) = try presentedToken(request)
            dpopChallenge = scheme == .dpop
            let record = try await accessTokens.validate(token, request: request).record
            dpopChallenge = dpopChallenge || record.dpopJKT != nil
            try await checkDPoPBinding(record, token: token, scheme: scheme, request: request)
            // The profiles the token's scopes select, read once.
            let scopeProfiles = record.scopes.compactMap { service.scope(named: $0)?.profile }
            let hasFAPIScope = !scopeProfiles.isEmpty
            // Defence in depth: a token carrying a FAPI scope must have been issued under at least
            // the profile that scope selects.
            if let needed = scopeProfiles.max(), record.profile < needed {
                throw OAuthError(.invalidToken, "the access token was not issued under the profile its scopes require", status: 401)
            }
            // The rules of every profile its scopes select hold here too (their union): a token
            // that any of them requires to be sender-constrained must be.
            try rules(Set(scopeProfiles)).checkResource(
                ResourceFacts(certificateBound: record.certificateThumbprint != nil, dpopBound: record.dpopJKT != nil))
            switch (request.method, request.path.hasSuffix("/api/payments")) {
            case ("GET", false):
                guard hasFAPIScope else { throw OAuthError(.insufficientScope, "a FAPI scope (fapi or fapi2 attribute) is required", status: 403) }
                return withDPoPNonce(.json([
                    "data": ["account": [[
                        "account_id": "acc-001", "currency": "GBP", "nickname": "Everyday account",
                        "balance": ["amount": "1250.40", "currency": "GBP"],
                    ]]],
                    "meta": ["subject": .string(record.subject ?? record.clientID), "profile": .string(record.profile.rawValue)],
                ]))
            case ("POST", true):
                guard scopeProfiles.contains(where: { $0 >= .fapi1Advanced }) else {
                    throw OAuthError(.insufficientScope, "a read-write scope (fapi=rw or fapi2) is required", status: 403)
                }
                let payment = JSONValue.parse(request.body)
                guard request.body.isEmpty || payment?.objectValue != nil else { throw OAuthError.invalidRequest("the body must be a JSON object") }
                return withDPoPNonce(.json([
                    "data": ["payment_id": .string(newID()), "status": "AcceptedSettlementInProcess", "instruction": payment ?? [:]],
                    "meta": ["subject": .string(record.subject ?? record.clientID)],
                ], status: 201))
            default:
                throw OAuthError(.invalidRequest, "method not allowed", status: 405)
            }
        } catch let raw {
            let error = OAuthError.wrap(raw)
            logRefusal(error, endpoint: "resource", profile: nil, request: request)
            return protectedResourceError(error, dpopChallenge: dpopChallenge)
        }
    }
}
