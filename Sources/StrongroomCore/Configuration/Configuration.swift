import Foundation
import Yams

/// The whole configuration file: one YAML (or JSON, which is YAML) document.
/// Every key is documented in docs/configuration.md.
public struct StrongroomConfiguration: Sendable, Codable, Equatable {
    public var service: ServiceSettings
    public var server: ServerSettings
    public var database: DatabaseSettings
    public var admin: AdminSettings
    /// Who may read `/metrics`.
    public var metrics: MetricsSettings
    /// The key-encryption key of the secrets kept recoverable in the database.
    public var keys: KeySettings
    /// Abuse limits of each node: rate limits, bcrypt work, stored request size.
    public var limits: LimitSettings
    /// Base64 key for the keyed hash of client secrets and tokens. Must be shared by all nodes.
    public var secretHashKey: String
    public var logLevel: String
    /// Clients and users created or refreshed at start-up (source `config`).
    public var clients: [SeedClient]
    public var users: [SeedUser]

    public init(service: ServiceSettings, server: ServerSettings, database: DatabaseSettings = .init(),
                admin: AdminSettings = .init(), metrics: MetricsSettings = .init(), keys: KeySettings = .init(), limits: LimitSettings = .init(),
                secretHashKey: String, logLevel: String = "info",
                clients: [SeedClient] = [], users: [SeedUser] = []) {
        self.service = service
        self.server = server
        self.database = database
        self.admin = admin
        self.metrics = metrics
        self.keys = keys
        self.limits = limits
        self.secretHashKey = secretHashKey
        self.logLevel = logLevel
        self.clients = clients
        self.users = users
    }

    enum CodingKeys: String, CodingKey {
        case service, server, database, admin, metrics, keys, limits, secretHashKey = "secret_hash_key", logLevel = "log_level", clients, users
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        service = try c.decode(ServiceSettings.self, forKey: .service)
        server = try c.decodeIfPresent(ServerSettings.self, forKey: .server) ?? ServerSettings()
        database = try c.decodeIfPresent(DatabaseSettings.self, forKey: .database) ?? DatabaseSettings()
        admin = try c.decodeIfPresent(AdminSettings.self, forKey: .admin) ?? AdminSettings()
        metrics = try c.decodeIfPresent(MetricsSettings.self, forKey: .metrics) ?? MetricsSettings()
        keys = try c.decodeIfPresent(KeySettings.self, forKey: .keys) ?? KeySettings()
        limits = try c.decodeIfPresent(LimitSettings.self, forKey: .limits) ?? LimitSettings()
        secretHashKey = try c.decode(String.self, forKey: .secretHashKey)
        logLevel = try c.decodeIfPresent(String.self, forKey: .logLevel) ?? "info"
        clients = try c.decodeIfPresent([SeedClient].self, forKey: .clients) ?? []
        users = try c.decodeIfPresent([SeedUser].self, forKey: .users) ?? []
    }
}

/// Listeners, TLS and client-certificate handling.
public struct ServerSettings: Sendable, Codable, Equatable {
    public var host: String
    public var port: Int
    /// PEM certificate chain and private key of the server. Required: Strongroom only speaks TLS.
    public var tlsCertificate: String?
    public var tlsPrivateKey: String?
    /// PEM files of CAs trusted to issue client certificates for `tls_client_auth`.
    public var clientCATrustAnchors: [String]
    /// An optional second listener that *requires* a client certificate (RFC 8705 §5 aliases).
    public var mtlsAlias: MTLSAlias?
    /// Reverse proxies allowed to forward a client certificate, by IP address.
    public var trustedProxies: [String]
    /// Header carrying the forwarded certificate (RFC 9440 `Client-Cert` by default).
    public var clientCertificateHeader: String
    /// Maximum request body in bytes.
    public var maxBodySize: Int
    /// Whether the built-in resource API (`/api/accounts`, `/api/payments`) is served.
    public var resourceAPI: Bool
    /// Whether the main listener asks for a client certificate in the TLS handshake (it never requires one).
    /// Off, browsers opening the login pages are not prompted for a certificate, and certificate-bound
    /// clients use the `mtls_alias` listener (or a trusted proxy's forwarded header).
    public var requestClientCertificate: Bool
    /// Whether the demo kit's pages (`/demo/callback`) are served. Only the demo kit turns this on.
    public var demoPages: Bool

    public struct MTLSAlias: Sendable, Codable, Equatable {
        public var host: String
        public var port: Int
        /// Public base URL of the alias (e.g. https://mtls.bank.example); defaults to https://host:port.
        public var baseURL: String?
        enum CodingKeys: String, CodingKey { case host, port, baseURL = "base_url" }
        public init(host: String = "127.0.0.1", port: Int, baseURL: String? = nil) {
            self.host = host; self.port = port; self.baseURL = baseURL
        }
    }

    public init(host: String = "127.0.0.1", port: Int = 8443, tlsCertificate: String? = nil, tlsPrivateKey: String? = nil,
                clientCATrustAnchors: [String] = [], mtlsAlias: MTLSAlias? = nil, trustedProxies: [String] = [],
                clientCertificateHeader: String = "Client-Cert", maxBodySize: Int = 65_536, resourceAPI: Bool = true,
                requestClientCertificate: Bool = true, demoPages: Bool = false) {
        self.host = host
        self.port = port
        self.tlsCertificate = tlsCertificate
        self.tlsPrivateKey = tlsPrivateKey
        self.clientCATrustAnchors = clientCATrustAnchors
        self.mtlsAlias = mtlsAlias
        self.trustedProxies = trustedProxies
        self.clientCertificateHeader = clientCertificateHeader
        self.maxBodySize = maxBodySize
        self.resourceAPI = resourceAPI
        self.requestClientCertificate = requestClientCertificate
        self.demoPages = demoPages
    }

    enum CodingKeys: String, CodingKey {
        case host, port
        case tlsCertificate = "tls_certificate"
        case tlsPrivateKey = "tls_private_key"
        case clientCATrustAnchors = "client_ca_trust_anchors"
        case mtlsAlias = "mtls_alias"
        case trustedProxies = "trusted_proxies"
        case clientCertificateHeader = "client_certificate_header"
        case maxBodySize = "max_body_size"
        case resourceAPI = "resource_api"
        case requestClientCertificate = "request_client_certificate"
        case demoPages = "demo_pages"
    }

    public init(from decoder: any Decoder) throws {
        let d = ServerSettings()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        host = try c.decodeIfPresent(String.self, forKey: .host) ?? d.host
        port = try c.decodeIfPresent(Int.self, forKey: .port) ?? d.port
        tlsCertificate = try c.decodeIfPresent(String.self, forKey: .tlsCertificate)
        tlsPrivateKey = try c.decodeIfPresent(String.self, forKey: .tlsPrivateKey)
        clientCATrustAnchors = try c.decodeIfPresent([String].self, forKey: .clientCATrustAnchors) ?? []
        mtlsAlias = try c.decodeIfPresent(MTLSAlias.self, forKey: .mtlsAlias)
        trustedProxies = try c.decodeIfPresent([String].self, forKey: .trustedProxies) ?? []
        clientCertificateHeader = try c.decodeIfPresent(String.self, forKey: .clientCertificateHeader) ?? d.clientCertificateHeader
        maxBodySize = try c.decodeIfPresent(Int.self, forKey: .maxBodySize) ?? d.maxBodySize
        resourceAPI = try c.decodeIfPresent(Bool.self, forKey: .resourceAPI) ?? d.resourceAPI
        requestClientCertificate = try c.decodeIfPresent(Bool.self, forKey: .requestClientCertificate) ?? d.requestClientCertificate
        demoPages = try c.decodeIfPresent(Bool.self, forKey: .demoPages) ?? d.demoPages
    }
}

public struct DatabaseSettings: Sendable, Codable, Equatable {
    /// `sqlite:PATH` (default `sqlite:strongroom.sqlite`), `sqlite::memory:`, or `postgres://user:pass@host:port/db`.
    public var url: String
    /// Connections per event loop (PostgreSQL).
    public var poolSize: Int
    public init(url: String = "sqlite:strongroom.sqlite", poolSize: Int = 8) { self.url = url; self.poolSize = poolSize }
    enum CodingKeys: String, CodingKey { case url, poolSize = "pool_size" }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        url = try c.decodeIfPresent(String.self, forKey: .url) ?? "sqlite:strongroom.sqlite"
        poolSize = try c.decodeIfPresent(Int.self, forKey: .poolSize) ?? 8
    }
}

public struct AdminSettings: Sendable, Codable, Equatable {
    /// Bearer credential for the admin API (`/admin/...`). Nil: admin API disabled.
    public var token: String?
    public init(token: String? = nil) { self.token = token }
}

/// Access to the Prometheus exposition at `/metrics`.
public struct MetricsSettings: Sendable, Codable, Equatable {
    /// True: anyone who can reach the listener may read `/metrics`. False (default): only with the
    /// `admin.token` bearer credential, and never without one. Being a loopback peer is not enough:
    /// behind a local reverse proxy every request comes from loopback.
    public var isPublic: Bool
    public init(isPublic: Bool = false) { self.isPublic = isPublic }
    enum CodingKeys: String, CodingKey { case isPublic = "public" }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        isPublic = try c.decodeIfPresent(Bool.self, forKey: .isPublic) ?? false
    }
}

/// A client declared in the configuration file.
public struct SeedClient: Sendable, Codable, Equatable {
    public var clientID: String
    public var clientSecret: String?
    public var metadata: ClientMetadata
    enum CodingKeys: String, CodingKey { case clientID = "client_id", clientSecret = "client_secret" }
    public init(clientID: String, clientSecret: String? = nil, metadata: ClientMetadata) {
        self.clientID = clientID; self.clientSecret = clientSecret; self.metadata = metadata
    }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        clientID = try c.decode(String.self, forKey: .clientID)
        clientSecret = try c.decodeIfPresent(String.self, forKey: .clientSecret)
        metadata = try ClientMetadata(from: decoder)
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(clientID, forKey: .clientID)
        try c.encodeIfPresent(clientSecret, forKey: .clientSecret)
        try metadata.encode(to: encoder)
    }
}

/// A user of the built-in login, declared in the configuration file.
public struct SeedUser: Sendable, Codable, Equatable {
    public var username: String
    /// Plain password (demo only) or a bcrypt hash in `password_hash`.
    public var password: String?
    public var passwordHash: String?
    public var claims: [String: JSONValue]
    enum CodingKeys: String, CodingKey { case username, password, passwordHash = "password_hash", claims }
    public init(username: String, password: String? = nil, passwordHash: String? = nil, claims: [String: JSONValue] = [:]) {
        self.username = username; self.password = password; self.passwordHash = passwordHash; self.claims = claims
    }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        username = try c.decode(String.self, forKey: .username)
        password = try c.decodeIfPresent(String.self, forKey: .password)
        passwordHash = try c.decodeIfPresent(String.self, forKey: .passwordHash)
        claims = try c.decodeIfPresent([String: JSONValue].self, forKey: .claims) ?? [:]
    }
}

/// A configuration problem, naming the key at fault.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var key: String
    public var message: String
    public init(key: String, message: String) { self.key = key; self.message = message }
    public var description: String { key.isEmpty ? message : "\(key): \(message)" }
}

extension StrongroomConfiguration {
    /// Loads a YAML or JSON file, applies `STRONGROOM_*` environment overrides, and validates.
    /// Relative file paths inside the configuration are resolved against the file's folder.
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> StrongroomConfiguration {
        let url = URL(fileURLWithPath: path)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ConfigurationError(key: "", message: "cannot read configuration file \(path)")
        }
        guard data.count < 4_000_000 else { throw ConfigurationError(key: "", message: "configuration file is too large") }
        var config = try parse(String(decoding: data, as: UTF8.self))
        config.resolvePaths(relativeTo: url.deletingLastPathComponent().path)
        try config.applyEnvironment(environment)
        try config.validate()
        return config
    }

    /// Parses YAML/JSON text; errors name the offending key path (`service.scopes[2].name`).
    public static func parse(_ text: String) throws -> StrongroomConfiguration {
        do {
            return try YAMLDecoder().decode(StrongroomConfiguration.self, from: text)
        } catch let error as DecodingError {
            throw ConfigurationError.from(error)
        } catch let error as YamlError {
            throw ConfigurationError(key: "", message: "not valid YAML/JSON: \(error)")
        }
    }

    mutating func resolvePaths(relativeTo base: String) {
        func resolve(_ p: String?) -> String? {
            guard let p, !p.hasPrefix("/") else { return p }
            return URL(fileURLWithPath: base).appendingPathComponent(p).path
        }
        server.tlsCertificate = resolve(server.tlsCertificate)
        server.tlsPrivateKey = resolve(server.tlsPrivateKey)
        server.clientCATrustAnchors = server.clientCATrustAnchors.compactMap { resolve($0) }
        keys.encryptionKeyFile = resolve(keys.encryptionKeyFile)
        keys.previousEncryptionKeyFiles = keys.previousEncryptionKeyFiles.compactMap { resolve($0) }
        if database.url.hasPrefix("sqlite:"), !database.url.hasPrefix("sqlite::memory:") {
            let path = String(database.url.dropFirst("sqlite:".count))
            if let r = resolve(path) { database.url = "sqlite:" + r }
        }
    }

    /// `STRONGROOM_ISSUER`, `STRONGROOM_DATABASE_URL`, `STRONGROOM_HOST`, `STRONGROOM_PORT`,
    /// `STRONGROOM_MTLS_PORT`, `STRONGROOM_ADMIN_TOKEN`, `STRONGROOM_LOG_LEVEL`, `STRONGROOM_SECRET_HASH_KEY`,
    /// `STRONGROOM_KEY_ENCRYPTION_KEY` / `STRONGROOM_KEY_ENCRYPTION_KEY_FILE` (either replaces both
    /// `keys.encryption_key` and `keys.encryption_key_file`), `STRONGROOM_PREVIOUS_KEY_ENCRYPTION_KEYS`
    /// (comma-separated base64; replaces `keys.previous_encryption_keys`).
    public mutating func applyEnvironment(_ env: [String: String]) throws {
        if let v = env["STRONGROOM_ISSUER"] { service.issuer = v }
        if let v = env["STRONGROOM_DATABASE_URL"] { database.url = v }
        if let v = env["STRONGROOM_HOST"] { server.host = v }
        if let v = env["STRONGROOM_PORT"] {
            guard let p = Int(v) else { throw ConfigurationError(key: "STRONGROOM_PORT", message: "must be a port number") }
            server.port = p
        }
        if let v = env["STRONGROOM_MTLS_PORT"] {
            guard let p = Int(v) else { throw ConfigurationError(key: "STRONGROOM_MTLS_PORT", message: "must be a port number") }
            if server.mtlsAlias == nil { server.mtlsAlias = .init(host: server.host, port: p) } else { server.mtlsAlias?.port = p }
        }
        if let v = env["STRONGROOM_ADMIN_TOKEN"] { admin.token = v }
        if let v = env["STRONGROOM_LOG_LEVEL"] { logLevel = v }
        if let v = env["STRONGROOM_SECRET_HASH_KEY"] { secretHashKey = v }
        switch (env["STRONGROOM_KEY_ENCRYPTION_KEY"], env["STRONGROOM_KEY_ENCRYPTION_KEY_FILE"]) {
        case (.some, .some):
            throw ConfigurationError(key: "STRONGROOM_KEY_ENCRYPTION_KEY", message: "give it or STRONGROOM_KEY_ENCRYPTION_KEY_FILE, not both")
        case (.some(let v), nil): keys.encryptionKey = v; keys.encryptionKeyFile = nil
        case (nil, .some(let p)): keys.encryptionKeyFile = p; keys.encryptionKey = nil
        case (nil, nil): break
        }
        if let v = env["STRONGROOM_PREVIOUS_KEY_ENCRYPTION_KEYS"] {
            keys.previousEncryptionKeys = v.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
    }

    /// Structural validation (the FAPI service checks live in StrongroomPolicy).
    public func validate() throws {
        guard let iss = URL(string: service.issuer), iss.scheme == "https", iss.host != nil,
              iss.query == nil, iss.fragment == nil else {
            throw ConfigurationError(key: "service.issuer", message: "must be an https URL without query or fragment")
        }
        guard (1...65535).contains(server.port) else { throw ConfigurationError(key: "server.port", message: "must be 1-65535") }
        if let alias = server.mtlsAlias, !(1...65535).contains(alias.port) {
            throw ConfigurationError(key: "server.mtls_alias.port", message: "must be 1-65535")
        }
        guard server.tlsCertificate != nil else { throw ConfigurationError(key: "server.tls_certificate", message: "is required (Strongroom serves only over TLS)") }
        guard server.tlsPrivateKey != nil else { throw ConfigurationError(key: "server.tls_private_key", message: "is required") }
        guard let key = Data(base64Encoded: secretHashKey), key.count >= 32 else {
            throw ConfigurationError(key: "secret_hash_key", message: "must be base64 of at least 32 random bytes")
        }
        if keys.encryptionKey != nil && keys.encryptionKeyFile != nil {
            throw ConfigurationError(key: "keys.encryption_key", message: "give keys.encryption_key or keys.encryption_key_file, not both")
        }
        guard database.url.hasPrefix("sqlite:") || database.url.hasPrefix("postgres://") || database.url.hasPrefix("postgresql://") else {
            throw ConfigurationError(key: "database.url", message: "must start with sqlite: or postgres://")
        }
        guard (1...1000).contains(database.poolSize) else { throw ConfigurationError(key: "database.pool_size", message: "must be 1-1000") }
        guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(logLevel) else {
            throw ConfigurationError(key: "log_level", message: "must be one of trace, debug, info, notice, warning, error, critical")
        }
        var seen = Set<String>()
        for (i, s) in service.scopes.enumerated() {
            guard !s.name.isEmpty, !s.name.contains(" ") else {
                throw ConfigurationError(key: "service.scopes[\(i)].name", message: "must be a non-empty word")
            }
            guard seen.insert(s.name).inserted else { throw ConfigurationError(key: "service.scopes[\(i)].name", message: "duplicate scope '\(s.name)'") }
        }
        let l = service.lifetimes
        for (k, v) in [("authorization_code", l.authorizationCode), ("access_token", l.accessToken), ("refresh_token", l.refreshToken),
                       ("id_token", l.idToken), ("pushed_request", l.pushedRequest), ("session", l.session), ("interaction", l.interaction)] {
            guard v > 0 else { throw ConfigurationError(key: "service.lifetimes.\(k)", message: "must be positive") }
        }
        guard l.pushedRequest <= 600 else { throw ConfigurationError(key: "service.lifetimes.pushed_request", message: "must be at most 600 seconds (RFC 9126 §2.2)") }
        if let bad = service.algorithms.dpop.first(where: { $0 == .none || $0.isSymmetric }) {
            throw ConfigurationError(key: "service.algorithms.dpop", message: "'\(bad.rawValue)' is not an asymmetric algorithm (RFC 9449 §4.2)")
        }
        if let problem = limits.violations().first { throw problem }
        var ids = Set<String>()
        for (i, c) in clients.enumerated() {
            guard !c.clientID.isEmpty else { throw ConfigurationError(key: "clients[\(i)].client_id", message: "must not be empty") }
            guard ids.insert(c.clientID).inserted else { throw ConfigurationError(key: "clients[\(i)].client_id", message: "duplicate client '\(c.clientID)'") }
        }
        for (i, u) in users.enumerated() where u.password == nil && u.passwordHash == nil {
            throw ConfigurationError(key: "users[\(i)]", message: "needs password or password_hash")
        }
    }
}

extension ConfigurationError {
    public static func from(_ error: DecodingError) -> ConfigurationError {
        func path(_ p: [any CodingKey]) -> String {
            var s = ""
            for k in p {
                if let i = k.intValue { s += "[\(i)]" } else { s += (s.isEmpty ? "" : ".") + k.stringValue }
            }
            return s
        }
        switch error {
        case .keyNotFound(let key, let ctx):
            let parent = path(ctx.codingPath)
            return .init(key: parent.isEmpty ? key.stringValue : parent + "." + key.stringValue, message: "is required")
        case .typeMismatch(let type, let ctx):
            return .init(key: path(ctx.codingPath), message: "has the wrong type (expected \(type))")
        case .valueNotFound(let type, let ctx):
            return .init(key: path(ctx.codingPath), message: "is missing a value (expected \(type))")
        case .dataCorrupted(let ctx):
            return .init(key: path(ctx.codingPath), message: ctx.debugDescription)
        @unknown default:
            return .init(key: "", message: "\(error)")
        }
    }
}

extension ConfigurationError {
    /// A decoding error as one line naming the field: `key: message`.
    public static func describe(_ error: DecodingError) -> String {
        let e = from(error)
        return e.key.isEmpty ? e.message : "\(e.key): \(e.message)"
    }
}
