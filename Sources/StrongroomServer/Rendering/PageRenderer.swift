import Foundation
import Mustache
import StrongroomCore
import StrongroomEngine

/// Renders the login, consent, error and grants pages from the mustache templates in `Pages/`.
///
/// Every value goes through `{{ }}` (HTML-escaped); no template uses triple mustaches.
/// Pages are plain HTML forms: they work without JavaScript and load nothing external.
public struct PageRenderer: Sendable {
    let library: MustacheLibrary
    /// Issuer path prefix for form actions (`""` when the issuer is at the root).
    public let basePath: String

    public init(library: MustacheLibrary, basePath: String) {
        self.library = library
        self.basePath = basePath
    }

    /// Loads templates from a directory of `.mustache` files.
    public init(directory: String, basePath: String) async throws {
        self.library = try await MustacheLibrary(directory: directory)
        self.basePath = basePath
        for name in ["layout", "login", "consent", "error", "grants", "callback"] where library.getTemplate(named: name) == nil {
            throw ConfigurationError(key: "", message: "page template '\(name).mustache' is missing from \(directory)")
        }
    }

    /// Loads the templates shipped in the StrongroomServer resource bundle.
    public static func bundled(basePath: String) async throws -> PageRenderer {
        guard let url = Bundle.module.url(forResource: "Pages", withExtension: nil) else {
            throw ConfigurationError(key: "", message: "page templates not found in the StrongroomServer resource bundle")
        }
        return try await PageRenderer(directory: url.path, basePath: basePath)
    }

    // MARK: Pages

    public func login(_ ticket: InteractionTicket) -> String {
        var c = common(ticket)
        if let m = ticket.message, !m.isEmpty { c["message"] = m }
        if let hint = ticket.loginHint, !hint.isEmpty { c["login_hint"] = hint }
        return render("login", c)
    }

    public func consent(_ ticket: InteractionTicket, csrfToken: String) -> String {
        var c = common(ticket)
        c["csrf_token"] = csrfToken
        if let u = ticket.username, !u.isEmpty { c["username"] = u }
        let scopes = ticket.scopes.map(Self.scopeItem)
        c["scopes"] = scopes
        c["has_scopes"] = !scopes.isEmpty
        let claims: [[String: Any]] = ticket.claims.map { ["name": $0.name, "essential": $0.essential] }
        c["claims"] = claims
        c["has_claims"] = !claims.isEmpty
        c["acr_values"] = ticket.acrValues
        c["has_acr"] = !ticket.acrValues.isEmpty
        return render("consent", c)
    }

    public func error(_ error: OAuthError, interactionID: String) -> String {
        var c: [String: Any] = ["base": basePath, "error": error.code.rawValue, "interaction_id": interactionID]
        if !error.errorDescription.isEmpty { c["error_description"] = error.errorDescription }
        if let seconds = error.retryAfter {
            // Refused for load (HTTP 429/503), not because of the request: say when to try again.
            c["busy"] = true
            c["retry_after"] = seconds == 1 ? "1 second" : "\(seconds) seconds"
        }
        return render("error", c)
    }

    public func grants(session: BrowserSession?, grants: [GrantView]) -> String {
        var c: [String: Any] = ["base": basePath]
        if let session {
            c["signed_in"] = true
            c["username"] = session.username
            c["csrf_token"] = session.csrfToken
            let items: [[String: Any]] = grants.enumerated().map { i, g in
                [
                    "index": i + 1,
                    "id": g.id,
                    "client_id": g.clientID,
                    "client_name": g.clientName.isEmpty ? g.clientID : g.clientName,
                    "scopes": g.scopes.map(Self.scopeItem),
                    "created": Self.displayDate(g.createdAt),
                    "created_iso": Self.isoDate(g.createdAt),
                    "csrf_token": session.csrfToken,
                ]
            }
            c["grants"] = items
            c["has_grants"] = !items.isEmpty
        } else {
            c["signed_in"] = false
        }
        return render("grants", c)
    }

    /// The demo kit's stand-in redirect URI: lists what the authorization response carried.
    public func callback(_ params: [Param]) -> String {
        let items: [[String: Any]] = params.map { ["name": $0.name, "value": $0.value] }
        return render("callback", ["base": basePath, "params": items, "has_params": !items.isEmpty])
    }

    // MARK: Helpers

    func render(_ template: String, _ context: [String: Any]) -> String {
        // Templates are checked at load time; a missing one here is a programming error, answered without internals.
        library.render(context, withTemplate: template) ?? "<!DOCTYPE html><html lang=\"en\"><title>Error</title><p>Something went wrong.</p></html>"
    }

    private func common(_ t: InteractionTicket) -> [String: Any] {
        let name = t.clientName.isEmpty ? t.clientID : t.clientName
        var c: [String: Any] = [
            "base": basePath,
            "interaction_id": t.interactionID,
            "client_id": t.clientID,
            "client_name": name,
            "client_initial": String(name.first.map { String($0).uppercased() } ?? "?"),
            "profile_label": Self.profileLabel(t.profile),
        ]
        // Only https links: a client_uri is client-supplied and must not become a javascript: or data: link.
        if let uri = t.clientURI, let u = URL(string: uri), u.scheme?.lowercased() == "https", u.host != nil {
            c["client_uri"] = uri
        }
        return c
    }

    static func scopeItem(_ s: ScopeDefinition) -> [String: Any] {
        var item: [String: Any] = ["label": s.name]
        if !s.description.isEmpty { item["description"] = s.description }
        return item
    }

    public static func profileLabel(_ p: Profile) -> String { p.shortName }

    static func displayDate(_ d: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "d MMMM yyyy, HH:mm 'UTC'"
        return f.string(from: d)
    }

    static func isoDate(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: d)
    }
}
