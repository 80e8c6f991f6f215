import Foundation

/// The endpoints the HTTP layer serves. Each one is also the `endpoint` label of the request metrics,
/// so it never carries a path parameter (no client ids in metric labels).
public enum Endpoint: String, Sendable, CaseIterable {
    case authorize, login, consent, grants, grantsRevoke = "grants_revoke", logout
    case par, token, introspect, revoke, userinfo
    case register, registration
    case discoveryOpenID = "openid_configuration", discoveryOAuth = "oauth_authorization_server", jwks
    case accounts, payments
    case admin, health, metrics
    /// The demo kit's stand-in redirect URI.
    case demoCallback = "demo_callback"
    /// Label for requests that matched nothing (404/405).
    case unmatched
}

/// What the router decided for one method and path.
public enum RouteMatch: Sendable, Equatable {
    /// `clientID` is set for `/register/{client_id}` (percent-decoded).
    case endpoint(Endpoint, clientID: String? = nil)
    case methodNotAllowed(allowed: [String])
    case notFound
}

/// The route table, mounted under the path of the issuer URL.
///
/// Routing is a pure function of (method, path), so it is tested without a server. Paths match exactly:
/// no trailing-slash folding, no case folding, so an endpoint has one URL as discovery advertises it.
public struct RouteTable: Sendable {
    /// Path of the issuer (`https://as.example/tenant` → `/tenant`), without trailing slash; `""` for the root.
    public let basePath: String
    public let resourceAPI: Bool
    /// `server.demo_pages`: whether `/demo/callback` exists (only in the demo kit; 404 otherwise).
    public let demoPages: Bool

    public init(issuer: String, resourceAPI: Bool, demoPages: Bool = false) {
        self.init(basePath: URL(string: issuer)?.path ?? "", resourceAPI: resourceAPI, demoPages: demoPages)
    }

    public init(basePath: String, resourceAPI: Bool, demoPages: Bool = false) {
        var p = basePath
        while p.hasSuffix("/") { p.removeLast() }
        if !p.isEmpty, !p.hasPrefix("/") { p = "/" + p }
        self.basePath = p
        self.resourceAPI = resourceAPI
        self.demoPages = demoPages
    }

    /// The path below the issuer base (`/tenant/token` → `/token`), or nil when the path is outside it.
    public func relativePath(_ path: String) -> String? {
        guard !basePath.isEmpty else { return path.isEmpty ? "/" : path }
        guard path.hasPrefix(basePath) else { return nil }
        let rest = String(path.dropFirst(basePath.count))
        if rest.isEmpty { return "/" }
        return rest.hasPrefix("/") ? rest : nil
    }

    private static let fixed: [String: (Endpoint, Set<String>)] = [
        "/authorize": (.authorize, ["GET", "POST"]),
        "/login": (.login, ["POST"]),
        "/consent": (.consent, ["POST"]),
        "/grants": (.grants, ["GET"]),
        "/grants/revoke": (.grantsRevoke, ["POST"]),
        "/logout": (.logout, ["POST"]),
        "/par": (.par, ["POST"]),
        "/token": (.token, ["POST"]),
        "/introspect": (.introspect, ["POST"]),
        "/revoke": (.revoke, ["POST"]),
        "/userinfo": (.userinfo, ["GET", "POST"]),
        "/register": (.register, ["POST"]),
        "/.well-known/openid-configuration": (.discoveryOpenID, ["GET"]),
        "/.well-known/oauth-authorization-server": (.discoveryOAuth, ["GET"]),
        "/jwks": (.jwks, ["GET"]),
        "/healthz": (.health, ["GET"]),
        "/metrics": (.metrics, ["GET"]),
    ]

    /// Pages of the demo kit: a stand-in redirect URI that shows what the authorization response
    /// carried. Not a production surface, so absent unless `server.demo_pages` is on.
    private static let demoRoutes: [String: (Endpoint, Set<String>)] = [
        "/demo/callback": (.demoCallback, ["GET", "POST"]),
    ]

    private static let resourceRoutes: [String: (Endpoint, Set<String>)] = [
        "/api/accounts": (.accounts, ["GET"]),
        "/api/payments": (.payments, ["POST"]),
    ]

    /// Resolves a method and a relative path (see `relativePath`).
    public func match(method: String, relativePath path: String) -> RouteMatch {
        let method = method.uppercased()
        if path == "/admin" || path.hasPrefix("/admin/") {
            return .endpoint(.admin)
        }
        if path.hasPrefix("/register/") {
            let raw = path.dropFirst("/register/".count)
            guard !raw.isEmpty, !raw.contains("/"), let id = String(raw).removingPercentEncoding, !id.isEmpty else {
                return .notFound
            }
            let allowed: Set<String> = ["GET", "PUT", "DELETE"]
            return allowed.contains(method) ? .endpoint(.registration, clientID: id) : .methodNotAllowed(allowed: allowed.sorted())
        }
        let entry = Self.fixed[path] ?? (resourceAPI ? Self.resourceRoutes[path] : nil) ?? (demoPages ? Self.demoRoutes[path] : nil)
        guard let (endpoint, allowed) = entry else { return .notFound }
        return allowed.contains(method) ? .endpoint(endpoint) : .methodNotAllowed(allowed: allowed.sorted())
    }

    /// Resolves a method and a full request path (with the issuer base path).
    public func match(method: String, path: String) -> RouteMatch {
        guard let rel = relativePath(path) else { return .notFound }
        return match(method: method, relativePath: rel)
    }
}
