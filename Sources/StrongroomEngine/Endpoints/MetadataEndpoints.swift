import Foundation
import Logging
import StrongroomCore
import StrongroomJOSE
import StrongroomPolicy
import StrongroomStorage

extension Engine {
    /// `/.well-known/openid-configuration` (OIDC Discovery §3) and `/.well-known/oauth-authorization-server`
    /// (RFC 8414 §2), generated from the configuration: nothing is advertised that is not implemented.
    public func discovery(_ request: TransportRequest) async -> EngineResponse {
        EngineResponse.json(.object(discoveryDocument())).replacingHeader("Cache-Control", "public, max-age=300")
    }

    public func discoveryDocument() -> [String: JSONValue] {
        let s = service
        func strings(_ a: [String]) -> JSONValue { .array(a.map { .string($0) }) }
        let published = keys.ring.algorithms
        func signable(_ offered: [JWSAlgorithm]) -> JSONValue {
            strings(offered.filter { published.contains($0) }.map(\.rawValue))
        }
        let assertionMethods = s.clientAuthMethods.filter { $0 == .privateKeyJWT || $0 == .clientSecretJWT }
        var doc: [String: JSONValue] = [
            "issuer": .string(issuer),
            "authorization_endpoint": .string(url(EndpointPath.authorization)),
            "token_endpoint": .string(url(EndpointPath.token)),
            "pushed_authorization_request_endpoint": .string(url(EndpointPath.par)),
            "userinfo_endpoint": .string(url(EndpointPath.userinfo)),
            "introspection_endpoint": .string(url(EndpointPath.introspection)),
            "revocation_endpoint": .string(url(EndpointPath.revocation)),
            "jwks_uri": .string(url(EndpointPath.jwks)),
            "scopes_supported": strings(s.scopes.filter(\.discoverable).map(\.name)),
            "response_types_supported": strings(s.responseTypes.map(\.rawValue)),
            "response_modes_supported": strings(s.responseModes.map(\.rawValue)),
            "grant_types_supported": strings(s.grantTypes.map(\.rawValue)),
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": signable(s.algorithms.idToken),
            "userinfo_signing_alg_values_supported": signable(s.algorithms.userinfo),
            "authorization_signing_alg_values_supported": signable(s.algorithms.authorizationResponse),
            "introspection_signing_alg_values_supported": signable(s.algorithms.introspection),
            "request_object_signing_alg_values_supported": strings(s.algorithms.requestObject.filter { !$0.isSymmetric && $0 != .none }.map(\.rawValue)),
            "token_endpoint_auth_methods_supported": strings(s.clientAuthMethods.map(\.rawValue)),
            "introspection_endpoint_auth_methods_supported": strings(s.clientAuthMethods.filter { $0 != .none }.map(\.rawValue)),
            "revocation_endpoint_auth_methods_supported": strings(s.clientAuthMethods.map(\.rawValue)),
            "code_challenge_methods_supported": strings(s.allowPlainPKCE ? ["S256", "plain"] : ["S256"]),
            "claims_supported": strings(s.claimsSupported),
            "claims_parameter_supported": true,
            "request_parameter_supported": true,
            // request_uri by reference is not fetched; PAR request_uris are (RFC 9126).
            "request_uri_parameter_supported": false,
            "require_pushed_authorization_requests": .bool(s.requirePushedAuthorizationRequests),
            "authorization_response_iss_parameter_supported": .bool(s.authorizationResponseIssParameter),
            "dpop_signing_alg_values_supported": .array(dpop.allowed.map { .string($0.rawValue) }),
            "tls_client_certificate_bound_access_tokens": .bool(s.tlsClientCertificateBoundAccessTokens),
            "acr_values_supported": strings(s.acrValues),
            "prompt_values_supported": ["none", "login", "consent", "select_account"],
            "claim_types_supported": ["normal"],
            "ui_locales_supported": ["en"],
        ]
        if !assertionMethods.isEmpty {
            let assertionAlgs = s.algorithms.clientAssertion.filter { $0 != .none }.map(\.rawValue)
            doc["token_endpoint_auth_signing_alg_values_supported"] = strings(assertionAlgs)
            doc["introspection_endpoint_auth_signing_alg_values_supported"] = strings(assertionAlgs)
            doc["revocation_endpoint_auth_signing_alg_values_supported"] = strings(assertionAlgs)
        }
        if s.registration.enabled { doc["registration_endpoint"] = .string(url(EndpointPath.registration)) }
        if let m = mtlsBaseURL {
            var aliases: [String: JSONValue] = [
                "token_endpoint": .string(m + EndpointPath.token),
                "pushed_authorization_request_endpoint": .string(m + EndpointPath.par),
                "userinfo_endpoint": .string(m + EndpointPath.userinfo),
                "introspection_endpoint": .string(m + EndpointPath.introspection),
                "revocation_endpoint": .string(m + EndpointPath.revocation),
            ]
            if s.registration.enabled { aliases["registration_endpoint"] = .string(m + EndpointPath.registration) }
            doc["mtls_endpoint_aliases"] = .object(aliases)
        }
        return doc
    }

    /// GET /jwks: public members only, with `kid`, `use` and `alg`.
    public func jwks(_ request: TransportRequest) async -> EngineResponse {
        EngineResponse(status: 200, headers: [Param("Content-Type", "application/jwk-set+json"), Param("Cache-Control", "public, max-age=300")],
                       body: keys.ring.jwksDocument)
    }

    /// GET /healthz: the database answers. Otherwise 503 with `Retry-After` and the reason (no
    /// internals: which dependency failed, not how).
    public func health() async -> EngineResponse {
        do {
            try await storage.ping()
            return .json(["status": "ok"])
        } catch {
            logger.error("health check failed", metadata: ["error": "\(error)"])
            return .json(["status": "unavailable", "reason": "the database does not answer"], status: 503,
                         headers: [Param("Retry-After", String(OAuthError.outageRetryAfter))])
        }
    }
}

extension EngineResponse {
    func replacingHeader(_ name: String, _ value: String) -> EngineResponse {
        var r = self
        r.headers.removeAll { $0.name.lowercased() == name.lowercased() }
        r.headers.append(Param(name, value))
        return r
    }
}
