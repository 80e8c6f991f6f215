import Crypto
import Foundation
import Logging
@testable import StrongroomCore
import StrongroomDemo
@testable import StrongroomEngine
@testable import StrongroomJOSE
@testable import StrongroomStorage

/// An engine over in-memory SQLite with a test PKI, a movable clock, and helpers that drive the
/// authorization flow the way the pages would. Keys here are generated per run: test material only.
struct EngineHarness {
    static let issuer = "https://as.test"
    static let redirect = "https://rp.test/cb"
    let engine: Engine
    let clock: FixedTime
    let ca: DemoPKI.Issued
    let fapiKey: ServerSigningKey
    let fapiCert: ClientCertificate
    let otherKey: ServerSigningKey
    let otherCert: ClientCertificate
    let tmp: URL

    /// `configure` adjusts the configuration before the engine starts (e.g. `limits`).
    static func make(configure: (inout StrongroomConfiguration) -> Void = { _ in }) async throws -> EngineHarness {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("strongroom-engine-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        let ca = try DemoPKI.makeCA(commonName: "Strongroom Engine Test CA")
        try ca.certificatePEM.write(to: tmp.appendingPathComponent("ca.pem"), atomically: true, encoding: .utf8)
        let c1 = try DemoPKI.issueClientCertificate(ca: ca, commonName: "fapi-client", organization: "Test", keyAlgorithm: .ps256)
        let c2 = try DemoPKI.issueClientCertificate(ca: ca, commonName: "other-client", organization: "Test", keyAlgorithm: .es256)
        let k1 = try ServerSigningKey(privateKeyPEM: c1.privateKeyPEM, algorithm: .ps256)
        let k2 = try ServerSigningKey(privateKeyPEM: c2.privateKeyPEM, algorithm: .es256)
        let cert1 = try ClientCertificate.fromPEM(c1.certificatePEM)
        let cert2 = try ClientCertificate.fromPEM(c2.certificatePEM)

        var service = ServiceSettings(issuer: issuer)
        service.scopes += [
            ScopeDefinition(name: "accounts", description: "Read your accounts", attributes: [ScopeAttribute(key: "fapi", value: "r")]),
            ScopeDefinition(name: "payments", description: "Make payments", attributes: [ScopeAttribute(key: "fapi", value: "rw")]),
        ]
        service.registration.initialAccessTokens = ["test-initial-access-token"]
        func fapiMetadata(_ key: ServerSigningKey, method: ClientAuthMethod) -> ClientMetadata {
            var m = ClientMetadata(redirectURIs: [redirect], tokenEndpointAuthMethod: method,
                                   tokenEndpointAuthSigningAlg: method == .privateKeyJWT ? key.algorithm : nil,
                                   grantTypes: [.authorizationCode, .refreshToken, .clientCredentials],
                                   responseTypes: [.codeIDToken, .code], scope: "openid profile accounts payments offline_access",
                                   jwks: JWKSet(keys: [key.publicJWK]).json, tlsClientCertificateBoundAccessTokens: true,
                                   requestObjectSigningAlg: key.algorithm, idTokenSignedResponseAlg: key.algorithm)
            m.authorizationSignedResponseAlg = key.algorithm
            return m
        }
        var tlsMeta = fapiMetadata(k2, method: .tlsClientAuth)
        tlsMeta.tlsClientAuthSubjectDN = cert2.subjectDN
        var config = StrongroomConfiguration(
            service: service,
            server: ServerSettings(tlsCertificate: "unused", tlsPrivateKey: "unused", clientCATrustAnchors: [tmp.appendingPathComponent("ca.pem").path]),
            database: DatabaseSettings(url: "sqlite::memory:"),
            admin: AdminSettings(token: "test-admin-token"),
            secretHashKey: Data(repeating: 7, count: 32).base64EncodedString(),
            clients: [
                SeedClient(clientID: "fapi", metadata: fapiMetadata(k1, method: .privateKeyJWT)),
                SeedClient(clientID: "fapi-tls", metadata: tlsMeta),
                SeedClient(clientID: "plain", clientSecret: "plain-secret-0123456789-0123456789",
                           metadata: ClientMetadata(redirectURIs: [redirect], tokenEndpointAuthMethod: .clientSecretBasic,
                                                    grantTypes: [.authorizationCode, .refreshToken, .clientCredentials],
                                                    scope: "openid profile email offline_access")),
                SeedClient(clientID: "public", metadata: ClientMetadata(redirectURIs: [redirect], tokenEndpointAuthMethod: .none,
                                                                         scope: "openid accounts")),
                SeedClient(clientID: "public-plain", metadata: ClientMetadata(redirectURIs: [redirect], tokenEndpointAuthMethod: .none,
                                                                               scope: "openid profile email")),
            ],
            users: [SeedUser(username: "alice", password: "wonderland-test", claims: ["name": "Alice", "email": "alice@example.test"])])
        configure(&config)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let storage = try await SQLStorage.open(url: "sqlite::memory:", logger: logger)
        try await storage.migrate()
        let clock = FixedTime(Date())
        let engine = try await Engine.start(configuration: config, storage: storage, logger: logger, clock: clock)
        return EngineHarness(engine: engine, clock: clock, ca: ca, fapiKey: k1, fapiCert: cert1, otherKey: k2, otherCert: cert2, tmp: tmp)
    }

    func close() async {
        await engine.shutdown()
        try? await engine.storage.shutdown()
        try? FileManager.default.removeItem(at: tmp)
    }

    static func pkce() -> (verifier: String, challenge: String) {
        let v = SystemRandom().token(bits: 256)
        return (v, Base64URL.encode(Array(SHA256.hash(data: Data(v.utf8)))))
    }

    /// A request object signed with `key`, valid now unless claims override.
    func requestObject(_ claims: [String: JSONValue], key: ServerSigningKey? = nil, drop: [String] = []) throws -> String {
        let now = Int(clock.now().timeIntervalSince1970)
        var c: [String: JSONValue] = [
            "iss": "fapi", "aud": .string(Self.issuer), "exp": .number(Double(now + 300)), "nbf": .number(Double(now - 10)),
            "client_id": "fapi", "redirect_uri": .string(Self.redirect), "response_type": "code id_token",
            "scope": "openid payments", "state": "st-1", "nonce": "n-1",
        ]
        for (k, v) in claims { c[k] = v }
        for k in drop { c[k] = nil }
        return try (key ?? fapiKey).sign(payload: c)
    }

    func assertion(client: String = "fapi", key: ServerSigningKey? = nil, aud: JSONValue? = nil, exp: Int = 60, jti: String = UUID().uuidString) throws -> String {
        let now = Int(clock.now().timeIntervalSince1970)
        return try (key ?? fapiKey).sign(payload: [
            "iss": .string(client), "sub": .string(client), "aud": aud ?? .string(Self.issuer + "/token"),
            "exp": .number(Double(now + exp)), "iat": .number(Double(now)), "jti": .string(jti),
        ])
    }

    static func get(_ path: String, _ query: [(String, String)], cert: ClientCertificate? = nil) -> TransportRequest {
        TransportRequest(method: "GET", path: path, query: query.map { Param($0.0, $0.1) }, clientCertificate: cert)
    }

    static func post(_ path: String, _ form: [(String, String)], cert: ClientCertificate? = nil, headers: [(String, String)] = []) -> TransportRequest {
        TransportRequest(method: "POST", path: path, headers: [Param("content-type", "application/x-www-form-urlencoded")] + headers.map { Param($0.0, $0.1) },
                         body: Data(FormCoding.encode(form.map { Param($0.0, $0.1) }).utf8), clientCertificate: cert)
    }

    /// Drives login and consent for an outcome that asks for interaction; returns the final response.
    func approve(_ outcome: AuthorizationOutcome, decision: Bool = true) async throws -> EngineResponse {
        guard case .interact(let ticket) = outcome else {
            if case .respond(let r) = outcome { return r }
            throw HarnessError.unexpected("\(outcome)")
        }
        var loginRequest = Self.post("/login", [])
        loginRequest.browserBinding = ticket.browserCookie
        let login = await engine.login(interactionID: ticket.interactionID, username: "alice", password: "wonderland-test",
                                       request: loginRequest)
        guard case .loggedIn(let session, let next) = login else { throw HarnessError.unexpected("login: \(login)") }
        guard case .interact(let consentTicket) = next else {
            if case .respond(let r) = next { return r }
            throw HarnessError.unexpected("\(next)")
        }
        let result = await engine.consent(interactionID: consentTicket.interactionID, approve: decision, csrfToken: session.csrfToken,
                                          session: session, request: Self.post("/consent", []))
        guard case .respond(let r) = result else { throw HarnessError.unexpected("consent: \(result)") }
        return r
    }

    /// Response parameters from a redirect's query or fragment.
    static func redirectParams(_ r: EngineResponse) -> [String: String] {
        guard let loc = r.header("Location") else { return [:] }
        let part: Substring
        if let i = loc.firstIndex(of: "#") { part = loc[loc.index(after: i)...] }
        else if let i = loc.firstIndex(of: "?") { part = loc[loc.index(after: i)...] }
        else { return [:] }
        return (FormCoding.decode(String(part)) ?? []).dictionary
    }
}

enum HarnessError: Error { case unexpected(String) }

extension JSONValue {
    static func from(_ r: EngineResponse) -> [String: JSONValue] { JSONValue.parse(r.body)?.objectValue ?? [:] }
}
