import Foundation
import Logging
import StrongroomCore
import StrongroomJOSE
import StrongroomPolicy
import StrongroomStorage

extension Engine {
    /// GET/POST /authorize (RFC 6749 §4.1, OIDC Core §3.1.2, RFC 9126 §4, RFC 9101).
    ///
    /// Every request is counted against its address (`limits.authorize.per_address`) before
    /// anything is read, then against its client once `client_id` names one: over either, an
    /// error page with HTTP 429 (the redirect URI is not validated yet).
    public func authorize(_ request: TransportRequest, session: BrowserSession?) async -> AuthorizationOutcome {
        if let refusal = limiter.take(.authorize, address: request.remoteAddress) {
            let e = tooManyRequests(refusal, from: "address")
            logRefusal(e, endpoint: "authorization", profile: nil, request: request)
            return .errorPage(e)
        }
        let params: [Param]
        switch request.method {
        case "GET":
            guard !request.queryIsMalformed else {
                return .errorPage(.invalidRequest("the query string is malformed (bad percent-encoding or not UTF-8)"))
            }
            params = request.query
        case "POST":
            guard request.contentType == "application/x-www-form-urlencoded" else {
                return .errorPage(.invalidRequest("POST to the authorization endpoint must be application/x-www-form-urlencoded"))
            }
            do { params = try request.formParameters() } catch { return .errorPage(error) }
        default:
            return .errorPage(OAuthError(.invalidRequest, "method not allowed", status: 405))
        }
        do {
            let validated = try await resolveAuthorization(params, request: request)
            return await proceed(validated, session: session, request: request)
        } catch {
            return failureOutcome(error, request: request)
        }
    }

    func failureOutcome(_ failure: AuthorizationFailure, request: TransportRequest) -> AuthorizationOutcome {
        switch failure {
        case .page(let e, let profile):
            logRefusal(e, endpoint: "authorization", profile: profile, request: request)
            return .errorPage(e.redirecting(false))
        case .redirect(let e, let target):
            logRefusal(e, endpoint: "authorization", profile: target.profile, request: request, clientID: target.client.clientID)
            return .respond(errorResponse(e, target: target))
        }
    }

    /// Finds the client, resolves PAR/request objects and validates.
    func resolveAuthorization(_ params: [Param], request: TransportRequest) async throws(AuthorizationFailure) -> ValidatedAuthorization {
        if let dup = params.hasDuplicates() { throw .page(.invalidRequest("parameter \(ErrorText.quoted(dup)) is repeated"), profile: nil) }
        let dict = params.dictionary
        guard let clientID = dict["client_id"], !clientID.isEmpty else {
            throw .page(.invalidRequest("client_id is required"), profile: nil)
        }
        let client: Client
        do {
            guard let c = try await clients.lookup(clientID) else { throw AuthorizationFailure.page(.invalidRequest("unknown client_id"), profile: nil) }
            client = c
        } catch let f as AuthorizationFailure { throw f } catch {
            throw .page(.failure(error, "client lookup"), profile: nil)
        }
        if let refusal = limiter.take(.authorize, client: client.clientID) {
            throw .page(tooManyRequests(refusal, from: "client"), profile: nil)
        }
        var pushed: PushedRequestRecord?
        var parHash: String?
        if let uri = dict["request_uri"], uri.hasPrefix(Self.parURNPrefix) {
            let hash = hasher.hash(uri)
            let record: PushedRequestRecord?
            do { record = try await storage.pushedRequest(hash: hash) } catch {
                throw .page(.failure(error, "PAR lookup"), profile: nil)
            }
            guard let record, record.consumedAt == nil, record.expiresAt > now else {
                throw .page(.init(.invalidRequestURI, "request_uri is unknown, expired or already used"), profile: nil)
            }
            guard record.clientID == client.clientID else {
                throw .page(.init(.invalidRequestURI, "request_uri was issued to another client"), profile: nil)
            }
            pushed = record
            parHash = hash
        }
        var validated = try await authorizationValidator.validate(outer: params, client: client, channel: .authorizationEndpoint, pushed: pushed)
        validated.parHash = parHash
        return validated
    }

    /// After validation: log in, consent, or answer at once.
    func proceed(_ v: ValidatedAuthorization, session: BrowserSession?, request: TransportRequest) async -> AuthorizationOutcome {
        logger.info("authorization request accepted", metadata: [
            "client_id": "\(v.clientID)", "profile": "\(v.profile.rawValue)", "profile_reason": "\(v.profileReason)",
            "x-fapi-interaction-id": "\(request.interactionID)",
        ])
        let target = await redirectTarget(v)
        var usable = session
        if let s = session {
            // select_account: the built-in login has one account per sign-in, so the user signs in again to choose.
            if v.prompt.contains("login") || v.prompt.contains("select_account") { usable = nil }
            if let maxAge = v.maxAge, s.authTime.addingTimeInterval(TimeInterval(maxAge)) < now { usable = nil }
        }
        if v.prompt.contains("none") {
            guard let s = usable else { return .respond(errorResponse(OAuthError(.loginRequired, "the user is not signed in").redirecting(), target: target)) }
            guard await consentCovers(v, subject: s.subject) else {
                return .respond(errorResponse(OAuthError(.consentRequired, "the user has not consented to this request").redirecting(), target: target))
            }
            return await issue(v, subject: s.subject, authTime: s.authTime, grantID: nil, request: request)
        }
        if let s = usable, !v.prompt.contains("consent"), await consentCovers(v, subject: s.subject) {
            return await issue(v, subject: s.subject, authTime: s.authTime, grantID: nil, request: request)
        }
        do {
            let id = random.token(bits: 256)
            var v = v
            let binding = request.browserBinding ?? random.token(bits: 256)
            v.browserHash = hasher.hash(binding)
            let encoded = try JSONValue(encoding: v)
            // The stored request is bounded (`limits.max_stored_authorization_request`): with the
            // per-address rate limit this bounds what unauthenticated requests can make a node keep.
            let size = encoded.serialized().count
            let cap = configuration.limits.maxStoredAuthorizationRequest
            guard size <= cap else {
                let e = OAuthError.invalidRequest("the authorization request is too large (\(size) bytes stored, at most \(cap))").redirecting()
                logRefusal(e, endpoint: "authorization", profile: v.profile, request: request, clientID: v.clientID)
                return .respond(errorResponse(e, target: target))
            }
            try await storage.saveInteraction(InteractionRecord(
                idHash: hasher.hash(id), clientID: v.clientID, request: encoded, profile: v.profile,
                subject: usable?.subject, expiresAt: now.addingTimeInterval(TimeInterval(service.lifetimes.interaction)), createdAt: now))
            var t = await ticket(v, interactionID: id, step: usable == nil ? .login : .consent, username: usable?.username)
            if request.browserBinding == nil { t.browserCookie = binding }
            return .interact(t)
        } catch {
            return .respond(errorResponse(.failure(error, "interaction"), target: target))
        }
    }

    func redirectTarget(_ v: ValidatedAuthorization) async -> RedirectTarget {
        // The client is re-read for its JARM algorithm; a placeholder serves when it is gone.
        let client = (try? await clients.lookup(v.clientID)) ?? Client(clientID: v.clientID, metadata: ClientMetadata())
        return RedirectTarget(client: client, redirectURI: v.redirectURI, responseMode: v.responseMode, state: v.state, profile: v.profile)
    }

    func ticket(_ v: ValidatedAuthorization, interactionID: String, step: InteractionTicket.Step, username: String? = nil, message: String? = nil) async -> InteractionTicket {
        let client = try? await clients.lookup(v.clientID)
        let scopes = v.scopes.map { service.scope(named: $0) ?? ScopeDefinition(name: $0) }
        var claims: [RequestedClaim] = []
        for section in ["id_token", "userinfo"] {
            for (name, spec) in v.claims?[section]?.objectValue ?? [:] where !claims.contains(where: { $0.name == name }) {
                claims.append(RequestedClaim(name: name, essential: spec["essential"]?.boolValue ?? false))
            }
        }
        return InteractionTicket(
            step: step, interactionID: interactionID, clientID: v.clientID,
            clientName: client?.metadata.clientName ?? v.clientID, clientURI: client?.metadata.clientURI,
            scopes: scopes, claims: claims.sorted { $0.name < $1.name }, acrValues: v.acrValues, profile: v.profile,
            loginHint: v.loginHint, message: message, username: username)
    }

    /// Whether the user's remembered consent covers this request: every scope, and every claim it
    /// asks for by name (the `claims` parameter), either consented by name or implied by a
    /// consented scope (OIDC Core §5.4). Without it the user sees the consent page again, and
    /// `prompt=none` gets `consent_required`.
    func consentCovers(_ v: ValidatedAuthorization, subject: String) async -> Bool {
        guard let grant = try? await storage.activeGrant(subject: subject, clientID: v.clientID) else { return false }
        guard Set(v.scopes).isSubset(of: Set(grant.scopes)) else { return false }
        let consented = Set(grant.claims).union(grant.scopes.flatMap { Self.claimsByScope[$0] ?? [] })
        return Set(Self.requestedClaimNames(v.claims)).isSubset(of: consented)
    }

    /// The claim names a `claims` parameter asks for, in its `id_token` and `userinfo` members.
    static func requestedClaimNames(_ claims: JSONValue?) -> [String] {
        let names = ["id_token", "userinfo"].flatMap { claims?[$0]?.objectValue?.keys.map { $0 } ?? [] }
        return Array(Set(names)).sorted()
    }

    /// The standard claims each scope releases (OIDC Core §5.4).
    static let claimsByScope: [String: [String]] = [
        "profile": ["name", "given_name", "family_name", "middle_name", "nickname", "preferred_username", "profile", "picture",
                    "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at"],
        "email": ["email", "email_verified"], "address": ["address"], "phone": ["phone_number", "phone_number_verified"],
    ]

    /// POST /login: checks the password, opens a session, then continues the authorization.
    ///
    /// Abuse limits: every request is counted against its address (`limits.login.per_address`;
    /// over it, an error page with HTTP 429 before anything is read), then against the sign-in's
    /// client; a locked-out username gets the page again with 429; when every bcrypt slot is busy
    /// and the wait queue full (`limits.password_hashing`), the page again with 503. Each refusal
    /// says when to try again and carries `Retry-After`; the interaction stays usable.
    public func login(interactionID: String, username: String, password: String, request: TransportRequest) async -> LoginOutcome {
        if let refusal = limiter.take(.login, address: request.remoteAddress) {
            logger.notice("login refused: rate limit of the address", metadata: ["x-fapi-interaction-id": "\(request.interactionID)"])
            return .failed(.errorPage(.tooManyRequests(
                "Too many sign-in attempts from your network. Wait \(Self.seconds(refusal.retryAfter)), then go back and try again.",
                retryAfter: refusal.retryAfter)))
        }
        let hash = hasher.hash(interactionID)
        guard let record = try? await storage.interaction(idHash: hash), record.expiresAt > now,
              let v = try? record.request.decode(as: ValidatedAuthorization.self) else {
            return .failed(.errorPage(.invalidRequest("This sign-in has expired. Please return to the application and start again.")))
        }
        // Login CSRF: the form must come from the browser that started this request.
        if let expected = v.browserHash {
            guard let binding = request.browserBinding, hasher.matches(binding, hash: expected) else {
                logger.notice("login refused: browser binding missing or different", metadata: ["x-fapi-interaction-id": "\(request.interactionID)"])
                return .failed(.errorPage(.invalidRequest("This sign-in was started in another browser or the page has expired. Please return to the application and start again.")))
            }
        }
        /// The login page again, refused for load: the message, the status and `Retry-After`, the
        /// username kept in the form.
        func loginAgain(_ message: String, status: Int, retryAfter: Int) async -> LoginOutcome {
            var retry = await ticket(v, interactionID: interactionID, step: .login, message: message)
            retry.status = status
            retry.retryAfter = retryAfter
            if username.count <= 128 { retry.loginHint = username }
            return .failed(.interact(retry))
        }
        if let refusal = limiter.take(.login, client: v.clientID) {
            logger.notice("login refused: rate limit of the client", metadata: ["client_id": "\(v.clientID)", "x-fapi-interaction-id": "\(request.interactionID)"])
            return await loginAgain("Too many sign-ins at the moment. Try again in \(Self.seconds(refusal.retryAfter)).",
                                    status: 429, retryAfter: refusal.retryAfter)
        }
        if let wait = loginThrottle.lockedOut(username, now: now) {
            logger.notice("login refused: too many failures", metadata: ["x-fapi-interaction-id": "\(request.interactionID)"])
            let seconds = max(1, Int(wait.rounded(.up)))
            return await loginAgain("Too many unsuccessful attempts. Try again in \(Self.seconds(seconds)).", status: 429, retryAfter: seconds)
        }
        let throttle = loginThrottle
        let users = self.users
        guard let checked = await throttle.limited({ await users.authenticate(username: username, password: password) }) else {
            logger.notice("login shed: every password-hashing slot is busy and the queue is full",
                          metadata: ["x-fapi-interaction-id": "\(request.interactionID)"])
            return await loginAgain("The server is busy. Please try again in a few seconds.", status: 503,
                                    retryAfter: Self.loginShedRetryAfter)
        }
        guard let user = checked else {
            logger.info("login failed", metadata: ["client_id": "\(v.clientID)", "x-fapi-interaction-id": "\(request.interactionID)"])
            if throttle.failed(username, interaction: hash, now: now) {
                _ = try? await storage.consumeInteraction(idHash: hash)
                return .failed(.errorPage(.init(.accessDenied, "Too many unsuccessful sign-in attempts. Please return to the application and start again.")))
            }
            var retry = await ticket(v, interactionID: interactionID, step: .login, message: "The username or password is not right.")
            // Keep what the user typed so only the password needs entering again.
            if username.count <= 128 { retry.loginHint = username }
            return .failed(.interact(retry))
        }
        throttle.succeeded(username, interaction: hash)
        let cookie = random.token(bits: 256)
        let authTime = now
        let expires = now.addingTimeInterval(TimeInterval(service.lifetimes.session))
        let csrf = random.token(bits: 128)
        do {
            try await storage.saveSession(SessionRecord(idHash: hasher.hash(cookie), subject: user.subject, authTime: authTime,
                                                        acr: service.acrValues.first, amr: ["pwd"], csrfToken: csrf, expiresAt: expires))
            try await storage.setInteractionSubject(idHash: hash, subject: user.subject)
        } catch {
            return .failed(.errorPage(.failure(error, "session")))
        }
        let session = BrowserSession(cookieValue: cookie, subject: user.subject, username: user.username, csrfToken: csrf, authTime: authTime, expiresAt: expires)
        if !v.prompt.contains("consent"), await consentCovers(v, subject: user.subject) {
            // Only the request that consumes the interaction answers it (two racing logins issue one code).
            guard (try? await storage.consumeInteraction(idHash: hash)) != nil else {
                return .loggedIn(session, next: .errorPage(.invalidRequest("This request was already answered. Please return to the application.")))
            }
            return .loggedIn(session, next: await issue(v, subject: user.subject, authTime: authTime, grantID: nil, request: request))
        }
        return .loggedIn(session, next: .interact(await ticket(v, interactionID: interactionID, step: .consent, username: user.username)))
    }

    /// `Retry-After` of a sign-in shed because bcrypt is saturated: a few hashes' time.
    static let loginShedRetryAfter = 5

    /// POST /consent: approve or deny; the interaction is consumed either way.
    public func consent(interactionID: String, approve: Bool, csrfToken: String, session: BrowserSession, request: TransportRequest) async -> AuthorizationOutcome {
        guard constantTimeEquals(csrfToken, session.csrfToken) else {
            return .errorPage(.invalidRequest("The form has expired. Please return to the application and start again."))
        }
        let hash = hasher.hash(interactionID)
        guard let record = try? await storage.consumeInteraction(idHash: hash), record.expiresAt > now,
              let v = try? record.request.decode(as: ValidatedAuthorization.self) else {
            return .errorPage(.invalidRequest("This request has expired or was already answered. Please return to the application."))
        }
        if let subject = record.subject, subject != session.subject {
            return .errorPage(.invalidRequest("This request belongs to another sign-in."))
        }
        guard approve else {
            let e = OAuthError(.accessDenied, "the user denied the request").redirecting()
            logRefusal(e, endpoint: "consent", profile: v.profile, request: request, clientID: v.clientID)
            return .respond(errorResponse(e, target: await redirectTarget(v)))
        }
        var grantID: String? = nil
        do {
            let existing = try await storage.activeGrant(subject: session.subject, clientID: v.clientID)
            let scopes = Array(Set(v.scopes + (existing?.scopes ?? []))).sorted()
            let claimNames = Array(Set(Self.requestedClaimNames(v.claims) + (existing?.claims ?? []))).sorted()
            let grant = Grant(id: existing?.id ?? newID(), subject: session.subject, clientID: v.clientID, scopes: scopes,
                              claims: claimNames, createdAt: existing?.createdAt ?? now, updatedAt: now)
            try await storage.saveGrant(grant)
            grantID = grant.id
        } catch {
            return .respond(errorResponse(.failure(error, "grant"), target: await redirectTarget(v)))
        }
        return await issue(v, subject: session.subject, authTime: session.authTime, grantID: grantID, request: request)
    }

    public func session(cookieValue: String) async -> BrowserSession? {
        guard cookieValue.count <= 256, let s = try? await storage.session(idHash: hasher.hash(cookieValue)), s.expiresAt > now,
              let user = try? await storage.user(subject: s.subject) else { return nil }
        return BrowserSession(cookieValue: nil, subject: s.subject, username: user.username, csrfToken: s.csrfToken, authTime: s.authTime, expiresAt: s.expiresAt)
    }

    /// Signs the browser out. The form must carry the session's CSRF token (a cross-site post
    /// cannot sign a user out); false, and the session kept, when it does not. A cookie that names
    /// no live session is simply cleared.
    public func logout(cookieValue: String, csrfToken: String) async -> Bool {
        if let s = await session(cookieValue: cookieValue), !constantTimeEquals(csrfToken, s.csrfToken) { return false }
        try? await storage.deleteSession(idHash: hasher.hash(cookieValue))
        return true
    }

    public func grants(for session: BrowserSession) async -> [GrantView] {
        let grants = (try? await storage.grants(subject: session.subject)) ?? []
        var out: [GrantView] = []
        for g in grants where g.revokedAt == nil {
            let client = try? await storage.client(id: g.clientID)
            out.append(GrantView(id: g.id, clientID: g.clientID, clientName: client?.metadata.clientName ?? g.clientID,
                                 scopes: g.scopes.map { service.scope(named: $0) ?? ScopeDefinition(name: $0) }, createdAt: g.createdAt))
        }
        return out
    }

    /// Revokes a consent and every token issued under it.
    public func revokeGrant(id: String, csrfToken: String, session: BrowserSession) async -> Bool {
        guard constantTimeEquals(csrfToken, session.csrfToken),
              let grant = try? await storage.grant(id: id), grant.subject == session.subject else { return false }
        guard (try? await storage.revokeGrant(id: id, at: now)) == true else { return false }
        let n = await lineage.revoke(.grant(id))
        logger.notice("grant revoked by user", metadata: ["grant_id": "\(id)", "client_id": "\(grant.clientID)", "tokens_revoked": "\(n)"])
        return true
    }

    /// Issues the code (and, for hybrid, the ID token) and builds the response.
    func issue(_ v: ValidatedAuthorization, subject: String, authTime: Date, grantID: String?, request: TransportRequest) async -> AuthorizationOutcome {
        let target = await redirectTarget(v)
        do {
            guard let client = try await clients.lookup(v.clientID) else {
                return .errorPage(.invalidRequest("the client no longer exists"))
            }
            if let parHash = v.parHash {
                // RFC 9126 §4: the request_uri is single-use.
                guard try await storage.consumePushedRequest(hash: parHash, at: now) != nil else {
                    return .respond(errorResponse(OAuthError(.invalidRequestURI, "request_uri was already used").redirecting(), target: target))
                }
            }
            let acr = chooseACR(v)
            var grant = grantID
            if grant == nil { grant = try await storage.activeGrant(subject: subject, clientID: v.clientID)?.id }
            let code = random.token(bits: 256)
            let reqs = rules(Set(v.profiles ?? [v.profile])).requirements
            let lifetime = min(service.lifetimes.authorizationCode, reqs.maxCodeLifetime ?? Int.max)
            try await storage.saveCode(AuthorizationCodeRecord(
                codeHash: hasher.hash(code), id: newID(), clientID: v.clientID, subject: subject,
                redirectURI: (v.redirectURIPresent ?? true) ? v.redirectURI : nil,
                scopes: v.scopes, nonce: v.nonce, codeChallenge: v.codeChallenge, codeChallengeMethod: v.codeChallengeMethod,
                authTime: authTime, acr: acr, amr: ["pwd"], claimsRequest: v.claims, grantID: grant, profile: v.profile,
                dpopJKT: v.dpopJKT, expiresAt: now.addingTimeInterval(TimeInterval(lifetime)), createdAt: now))
            var params: [Param] = [Param("code", code)]
            if let state = v.state { params.append(Param("state", state)) }
            if v.responseType.includesIDToken {
                let idToken = try await tokenIssuer.idToken(client: client, subject: subject, nonce: v.nonce, authTime: authTime, acr: acr,
                                                    profile: v.profile, code: code, state: v.state, accessToken: nil,
                                                    claimsRequest: v.claims, scopes: v.scopes)
                params.append(Param("id_token", idToken))
            }
            logger.info("authorization code issued", metadata: ["client_id": "\(v.clientID)", "profile": "\(v.profile.rawValue)",
                                                                "x-fapi-interaction-id": "\(request.interactionID)"])
            return .respond(try deliver(params, target: target))
        } catch let e as OAuthError {
            return .respond(errorResponse(e.redirecting(), target: target))
        } catch {
            return .respond(errorResponse(.failure(error, "issue"), target: target))
        }
    }

    /// The ACR the session satisfies that the request asked for (OIDC Core §5.5.1.1).
    func chooseACR(_ v: ValidatedAuthorization) -> String? {
        if let match = v.acrValues.first(where: service.acrValues.contains) { return match }
        return service.acrValues.first
    }

    /// Builds the error response for a validated redirect target (RFC 6749 §4.1.2.1, JARM §4.1).
    func errorResponse(_ e: OAuthError, target: RedirectTarget) -> EngineResponse {
        var params = [Param("error", e.code.rawValue)]
        if !e.errorDescription.isEmpty { params.append(Param("error_description", e.errorDescription)) }
        if let state = target.state { params.append(Param("state", state)) }
        return (try? deliver(params, target: target)) ?? .redirect(target.redirectURI)
    }

    /// Delivers response parameters in the target's response mode.
    func deliver(_ params: [Param], target: RedirectTarget) throws(OAuthError) -> EngineResponse {
        var params = params
        if target.responseMode.isJARM {
            var claims: [String: JSONValue] = [
                "iss": .string(issuer), "aud": .string(target.client.clientID),
                "exp": unixTime(now.addingTimeInterval(TimeInterval(Self.authorizationResponseLifetime))), "iat": unixTime(now),
            ]
            for p in params { claims[p.name] = .string(p.value) }
            let alg = signingAlgorithm(registered: target.client.metadata.authorizationSignedResponseAlg,
                                       offered: service.algorithms.authorizationResponse, profile: target.profile)
            let jwt = try sign(claims, algorithm: alg)
            params = [Param("response", jwt)]
        } else if service.authorizationResponseIssParameter || rules(target.profile).requirements.requireIssResponseParameter {
            params.append(Param("iss", issuer))
        }
        switch target.responseMode {
        case .query, .queryJWT, .jwt:
            let sep = target.redirectURI.contains("?") ? "&" : "?"
            return .redirect(target.redirectURI + sep + FormCoding.encode(params))
        case .fragment, .fragmentJWT:
            return .redirect(target.redirectURI + "#" + FormCoding.encode(params))
        case .formPost, .formPostJWT:
            return formPost(target.redirectURI, params)
        }
    }

    /// OAuth 2.0 Form Post Response Mode: an auto-submitting form.
    func formPost(_ action: String, _ params: [Param]) -> EngineResponse {
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "\"", with: "&quot;")
                .replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "'", with: "&#39;")
        }
        let inputs = params.map { "<input type=\"hidden\" name=\"\(esc($0.name))\" value=\"\(esc($0.value))\">" }.joined(separator: "\n")
        let html = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>Returning to the application</title></head>
        <body onload="document.forms[0].submit()">
        <form method="post" action="\(esc(action))">
        \(inputs)
        <noscript><p>JavaScript is off. Press the button to continue.</p><button type="submit">Continue</button></noscript>
        </form></body></html>
        """
        return EngineResponse(status: 200, headers: [
            Param("Content-Type", "text/html; charset=utf-8"), Param("Cache-Control", "no-store"),
            Param("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; form-action *; frame-ancestors 'none'"),
            Param("Referrer-Policy", "no-referrer"),
        ], body: Data(html.utf8))
    }
}
