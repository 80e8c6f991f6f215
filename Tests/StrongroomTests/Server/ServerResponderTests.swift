import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import StrongroomCore
import StrongroomDemo
import StrongroomEngine
import StrongroomJOSE
import Testing

@testable import StrongroomServer

/// An engine stand-in: records what the HTTP layer handed it and answers canned outcomes.
final class ServerStubEngine: EngineEndpoints, @unchecked Sendable {
    private let lock = NSLock()
    private var _requests: [TransportRequest] = []
    var requests: [TransportRequest] { lock.withLock { _requests } }
    func record(_ r: TransportRequest) { lock.withLock { _requests.append(r) } }

    var authorizeOutcome: AuthorizationOutcome = .respond(.redirect("https://client.example/cb?code=x"))
    var loginOutcome: LoginOutcome = .failed(.errorPage(.invalidRequest("unknown interaction")))
    var knownSession: BrowserSession?
    var grantList: [GrantView] = []
    var failWith: (any Error)?

    static let session = BrowserSession(cookieValue: "sess-NEW_1", subject: "sub1", username: "alice", csrfToken: "csrf-1",
                                        authTime: Date(), expiresAt: Date().addingTimeInterval(600))

    func authorize(_ request: TransportRequest, session: BrowserSession?) async throws -> AuthorizationOutcome {
        record(request); return authorizeOutcome
    }
    func login(interactionID: String, username: String, password: String, request: TransportRequest) async throws -> LoginOutcome {
        record(request); return loginOutcome
    }
    func consent(interactionID: String, approve: Bool, csrfToken: String, session: BrowserSession, request: TransportRequest) async throws -> AuthorizationOutcome {
        record(request)
        return .respond(.redirect(approve ? "https://client.example/cb?code=c" : "https://client.example/cb?error=access_denied"))
    }
    func session(cookieValue: String) async throws -> BrowserSession? { cookieValue == "sess-OK" ? knownSession : nil }
    func grants(for session: BrowserSession) async throws -> [GrantView] { grantList }
    func revokeGrant(id: String, csrfToken: String, session: BrowserSession) async throws -> Bool { csrfToken == session.csrfToken }
    func logout(cookieValue: String, csrfToken: String) async throws -> Bool {
        // As the engine decides: a live session needs its CSRF token.
        if cookieValue == "sess-OK", let s = knownSession { return csrfToken == s.csrfToken }
        return true
    }

    func answer(_ r: TransportRequest) throws -> EngineResponse {
        record(r)
        if let failWith { throw failWith }
        return .json(.object(["ok": .bool(true)]))
    }
    func pushedAuthorizationRequest(_ r: TransportRequest) async throws -> EngineResponse { try answer(r) }
    func token(_ r: TransportRequest) async throws -> EngineResponse { try answer(r) }
    func introspect(_ r: TransportRequest) async throws -> EngineResponse { try answer(r) }
    func revoke(_ r: TransportRequest) async throws -> EngineResponse { try answer(r) }
    func userinfo(_ r: TransportRequest) async throws -> EngineResponse { try answer(r) }
    func register(_ r: TransportRequest) async throws -> EngineResponse { try answer(r) }
    func manageRegistration(_ r: TransportRequest, clientID: String) async throws -> EngineResponse { try answer(r) }
    func discovery(_ r: TransportRequest) async throws -> EngineResponse { try answer(r) }
    func jwks(_ r: TransportRequest) async throws -> EngineResponse { try answer(r) }
    func resource(_ r: TransportRequest) async throws -> EngineResponse { try answer(r) }
    func admin(_ r: TransportRequest) async throws -> EngineResponse { try answer(r) }
    func health() async throws -> EngineResponse { .json(.object(["status": .string("ok")])) }
}

struct ServerTestResponse {
    var status: Int
    var headers: HTTPFields
    var body: String
    func header(_ name: String) -> String? { headers[HTTPField.Name(name)!] }
}

@Suite struct ServerResponderTests {
    static let ticket = InteractionTicket(
        step: .login, interactionID: "int-1", clientID: "client-1", clientName: "<b>Evil</b> & Co",
        scopes: [ScopeDefinition(name: "accounts", description: "Read your <accounts>")], claims: [], acrValues: [],
        profile: .fapi1Advanced, message: "Wrong username or password"
    )

    func makeResponder(_ engine: ServerStubEngine, settings: ServerSettings = ServerSettings(trustedProxies: ["10.9.9.9"], maxBodySize: 64),
                       issuer: String = "https://as.example") async throws -> StrongroomResponder<ServerStubEngine> {
        let pages = try await PageRenderer.bundled(basePath: RouteTable(issuer: issuer, resourceAPI: true).basePath)
        return StrongroomResponder(engine: engine, settings: settings, issuer: issuer, pages: pages, listener: .main,
                                   logger: .init(label: "test"))
    }

    func send<E: EngineEndpoints>(_ responder: StrongroomResponder<E>, _ method: HTTPRequest.Method, _ path: String,
              headers: [(String, String)] = [], body: String = "", peer: String? = "192.0.2.1", chain: [Data]? = nil) async throws -> ServerTestResponse {
        var fields = HTTPFields()
        for (n, v) in headers { fields.append(HTTPField(name: HTTPField.Name(n)!, value: v)) }
        let head = HTTPRequest(method: method, scheme: "https", authority: "as.example", path: path, headerFields: fields)
        let request = Request(head: head, body: RequestBody(buffer: ByteBuffer(string: body)))
        let response = try await responder.respond(to: request, context: .init(remoteAddress: peer, presentedChain: chain))
        let collector = BodyCollector()
        try await response.body.write(collector)
        return ServerTestResponse(status: Int(response.status.code), headers: response.headers, body: collector.text)
    }

    @Test func unknownRouteIs404JSONWithInteractionID() async throws {
        let r = try await send(try await makeResponder(ServerStubEngine()), .get, "/nope")
        #expect(r.status == 404)
        #expect(r.body == #"{"error":"not_found"}"#)
        #expect(InteractionID.isValid(r.header("x-fapi-interaction-id") ?? ""))
        #expect(r.header("strict-transport-security") != nil)
    }

    @Test func wrongMethodIs405() async throws {
        let r = try await send(try await makeResponder(ServerStubEngine()), .get, "/token")
        #expect(r.status == 405)
        #expect(r.header("allow") == "POST")
        #expect(r.body.contains("method_not_allowed"))
    }

    @Test func oversizedBodyIs413() async throws {
        let engine = ServerStubEngine()
        let r = try await send(try await makeResponder(engine), .post, "/token",
                               headers: [("content-type", "application/x-www-form-urlencoded")],
                               body: String(repeating: "a", count: 65))
        #expect(r.status == 413)
        #expect(r.body.contains(#""error":"invalid_request""#))
        #expect(r.body.contains("request body too large"))
        #expect(engine.requests.isEmpty)
    }

    @Test func requestIsTranslatedWithQueryOrderInteractionIDAndRelativePath() async throws {
        let engine = ServerStubEngine()
        let id = "0b6f3b2e-4c1d-4e5f-8a9b-0c1d2e3f4a5b"
        let r = try await send(try await makeResponder(engine, issuer: "https://as.example/t1"), .get,
                               "/t1/userinfo?b=2&a=1&b=3&x=%20y+z",
                               headers: [("x-fapi-interaction-id", id), ("Authorization", "Bearer t")])
        #expect(r.status == 200)
        #expect(r.header("x-fapi-interaction-id") == id)
        let req = try #require(engine.requests.first)
        #expect(req.path == "/userinfo")
        #expect(req.query == [Param("b", "2"), Param("a", "1"), Param("b", "3"), Param("x", " y z")])
        #expect(req.interactionID == id)
        #expect(req.header("authorization") == "Bearer t")
        #expect(req.remoteAddress == "192.0.2.1")
        #expect(req.listener == .main)
    }

    /// A real client certificate issued by a CA, with that CA as its chain, as DER.
    static let forwardedPair: (leaf: Data, ca: Data) = {
        let ca = try! DemoPKI.makeCA(commonName: "Forwarded Test CA")
        let leaf = try! DemoPKI.issueClientCertificate(ca: ca, commonName: "forwarded-client", organization: "Test", keyAlgorithm: .es256)
        return (try! ClientCertificate.fromPEM(leaf.certificatePEM).chainDER[0], try! ClientCertificate.fromPEM(ca.certificatePEM).chainDER[0])
    }()

    /// RFC 9440 §4 / RFC 8705 §3: a forwarded `Client-Cert` counts only from a trusted proxy. The header
    /// carries a real certificate (RFC 9440 `:base64:` DER) that the trusted proxy's copy shows parses,
    /// so the untrusted peer's copy yields nothing because it was ignored, not because it was unreadable.
    @Test func forwardedCertificateFromUntrustedPeerIsStrippedAndIgnored() async throws {
        let (leaf, ca) = Self.forwardedPair
        let (tls, _) = Self.certificates
        let forwarded = [("Client-Cert", ":\(leaf.base64EncodedString()):"), ("Client-Cert-Chain", ":\(ca.base64EncodedString()):")]
        let engine = ServerStubEngine()
        let responder = try await makeResponder(engine)

        // Untrusted peer, no TLS certificate: no certificate at all, and the headers never reach the engine.
        let untrusted = try await send(responder, .post, "/token", headers: forwarded, peer: "192.0.2.1")
        #expect(untrusted.status == 200)
        let plain = try #require(engine.requests.last)
        #expect(plain.clientCertificate == nil)
        #expect(plain.header("client-cert") == nil)
        #expect(plain.header("client-cert-chain") == nil)

        // Untrusted peer presenting a TLS chain: that chain, never the forwarded one.
        _ = try await send(responder, .post, "/token", headers: forwarded, peer: "192.0.2.1", chain: [tls])
        let withTLS = try #require(engine.requests.last)
        #expect(withTLS.clientCertificate?.chainDER == [tls])
        #expect(withTLS.header("client-cert") == nil)

        // The same headers from the trusted proxy: exactly the forwarded certificate and chain.
        _ = try await send(responder, .post, "/token", headers: forwarded, peer: "10.9.9.9")
        let trusted = try #require(engine.requests.last)
        #expect(trusted.clientCertificate?.chainDER == [leaf, ca])
        #expect(trusted.header("client-cert") == nil)
        #expect(engine.requests.count == 3)
    }

    /// Two client certificates as DER: the "proxy's" and the "client's".
    static let certificates: (proxy: Data, client: Data) = {
        let proxy = try! DemoPKI.selfSignedClientCertificate(commonName: "proxy", keyAlgorithm: .es256)
        let client = try! DemoPKI.selfSignedClientCertificate(commonName: "client", keyAlgorithm: .es256)
        return (try! ClientCertificate.fromPEM(proxy.certificatePEM).chainDER[0],
                try! ClientCertificate.fromPEM(client.certificatePEM).chainDER[0])
    }()

    @Test func trustedProxysOwnTLSCertificateIsNotTheClients() async throws {
        let (proxy, client) = Self.certificates
        // From the trusted proxy without a header: no certificate, though its own TLS chain is valid.
        let engine = ServerStubEngine()
        _ = try await send(try await makeResponder(engine), .post, "/token", peer: "10.9.9.9", chain: [proxy])
        #expect(try #require(engine.requests.first).clientCertificate == nil)
        // From the trusted proxy with the header: the forwarded certificate, not the proxy's.
        let forwarded = try await send(try await makeResponder(engine), .post, "/token",
                                       headers: [("Client-Cert", ":\(client.base64EncodedString()):")], peer: "10.9.9.9", chain: [proxy])
        #expect(forwarded.status == 200)
        #expect(engine.requests.last?.clientCertificate?.chainDER == [client])
        // The same chain from a peer that is not a proxy is the client's own.
        _ = try await send(try await makeResponder(engine), .post, "/token", peer: "192.0.2.1", chain: [proxy])
        #expect(engine.requests.last?.clientCertificate?.chainDER == [proxy])
    }

    static let metricsDenied = #"{"error":"invalid_token","error_description":"the metrics endpoint needs the admin credential"}"#

    @Test func metricsNeedTheAdminTokenEvenFromLoopback() async throws {
        let issuer = "https://as.example"
        let pages = try await PageRenderer.bundled(basePath: "")
        let withToken = StrongroomResponder(engine: ServerStubEngine(), settings: ServerSettings(), issuer: issuer, pages: pages,
                                            listener: .main, logger: .init(label: "test"), metricsToken: "admin-secret")
        let noToken = StrongroomResponder(engine: ServerStubEngine(), settings: ServerSettings(), issuer: issuer, pages: pages,
                                          listener: .main, logger: .init(label: "test"))
        for (responder, auth) in [(withToken, nil), (withToken, "Bearer wrong"), (noToken, nil), (noToken, "Bearer ")] as [(StrongroomResponder<ServerStubEngine>, String?)] {
            for peer in ["127.0.0.1", "::1", "192.0.2.1"] {
                let r = try await send(responder, .get, "/metrics", headers: auth.map { [("Authorization", $0)] } ?? [], peer: peer)
                #expect(r.status == 401, "\(peer) \(auth ?? "no credential")")
                #expect(r.body == Self.metricsDenied)
                #expect(r.header("www-authenticate") == #"Bearer realm="strongroom""#)
            }
        }
        let ok = try await send(withToken, .get, "/metrics", headers: [("Authorization", "Bearer admin-secret")], peer: "127.0.0.1")
        #expect(ok.status == 200)
        #expect(ok.header("content-type") == "text/plain; version=0.0.4; charset=utf-8")
    }

    @Test func metricsPublicOpensTheExposition() async throws {
        let pages = try await PageRenderer.bundled(basePath: "")
        let open = StrongroomResponder(engine: ServerStubEngine(), settings: ServerSettings(), issuer: "https://as.example", pages: pages,
                                       listener: .main, logger: .init(label: "test"), metricsPublic: true)
        let r = try await send(open, .get, "/metrics", peer: "192.0.2.1")
        #expect(r.status == 200)
        #expect(r.header("content-type") == "text/plain; version=0.0.4; charset=utf-8")
    }

    @Test func demoCallbackIsServedOnlyWithDemoPages() async throws {
        let off = try await send(try await makeResponder(ServerStubEngine()), .get, "/demo/callback?code=abc&state=s")
        #expect(off.status == 404)
        #expect(off.body == #"{"error":"not_found"}"#)
        let demo = try await makeResponder(ServerStubEngine(), settings: ServerSettings(demoPages: true))
        let on = try await send(demo, .get, "/demo/callback?code=abc&state=s")
        #expect(on.status == 200)
        #expect(on.header("content-type")?.hasPrefix("text/html") == true)
        #expect(on.body.contains("abc"))
    }

    @Test func engineErrorsBecomeJSONWithoutInternals() async throws {
        struct Boom: Error { var secret = "db password is hunter2" }
        let engine = ServerStubEngine()
        engine.failWith = Boom()
        let r = try await send(try await makeResponder(engine), .post, "/token")
        #expect(r.status == 500)
        #expect(r.body == #"{"error":"server_error"}"#)
        engine.failWith = OAuthError.invalidGrant("code expired", detail: "internal detail")
        let r2 = try await send(try await makeResponder(engine), .post, "/token")
        #expect(r2.status == 400)
        #expect(r2.body.contains("invalid_grant") && !r2.body.contains("internal detail"))
    }

    @Test func loginPageIsRenderedEscapedWithSecurityHeaders() async throws {
        let engine = ServerStubEngine()
        engine.authorizeOutcome = .interact(Self.ticket)
        let r = try await send(try await makeResponder(engine), .get, "/authorize?client_id=client-1")
        #expect(r.status == 200)
        #expect(r.header("content-type") == "text/html; charset=utf-8")
        #expect(r.header("content-security-policy")?.contains("frame-ancestors 'none'") == true)
        #expect(r.header("content-security-policy")?.contains("form-action 'self'") == true)
        #expect(r.header("x-frame-options") == "DENY")
        #expect(r.header("cache-control") == "no-store")
        #expect(r.header("referrer-policy") == "no-referrer")
        #expect(r.header("x-content-type-options") == "nosniff")
        #expect(r.body.contains("&lt;b&gt;Evil&lt;/b&gt; &amp; Co"))
        #expect(!r.body.contains("<b>Evil</b>"))
        #expect(r.body.contains(#"name="interaction_id" value="int-1""#))
        #expect(r.body.contains("autofocus"))
        #expect(r.body.contains(#"<label for="username">"#) && r.body.contains(#"id="username""#))
        #expect(r.body.contains(#"role="alert">Wrong username or password"#))
        #expect(r.body.contains(#"<html lang="en">"#))
    }

    @Test func errorPageIs400AndNeverRedirects() async throws {
        let engine = ServerStubEngine()
        engine.authorizeOutcome = .errorPage(OAuthError(.invalidRequest, "redirect_uri <script>alert(1)</script> is not registered"))
        let r = try await send(try await makeResponder(engine), .get, "/authorize")
        #expect(r.status == 400)
        #expect(r.header("location") == nil)
        #expect(r.body.contains("invalid_request"))
        #expect(r.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(!r.body.contains("<script>"))
    }

    @Test func loginSetsTheSessionCookieAndRendersNext() async throws {
        let engine = ServerStubEngine()
        var consent = Self.ticket
        consent.step = .consent
        consent.username = "alice"
        consent.claims = [RequestedClaim(name: "acr", essential: true)]
        consent.acrValues = ["urn:mace:incommon:iap:silver"]
        engine.loginOutcome = .loggedIn(ServerStubEngine.session, next: .interact(consent))
        let r = try await send(try await makeResponder(engine), .post, "/login",
                               headers: [("content-type", "application/x-www-form-urlencoded")],
                               body: "interaction_id=int-1&username=alice&password=pw")
        #expect(r.status == 200)
        #expect(r.header("set-cookie") == SessionCookie.set(value: "sess-NEW_1", expiresAt: ServerStubEngine.session.expiresAt))
        #expect(r.body.contains(#"name="csrf_token" value="csrf-1""#))
        #expect(r.body.contains(#"name="decision" value="approve""#) && r.body.contains(#"name="decision" value="deny""#))
        #expect(r.body.contains("Read your &lt;accounts&gt;"))
        #expect(r.body.contains("FAPI 1.0 Advanced"))
        #expect(r.body.contains("urn:mace:incommon:iap:silver"))
        #expect(r.body.contains("(required)"))
    }

    @Test func consentWithoutSessionShowsErrorPage() async throws {
        let engine = ServerStubEngine()
        let r = try await send(try await makeResponder(engine), .post, "/consent",
                               headers: [("content-type", "application/x-www-form-urlencoded")],
                               body: "interaction_id=i&csrf_token=c&decision=approve")
        #expect(r.status == 400)
        #expect(r.body.contains("login_required"))
        #expect(engine.requests.isEmpty)
    }

    @Test func consentWithSessionReturnsEngineRedirect() async throws {
        let engine = ServerStubEngine()
        engine.knownSession = ServerStubEngine.session
        let r = try await send(try await makeResponder(engine), .post, "/consent",
                               headers: [("content-type", "application/x-www-form-urlencoded"), ("cookie", "strongroom_session=sess-OK")],
                               body: "interaction_id=i&csrf_token=csrf-1&decision=deny")
        #expect(r.status == 303)
        #expect(r.header("location") == "https://client.example/cb?error=access_denied")
    }

    @Test func grantsPageListsGrantsOrExplainsSignIn() async throws {
        let engine = ServerStubEngine()
        let anonymous = try await send(try await makeResponder(engine), .get, "/grants")
        #expect(anonymous.status == 200)
        #expect(anonymous.body.contains("You are not signed in"))
        engine.knownSession = ServerStubEngine.session
        engine.grantList = [GrantView(id: "g1", clientID: "c1", clientName: "Budget <App>",
                                      scopes: [ScopeDefinition(name: "openid")], createdAt: Date(timeIntervalSince1970: 0))]
        let r = try await send(try await makeResponder(engine), .get, "/grants", headers: [("cookie", "strongroom_session=sess-OK")])
        #expect(r.body.contains("Budget &lt;App&gt;"))
        #expect(r.body.contains(#"name="grant_id" value="g1""#))
        #expect(r.body.contains("1 January 1970"))
    }

    /// The grants page's revoke form over the real engine (`Engine.revokeGrant`): a forged CSRF token
    /// leaves the grant and every token issued under it working; the session's own token revokes both.
    @Test func grantRevocationNeedsTheSessionsCSRFTokenAndRevokesTheTokens() async throws {
        typealias H = EngineHarness
        let h = try await H.make()
        defer { Task { await h.close() } }
        // Sign in and consent (client "plain": authorization code, refresh tokens).
        let outcome = await h.engine.authorize(H.get("/authorize", [("client_id", "plain"), ("redirect_uri", H.redirect), ("response_type", "code"),
                                                                    ("scope", "openid profile offline_access"), ("state", "s")]), session: nil)
        guard case .interact(let ticket) = outcome else { Issue.record("expected login, got \(outcome)"); return }
        var loginRequest = H.post("/login", [])
        loginRequest.browserBinding = ticket.browserCookie
        let login = await h.engine.login(interactionID: ticket.interactionID, username: "alice", password: "wonderland-test", request: loginRequest)
        guard case .loggedIn(let session, .interact(let consentTicket)) = login else { Issue.record("expected consent, got \(login)"); return }
        let cookie = try #require(session.cookieValue)
        let consent = await h.engine.consent(interactionID: consentTicket.interactionID, approve: true, csrfToken: session.csrfToken,
                                             session: session, request: H.post("/consent", []))
        guard case .respond(let redirect) = consent else { Issue.record("expected a redirect, got \(consent)"); return }
        let code = try #require(H.redirectParams(redirect)["code"])
        let basic = "Basic " + Data("plain:plain-secret-0123456789-0123456789".utf8).base64EncodedString()
        let token = await h.engine.token(H.post("/token", [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", H.redirect)],
                                                headers: [("authorization", basic)]))
        #expect(token.status == 200, "\(String(decoding: token.body, as: UTF8.self))")
        let access = try #require(JSONValue.from(token)["access_token"]?.stringValue)
        let refresh = try #require(JSONValue.from(token)["refresh_token"]?.stringValue)
        let grantID = try #require(await h.engine.grants(for: session).first?.id)

        let pages = try await PageRenderer.bundled(basePath: "")
        let responder = StrongroomResponder(engine: h.engine, settings: ServerSettings(), issuer: H.issuer, pages: pages, listener: .main,
                                            logger: .init(label: "test"))
        let form = [("content-type", "application/x-www-form-urlencoded"), ("cookie", "strongroom_session=\(cookie)")]
        func userinfo() async throws -> ServerTestResponse {
            try await send(responder, .get, "/userinfo", headers: [("authorization", "Bearer \(access)")])
        }
        #expect(try await userinfo().status == 200)

        // A forged CSRF token: the error page, and the grant and its token stay active.
        for forgedToken in ["wrong", "", String(session.csrfToken.dropLast())] {
            let forged = try await send(responder, .post, "/grants/revoke", headers: form, body: "grant_id=\(grantID)&csrf_token=\(forgedToken)")
            #expect(forged.status == 400, "csrf_token=\(forgedToken)")
            #expect(forged.header("location") == nil)
            #expect(forged.body.contains("This access could not be revoked."))
        }
        #expect(await h.engine.grants(for: session).map(\.id) == [grantID])
        let still = try await userinfo()
        #expect(still.status == 200, "\(still.body)")
        #expect(JSONValue.parse(Data(still.body.utf8))?["sub"]?.stringValue == session.subject)

        // The session's own CSRF token: revoked, back to the list, and the tokens refused.
        let revoke = try await send(responder, .post, "/grants/revoke", headers: form, body: "grant_id=\(grantID)&csrf_token=\(session.csrfToken)")
        #expect(revoke.status == 303)
        #expect(revoke.header("location") == "/grants")
        #expect(await h.engine.grants(for: session).isEmpty)
        let refused = try await userinfo()
        #expect(refused.status == 401)
        #expect(refused.body == #"{"error":"invalid_token","error_description":"the access token has been revoked"}"#)
        #expect(refused.header("www-authenticate")?.contains(#"error="invalid_token""#) == true)
        let refreshed = await h.engine.token(H.post("/token", [("grant_type", "refresh_token"), ("refresh_token", refresh)],
                                                    headers: [("authorization", basic)]))
        #expect(refreshed.status == 400)
        #expect(JSONValue.from(refreshed)["error"]?.stringValue == "invalid_grant")
    }

    @Test func logoutClearsTheCookie() async throws {
        let engine = ServerStubEngine()
        engine.knownSession = ServerStubEngine.session
        let r = try await send(try await makeResponder(engine), .post, "/logout",
                               headers: [("content-type", "application/x-www-form-urlencoded"), ("cookie", "strongroom_session=sess-OK")],
                               body: "csrf_token=csrf-1")
        #expect(r.status == 303)
        #expect(r.header("set-cookie") == SessionCookie.clear())
    }
}

/// Collects a response body written by Hummingbird.
final class BodyCollector: ResponseBodyWriter {
    var text = ""
    func write(_ buffer: ByteBuffer) async throws { text += String(buffer: buffer) }
    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
