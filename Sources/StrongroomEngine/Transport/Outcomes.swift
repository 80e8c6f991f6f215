import Foundation
import StrongroomCore
import StrongroomStorage

/// What the authorization endpoint (and the login/consent steps after it) decided.
public enum AuthorizationOutcome: Sendable {
    /// A ready response: redirect, form_post page, or JSON.
    case respond(EngineResponse)
    /// An error that must not be redirected (client or redirect URI not validated): show an error page.
    case errorPage(OAuthError)
    /// The user must log in or consent: the HTTP layer renders the page for this ticket.
    case interact(InteractionTicket)
}

/// What the login and consent pages need to show, and the id that ties the form back to the request.
public struct InteractionTicket: Sendable, Equatable {
    public enum Step: String, Sendable { case login, consent }
    public var step: Step
    /// Plain interaction id, carried in the form as a hidden field (only its hash is stored).
    public var interactionID: String
    public var clientID: String
    public var clientName: String
    public var clientURI: String?
    public var scopes: [ScopeDefinition]
    /// Claims requested through the `claims` parameter, with whether each is essential.
    public var claims: [RequestedClaim]
    /// ACR values requested (essential first).
    public var acrValues: [String]
    public var profile: Profile
    public var loginHint: String?
    /// A message to show on the login page (e.g. "wrong username or password").
    public var message: String?
    /// The user already logged in (consent step).
    public var username: String?
    /// A new browser-binding value for the HTTP layer to set as a cookie (nil: the browser has one).
    public var browserCookie: String?
    /// The HTTP status of the page: 200, or 429/503 when the step was refused for load (with `message`).
    public var status: Int = 200
    /// Seconds after which to try again (`Retry-After`), with a 429/503 `status`.
    public var retryAfter: Int?

    public init(step: Step, interactionID: String, clientID: String, clientName: String, clientURI: String? = nil,
                scopes: [ScopeDefinition], claims: [RequestedClaim], acrValues: [String], profile: Profile,
                loginHint: String? = nil, message: String? = nil, username: String? = nil) {
        self.step = step; self.interactionID = interactionID; self.clientID = clientID; self.clientName = clientName
        self.clientURI = clientURI; self.scopes = scopes; self.claims = claims; self.acrValues = acrValues
        self.profile = profile; self.loginHint = loginHint; self.message = message; self.username = username
    }
}

public struct RequestedClaim: Sendable, Equatable {
    public var name: String
    public var essential: Bool
    public init(name: String, essential: Bool) { self.name = name; self.essential = essential }
}

/// A logged-in browser session as the pages see it.
public struct BrowserSession: Sendable, Equatable {
    /// Plain session id for the cookie (only set when the session was just created).
    public var cookieValue: String?
    public var subject: String
    public var username: String
    public var csrfToken: String
    public var authTime: Date
    public var expiresAt: Date
    public init(cookieValue: String?, subject: String, username: String, csrfToken: String, authTime: Date, expiresAt: Date) {
        self.cookieValue = cookieValue; self.subject = subject; self.username = username; self.csrfToken = csrfToken
        self.authTime = authTime; self.expiresAt = expiresAt
    }
}

/// Result of the login form.
public enum LoginOutcome: Sendable {
    /// Wrong credentials or unknown interaction: show the login page again with a message (or an error page).
    case failed(AuthorizationOutcome)
    /// Logged in: set the session cookie, then handle `next` (consent page or redirect).
    case loggedIn(BrowserSession, next: AuthorizationOutcome)
}

/// A remembered consent as the "my grants" page lists it.
public struct GrantView: Sendable, Equatable {
    public var id: String
    public var clientID: String
    public var clientName: String
    public var scopes: [ScopeDefinition]
    public var createdAt: Date
    public init(id: String, clientID: String, clientName: String, scopes: [ScopeDefinition], createdAt: Date) {
        self.id = id; self.clientID = clientID; self.clientName = clientName; self.scopes = scopes; self.createdAt = createdAt
    }
}
