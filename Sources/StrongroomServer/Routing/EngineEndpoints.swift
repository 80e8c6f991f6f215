import Foundation
import StrongroomEngine

/// The engine calls the HTTP layer makes, one per route.
///
/// `Engine` conforms; tests substitute a stub so the whole HTTP translation (routing, headers, cookies,
/// pages, limits) runs in-process without storage or keys.
public protocol EngineEndpoints: Sendable {
    func authorize(_ request: TransportRequest, session: BrowserSession?) async throws -> AuthorizationOutcome
    func login(interactionID: String, username: String, password: String, request: TransportRequest) async throws -> LoginOutcome
    func consent(interactionID: String, approve: Bool, csrfToken: String, session: BrowserSession, request: TransportRequest) async throws -> AuthorizationOutcome
    func session(cookieValue: String) async throws -> BrowserSession?
    func grants(for session: BrowserSession) async throws -> [GrantView]
    /// False when the grant is not the session's or the CSRF token does not match.
    func revokeGrant(id: String, csrfToken: String, session: BrowserSession) async throws -> Bool
    /// False when the form's CSRF token is not the session's (the session is kept).
    func logout(cookieValue: String, csrfToken: String) async throws -> Bool

    func pushedAuthorizationRequest(_ request: TransportRequest) async throws -> EngineResponse
    func token(_ request: TransportRequest) async throws -> EngineResponse
    func introspect(_ request: TransportRequest) async throws -> EngineResponse
    func revoke(_ request: TransportRequest) async throws -> EngineResponse
    func userinfo(_ request: TransportRequest) async throws -> EngineResponse
    func register(_ request: TransportRequest) async throws -> EngineResponse
    func manageRegistration(_ request: TransportRequest, clientID: String) async throws -> EngineResponse
    func discovery(_ request: TransportRequest) async throws -> EngineResponse
    func jwks(_ request: TransportRequest) async throws -> EngineResponse
    func resource(_ request: TransportRequest) async throws -> EngineResponse
    func admin(_ request: TransportRequest) async throws -> EngineResponse
    func health() async throws -> EngineResponse
}

extension Engine: EngineEndpoints {}
