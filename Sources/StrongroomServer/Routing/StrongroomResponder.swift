import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import StrongroomCore
import StrongroomEngine
import StrongroomJOSE

/// Per-request transport facts taken from the connection: the TCP peer and the TLS client chain.
public struct StrongroomRequestContext: InitializableFromSource<ApplicationRequestContextSource>, Sendable {
    public var remoteAddress: String?
    public let logger: Logger
    /// The client certificate chain of this connection's TLS handshake (DER, leaf first), read lazily.
    let presentedChain: @Sendable () async -> [Data]?

    public init(source: ApplicationRequestContextSource) {
        let channel = source.channel
        self.logger = source.logger
        if let connection = ConnectionFacts.current, connection.channel === channel {
            // Read once per connection, not once per request: the peer and the TLS chain cannot change.
            self.remoteAddress = connection.remoteAddress
            self.presentedChain = { await connection.presentedChain() }
        } else {
            self.remoteAddress = channel.remoteAddress?.ipAddress
            self.presentedChain = { await channel.strongroomPresentedChainDER() }
        }
    }

    /// For in-process tests: no socket.
    public init(remoteAddress: String?, presentedChain: [Data]? = nil, logger: Logger = Logger(label: "strongroom.http.test")) {
        self.remoteAddress = remoteAddress
        self.logger = logger
        self.presentedChain = { presentedChain }
    }
}

/// Translates HTTP requests into engine calls and engine results into HTTP responses.
/// No protocol decision is taken here.
public struct StrongroomResponder<E: EngineEndpoints>: HTTPResponder {
    public typealias Context = StrongroomRequestContext

    let engine: E
    let settings: ServerSettings
    let routes: RouteTable
    let pages: PageRenderer
    let listener: Listener
    let proxies: TrustedProxies
    let logger: Logger
    /// The admin credential, which also guards `/metrics` (nil: metrics refused unless public).
    let metricsToken: String?
    /// `metrics.public`: `/metrics` answers without a credential.
    let metricsPublic: Bool
    /// `server.client_certificate_header` lower-cased, its `-chain` companion, and every header name
    /// that never reaches the engine as an ordinary header (worked out once, not per request).
    let certificateHeader: String
    let chainHeader: String
    let strippedHeaders: Set<String>

    public init(engine: E, settings: ServerSettings, issuer: String, pages: PageRenderer, listener: Listener, logger: Logger,
                metricsToken: String? = nil, metricsPublic: Bool = false) {
        self.metricsToken = metricsToken
        self.metricsPublic = metricsPublic
        self.engine = engine
        self.settings = settings
        self.routes = RouteTable(issuer: issuer, resourceAPI: settings.resourceAPI, demoPages: settings.demoPages)
        self.pages = pages
        self.listener = listener
        self.proxies = TrustedProxies(settings.trustedProxies)
        self.logger = logger
        self.certificateHeader = settings.clientCertificateHeader.lowercased()
        self.chainHeader = ClientCertificateSource.chainHeaderName(for: certificateHeader)
        self.strippedHeaders = ClientCertificateSource.strippedHeaderNames(certificateHeader: certificateHeader)
    }

    public func respond(to request: Request, context: Context) async throws -> Response {
        let start = ContinuousClock.now
        let interactionID = InteractionID.resolve(request.headers[HTTPResponses.interactionIDName])
        let method = request.method.rawValue
        let path = request.uri.path

        let endpoint: Endpoint
        var result: EngineResponse
        if request.method == .connect {
            // CONNECT would turn the connection into a tunnel: refused with a framed answer, and the
            // connection closed, so neither side waits for bytes that never come.
            (endpoint, result) = (.unmatched, HTTPResponses.methodNotAllowed(allowed: []))
            result.headers.removeAll { $0.name == "Allow" }
            result.headers.append(Param("Connection", "close"))
        } else {
            switch routes.match(method: method, path: path) {
            case .notFound:
                (endpoint, result) = (.unmatched, HTTPResponses.notFound)
            case .methodNotAllowed(let allowed):
                (endpoint, result) = (.unmatched, HTTPResponses.methodNotAllowed(allowed: allowed))
            case .endpoint(let e, let clientID):
                endpoint = e
                result = await handle(e, clientID: clientID, request: request, context: context, interactionID: interactionID)
            }
        }

        let elapsed = ContinuousClock.now - start
        let nanos = elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
        ServerMetrics.record(endpoint: endpoint, status: result.status, nanoseconds: nanos)
        // Method, path, status and timing only: never the query, body, cookies or Authorization header.
        let level: Logger.Level = (endpoint == .health || endpoint == .metrics) ? .debug : .info
        logger.log(level: level, "request", metadata: [
            "fapi.interaction_id": .string(interactionID),
            "http.method": .string(method),
            "http.path": .string(path),
            "http.status": .stringConvertible(result.status),
            "duration_ms": .string(String(format: "%.2f", Double(nanos) / 1_000_000)),
            "endpoint": .string(endpoint.rawValue),
            "listener": .string(listener.rawValue),
        ])
        return HTTPResponses.hummingbird(result, interactionID: interactionID)
    }

    /// `/metrics` is answered when `metrics.public` opens it, or for the `admin.token` bearer credential.
    /// The peer address is not a credential: behind a reverse proxy on the same host every request
    /// comes from loopback.
    func metricsAllowed(_ request: Request) -> Bool {
        if metricsPublic { return true }
        guard let expected = metricsToken, !expected.isEmpty, let auth = request.headers[.authorization] else { return false }
        let parts = auth.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
        return constantTimeEquals(String(parts[1]), expected)
    }

    // MARK: Translation

    func handle(_ endpoint: Endpoint, clientID: String?, request: Request, context: Context, interactionID: String) async -> EngineResponse {
        if endpoint == .metrics {
            // The exposition is for operators: the admin credential must be presented (Prometheus sends it
            // as a bearer token) unless the operator opened it with `metrics.public`.
            guard metricsAllowed(request) else {
                return EngineResponse(status: 401, headers: [Param("WWW-Authenticate", "Bearer realm=\"strongroom\""),
                                                             Param("Content-Type", "application/json"), Param("Cache-Control", "no-store")],
                                      body: Data(#"{"error":"invalid_token","error_description":"the metrics endpoint needs the admin credential"}"#.utf8))
            }
            return EngineResponse(status: 200, headers: [
                Param("Content-Type", "text/plain; version=0.0.4; charset=utf-8"), Param("Cache-Control", "no-store"),
            ], body: ServerMetrics.exposition())
        }
        let transport: TransportRequest
        do {
            guard let t = try await translate(request, context: context, interactionID: interactionID) else {
                return HTTPResponses.bodyTooLarge
            }
            transport = t
        } catch {
            // The connection failed while reading the body; nothing useful can be answered.
            logger.debug("request body read failed", metadata: ["fapi.interaction_id": .string(interactionID)])
            return HTTPResponses.jsonError("invalid_request", "request body could not be read", status: 400)
        }
        do {
            return try await dispatch(endpoint, clientID: clientID, transport)
        } catch let error as OAuthError {
            logger.notice("request refused", metadata: [
                "fapi.interaction_id": .string(interactionID), "error": .string(error.description),
            ])
            return isPage(endpoint) ? errorPage(error, interactionID: interactionID) : .oauthError(error)
        } catch {
            logger.error("unexpected error", metadata: [
                "fapi.interaction_id": .string(interactionID), "endpoint": .string(endpoint.rawValue),
                "error.type": .string(String(reflecting: type(of: error))),
            ])
            return isPage(endpoint)
                ? errorPage(.serverError(detail: "unexpected"), interactionID: interactionID)
                : HTTPResponses.serverError
        }
    }

    func isPage(_ e: Endpoint) -> Bool {
        [.authorize, .login, .consent, .grants, .grantsRevoke, .logout].contains(e)
    }

    /// Builds the engine's request value; nil when the body exceeds `server.max_body_size`.
    func translate(_ request: Request, context: Context, interactionID: String) async throws -> TransportRequest? {
        let limit = settings.maxBodySize
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limit { return nil }
        var body = Data()
        for try await chunk in request.body {
            guard body.count + chunk.readableBytes <= limit else { return nil }
            body.append(contentsOf: chunk.readableBytesView)
        }

        var headers: [Param] = []
        headers.reserveCapacity(request.headers.count)
        var forwardedCertificate: String?
        var forwardedCertificateCount = 0
        var forwardedChain: String?
        for field in request.headers {
            let name = field.name.canonicalName
            if name == certificateHeader {
                forwardedCertificate = forwardedCertificate ?? field.value
                forwardedCertificateCount += 1
            }
            if name == chainHeader {
                forwardedChain = forwardedChain.map { $0 + ", " + field.value } ?? field.value
            }
            if strippedHeaders.contains(name) { continue }
            headers.append(Param(name, field.value))
        }

        // A proxy that appends instead of replacing would put a client-supplied copy first: with more
        // than one certificate header, none is believed.
        if forwardedCertificateCount > 1 {
            forwardedCertificate = nil
            forwardedChain = nil
        }
        let trustedPeer = proxies.contains(context.remoteAddress)
        let tlsChain = await context.presentedChain()
        let decision = ClientCertificateSource.decide(
            tlsChain: tlsChain, peerIsTrustedProxy: trustedPeer,
            forwardedCertificate: forwardedCertificate, forwardedChain: forwardedChain
        )
        if case .forwarded = decision {} else if forwardedCertificate != nil, !trustedPeer {
            logger.notice("ignored forwarded client certificate from an untrusted peer", metadata: [
                "fapi.interaction_id": .string(interactionID),
            ])
        }
        let certificate = ClientCertificateSource.certificate(for: decision)
        if certificate == nil, decision != .none {
            logger.notice("client certificate could not be parsed", metadata: ["fapi.interaction_id": .string(interactionID)])
        }

        let parsedQuery = FormCoding.decode(request.uri.query ?? "")
        var transport = TransportRequest(
            method: request.method.rawValue,
            path: routes.relativePath(request.uri.path) ?? request.uri.path,
            query: parsedQuery ?? [],
            headers: headers,
            body: body,
            clientCertificate: certificate,
            remoteAddress: context.remoteAddress,
            listener: listener,
            interactionID: interactionID
        )
        transport.queryIsMalformed = parsedQuery == nil
        transport.browserBinding = SessionCookie.value(named: BrowserCookie.name, fromCookieHeaders: transport.headers("cookie"))
        return transport
    }

    // MARK: Dispatch

    func dispatch(_ endpoint: Endpoint, clientID: String?, _ req: TransportRequest) async throws -> EngineResponse {
        switch endpoint {
        case .authorize:
            let session = await currentSession(req)
            return outcome(try await engine.authorize(req, session: session), session: session, req)
        case .login:
            let form = req.form
            let outcomeValue = try await engine.login(
                interactionID: Self.field("interaction_id", form), username: Self.field("username", form),
                password: Self.field("password", form), request: req
            )
            switch outcomeValue {
            case .failed(let o):
                return outcome(o, session: nil, req)
            case .loggedIn(let session, let next):
                var r = outcome(next, session: session, req)
                if let value = session.cookieValue {
                    r.headers.append(Param("Set-Cookie", SessionCookie.set(value: value, expiresAt: session.expiresAt)))
                }
                return r
            }
        case .consent:
            let form = req.form
            guard let session = await currentSession(req) else {
                return errorPage(OAuthError(.loginRequired, "Your sign-in session has ended. Return to the application and start again."),
                                 interactionID: req.interactionID)
            }
            let approve: Bool
            switch Self.field("decision", form) {
            case "approve": approve = true
            case "deny": approve = false
            default:
                return errorPage(.invalidRequest("The consent decision is missing."), interactionID: req.interactionID)
            }
            let o = try await engine.consent(
                interactionID: Self.field("interaction_id", form), approve: approve,
                csrfToken: Self.field("csrf_token", form), session: session, request: req
            )
            return outcome(o, session: session, req)
        case .grants:
            guard let session = await currentSession(req) else {
                return HTTPResponses.page(pages.grants(session: nil, grants: []))
            }
            return HTTPResponses.page(pages.grants(session: session, grants: try await engine.grants(for: session)))
        case .grantsRevoke:
            let grantsPath = routes.basePath + "/grants"
            guard let session = await currentSession(req) else { return HTTPResponses.seeOther(grantsPath) }
            let form = req.form
            let revoked = try await engine.revokeGrant(
                id: Self.field("grant_id", form), csrfToken: Self.field("csrf_token", form), session: session
            )
            guard revoked else {
                return errorPage(.invalidRequest("This access could not be revoked. Reload the page and try again."),
                                 interactionID: req.interactionID)
            }
            return HTTPResponses.seeOther(grantsPath)
        case .logout:
            let grantsPath = routes.basePath + "/grants"
            guard let cookie = SessionCookie.value(fromCookieHeaders: req.headers("cookie")) else {
                return HTTPResponses.seeOther(grantsPath, headers: [Param("Set-Cookie", SessionCookie.clear())])
            }
            guard try await engine.logout(cookieValue: cookie, csrfToken: Self.field("csrf_token", req.form)) else {
                return errorPage(.invalidRequest("The sign-out form has expired. Reload the page and try again."),
                                 interactionID: req.interactionID)
            }
            return HTTPResponses.seeOther(grantsPath, headers: [Param("Set-Cookie", SessionCookie.clear())])
        case .par: return try await engine.pushedAuthorizationRequest(req)
        case .token: return try await engine.token(req)
        case .introspect: return try await engine.introspect(req)
        case .revoke: return try await engine.revoke(req)
        case .userinfo: return try await engine.userinfo(req)
        case .register: return try await engine.register(req)
        case .registration: return try await engine.manageRegistration(req, clientID: clientID ?? "")
        case .discoveryOpenID, .discoveryOAuth: return try await engine.discovery(req)
        case .jwks: return try await engine.jwks(req)
        case .accounts, .payments: return try await engine.resource(req)
        case .admin: return try await engine.admin(req)
        case .health: return try await engine.health()
        case .demoCallback: return HTTPResponses.page(pages.callback(req.method == "POST" ? req.form : req.query))
        case .metrics, .unmatched: return HTTPResponses.notFound
        }
    }

    /// Renders an authorization-step outcome: engine responses as they are, pages for interaction and errors.
    func outcome(_ o: AuthorizationOutcome, session: BrowserSession?, _ req: TransportRequest) -> EngineResponse {
        switch o {
        case .respond(let r):
            return r
        case .errorPage(let e):
            return errorPage(e, interactionID: req.interactionID)
        case .interact(let ticket):
            var page: EngineResponse
            let retry = ticket.retryAfter.map { [Param("Retry-After", String($0))] } ?? []
            switch ticket.step {
            case .login:
                page = HTTPResponses.page(pages.login(ticket), status: ticket.status, headers: retry)
            case .consent:
                page = HTTPResponses.page(pages.consent(ticket, csrfToken: session?.csrfToken ?? ""), status: ticket.status, headers: retry)
            }
            if let binding = ticket.browserCookie {
                page.headers.append(Param("Set-Cookie", BrowserCookie.set(value: binding)))
            }
            return page
        }
    }

    /// Errors that must not be redirected (RFC 6749 §4.1.2.1) are shown to the user, HTTP 400
    /// (500 for `server_error`; a refusal for load with its own status, 429 or 503, and `Retry-After`).
    func errorPage(_ e: OAuthError, interactionID: String) -> EngineResponse {
        if let seconds = e.retryAfter {
            return HTTPResponses.page(pages.error(e, interactionID: interactionID), status: e.status,
                                      headers: [Param("Retry-After", String(seconds))])
        }
        let status = e.code == .serverError ? 500 : 400
        return HTTPResponses.page(pages.error(e, interactionID: interactionID), status: status)
    }

    func currentSession(_ req: TransportRequest) async -> BrowserSession? {
        guard let cookie = SessionCookie.value(fromCookieHeaders: req.headers("cookie")) else { return nil }
        return (try? await engine.session(cookieValue: cookie)) ?? nil
    }

    static func field(_ name: String, _ form: [Param]) -> String {
        form.first { $0.name == name }?.value ?? ""
    }
}
