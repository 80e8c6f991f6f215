import Foundation
import StrongroomCore
import StrongroomJOSE
import StrongroomPolicy
import StrongroomStorage

/// Registration refused: every unmet requirement, each naming the rule it breaks.
public struct RegistrationRefused: Error, Sendable, CustomStringConvertible {
    public var violations: [Violation]
    public init(violations: [Violation]) { self.violations = violations }
    public var description: String { violations.map { "- \($0)" }.joined(separator: "\n") }

    /// RFC 7591 §3.2.2 error: `invalid_redirect_uri` when only redirect URIs are at fault.
    public var oauthError: OAuthError {
        let onlyRedirects = violations.allSatisfy { $0.field == "redirect_uris" }
        return OAuthError(onlyRedirects ? .invalidRedirectURI : .invalidClientMetadata,
                          violations.map(\.description).joined(separator: "; "))
    }
}

/// Creates, validates, updates and removes clients. The CLI, the admin API and Dynamic Client
/// Registration all go through here, so they refuse the same clients for the same reasons.
public struct ClientRegistry: Sendable {
    let storage: any ClientStore
    public let service: ServiceSettings
    let hasher: SecretHasher
    let random: any RandomSource
    let clock: any TimeSource

    /// A client by id, read from the database every time: a client deleted or changed on any node
    /// (admin API, RFC 7592, the CLI) is refused or honoured by every node at once. No node keeps
    /// a copy, because a copy that outlives a deletion would keep issuing tokens to a client that
    /// no longer exists; the read is one primary-key lookup, as any invalidation check would be.
    public func lookup(_ clientID: String) async throws -> Client? {
        try await storage.client(id: clientID)
    }

    public struct Registered: Sendable {
        public var client: Client
        /// Plain secret, returned once at registration (nil for methods without a shared secret).
        public var clientSecret: String?
        /// Plain RFC 7592 registration access token, returned once.
        public var registrationAccessToken: String?
    }

    /// Every violation of this metadata: structural, per implied profile, and of its keys.
    public func validate(_ metadata: ClientMetadata) -> [Violation] {
        var out = ClientConformance(service: service).violations(of: metadata)
        out += keyViolations(metadata)
        return out
    }

    /// Key-size and key-presence rules (FAPI 1.0 Part 1 §5.2.2-5/6; reference Appendix 3).
    func keyViolations(_ m: ClientMetadata) -> [Violation] {
        guard let jwks = m.jwks else { return [] }
        let set: JWKSet
        do { set = try JWKSet(json: jwks) } catch {
            return [Violation(profile: .oauth, field: "jwks", message: "is not a JWK Set: \(error)")]
        }
        var out: [Violation] = []
        // The limits of every profile the client's scopes can select, together.
        let rules = RuleSet(profiles: ProfileSelector(service: service).profiles(for: m), service: service)
        let req = rules.requirements
        let profile = req.profile
        let clauses = LimitKeySizes.clauses(in: rules.rules)
        for key in set.keys {
            if key.isPrivate {
                out.append(Violation(profile: .oauth, field: "jwks", message: "key \(key.kid ?? "(no kid)") contains private key material; register public keys only"))
            }
            if let bits = key.rsaModulusBits, bits < req.minimumRSABits {
                out.append(Violation(profile: profile, field: "jwks", message: "RSA key \(key.kid ?? "(no kid)") is \(bits) bits; at least \(req.minimumRSABits) are required (\(clauses.rsa))"))
            }
            if let bits = key.ecCurveBits, bits < req.minimumECBits {
                out.append(Violation(profile: profile, field: "jwks", message: "EC key \(key.kid ?? "(no kid)") is on a \(bits)-bit curve; at least \(req.minimumECBits) bits are required (\(clauses.ec))"))
            }
        }
        if (m.tokenEndpointAuthMethod == .privateKeyJWT || m.tokenEndpointAuthMethod == .selfSignedTLSClientAuth),
           set.keys.filter({ $0.use == nil || $0.use == "sig" }).isEmpty {
            out.append(Violation(profile: .oauth, field: "jwks", message: "contains no signing key usable for \(m.tokenEndpointAuthMethod.rawValue)"))
        }
        return out
    }

    public func register(
        _ metadata: ClientMetadata, clientID: String? = nil, clientSecret: String? = nil, source: String,
        issueRegistrationToken: Bool = false
    ) async throws -> Registered {
        let violations = validate(metadata)
        guard violations.isEmpty else { throw RegistrationRefused(violations: violations) }
        let id = clientID ?? random.token(bits: 128)
        let secret = metadata.tokenEndpointAuthMethod.usesSharedSecret ? (clientSecret ?? random.token(bits: 256)) : nil
        if let secret, metadata.tokenEndpointAuthMethod == .clientSecretJWT, secret.utf8.count < 32 {
            throw RegistrationRefused(violations: [Violation(profile: .oauth, field: "client_secret", message: "client_secret_jwt needs a secret of at least 32 bytes (RFC 7518 §3.2)")])
        }
        let rat = issueRegistrationToken ? random.token(bits: 256) : nil
        let now = clock.now()
        let client = Client(
            clientID: id, metadata: metadata, secretHash: secret.map(hasher.hash),
            secretForHMAC: metadata.tokenEndpointAuthMethod == .clientSecretJWT ? secret : nil,
            registrationAccessTokenHash: rat.map(hasher.hash), source: source, createdAt: now, updatedAt: now)
        try await storage.createClient(client)
        return Registered(client: client, clientSecret: secret, registrationAccessToken: rat)
    }

    /// Replaces a client's metadata (RFC 7592 §2.2 semantics: the new metadata is complete).
    public func update(clientID: String, metadata: ClientMetadata) async throws -> Client {
        guard var client = try await storage.client(id: clientID) else { throw StorageError.notFound(clientID) }
        let violations = validate(metadata)
        guard violations.isEmpty else { throw RegistrationRefused(violations: violations) }
        let method = metadata.tokenEndpointAuthMethod
        if method.usesSharedSecret && client.secretHash == nil {
            throw RegistrationRefused(violations: [Violation(profile: .oauth, field: "token_endpoint_auth_method", message: "cannot switch to a shared-secret method after registration; register a new client")])
        }
        if method == .clientSecretJWT && client.secretForHMAC == nil {
            // client_secret_basic/_post secrets are kept only as a keyed hash: HMAC needs the secret itself.
            throw RegistrationRefused(violations: [Violation(profile: .oauth, field: "token_endpoint_auth_method", message: "cannot switch to client_secret_jwt: this client's secret is stored only as a hash; register a new client")])
        }
        // A method that no longer uses the secret drops it (and its hash) for good: switching back
        // later is refused above, so an old secret never authenticates again.
        if !method.usesSharedSecret {
            client.secretHash = nil
            client.secretExpiresAt = nil
        }
        if method != .clientSecretJWT { client.secretForHMAC = nil }
        client.metadata = metadata
        client.updatedAt = clock.now()
        try await storage.updateClient(client)
        return client
    }

    public func remove(clientID: String) async throws -> Bool {
        try await storage.deleteClient(id: clientID)
    }
    public func list() async throws -> [Client] { try await storage.clients() }

    /// Creates or refreshes a client declared in the configuration file. Nodes starting together
    /// seed the same clients: a create that finds the client already there (another node created
    /// it after this one looked) refreshes it instead, as if it had been there all along.
    func upsertSeed(_ seed: SeedClient) async throws {
        let violations = validate(seed.metadata)
        guard violations.isEmpty else {
            throw ConfigurationError(key: "clients[\(seed.clientID)]", message: "\n" + violations.map { "  - \($0)" }.joined(separator: "\n"))
        }
        let now = clock.now()
        let secret = seed.metadata.tokenEndpointAuthMethod.usesSharedSecret ? seed.clientSecret : nil
        if seed.metadata.tokenEndpointAuthMethod.usesSharedSecret && secret == nil {
            throw ConfigurationError(key: "clients[\(seed.clientID)].client_secret", message: "is required for \(seed.metadata.tokenEndpointAuthMethod.rawValue)")
        }
        let client = Client(
            clientID: seed.clientID, metadata: seed.metadata, secretHash: secret.map(hasher.hash),
            secretForHMAC: seed.metadata.tokenEndpointAuthMethod == .clientSecretJWT ? secret : nil,
            source: "config", createdAt: now, updatedAt: now)
        if try await storage.client(id: seed.clientID) == nil {
            do {
                try await storage.createClient(client)
                return
            } catch StorageError.duplicate {
                // Another node seeded it first: refreshed below like any existing client.
            }
        }
        // The stored `created_at` is kept (an update never writes it).
        try await storage.updateClient(client)
    }

    /// Checks a presented secret against the stored keyed hash, in constant time.
    func secretMatches(_ client: Client, _ secret: String) -> Bool {
        guard let hash = client.secretHash else { return false }
        if let exp = client.secretExpiresAt, exp < clock.now() { return false }
        return hasher.matches(secret, hash: hash)
    }
}

/// Users of the built-in login.
public struct UserDirectory: Sendable {
    let storage: any UserStore
    let random: any RandomSource
    let clock: any TimeSource

    public func add(username: String, password: String, claims: [String: JSONValue] = [:], cost: UInt8 = UserDirectory.passwordCost) async throws -> User {
        guard !username.isEmpty, username.count <= 128 else { throw ConfigurationError(key: "username", message: "must be 1-128 characters") }
        guard password.count >= 8 else { throw ConfigurationError(key: "password", message: "must be at least 8 characters") }
        let hash = await offloadBlocking { PasswordHasher.hash(password, cost: cost) }
        let user = User(subject: random.token(bits: 128), username: username, passwordHash: hash, claims: claims, createdAt: clock.now())
        try await storage.createUser(user)
        return user
    }

    public func list() async throws -> [User] { try await storage.users() }
    public func remove(username: String) async throws -> Bool { try await storage.deleteUser(username: username) }

    /// bcrypt is deliberately slow: verified off the event loops. Unknown users cost the same time.
    public func authenticate(username: String, password: String) async -> User? {
        guard username.count <= 128, password.count <= 1024 else { return nil }
        let user = try? await storage.user(username: username)
        let hash = user?.passwordHash ?? Self.dummyHash
        let ok = await offloadBlocking { PasswordHasher.verify(password, hash: hash) }
        return ok ? user : nil
    }

    /// Every stored hash and the dummy use this cost, so an unknown username costs what a known one
    /// does (no enumeration by timing).
    public static let passwordCost: UInt8 = 12
    static let dummyHash = PasswordHasher.hash("strongroom-timing-equaliser", cost: passwordCost)

    /// The cost field of a bcrypt hash (`$2b$12$…` → 12).
    static func cost(of hash: String) -> UInt8? {
        let parts = hash.split(separator: "$")
        guard parts.count >= 3 else { return nil }
        return UInt8(parts[1])
    }


    /// Creates or refreshes a user declared in the configuration file. As for seeded clients, a
    /// create that finds the user already there (another node starting at the same time created it
    /// after this one looked) refreshes that user instead.
    func upsertSeed(_ seed: SeedUser) async throws {
        let hash: String
        if let h = seed.passwordHash { hash = h } else { hash = await offloadBlocking { PasswordHasher.hash(seed.password ?? "", cost: Self.passwordCost) } }
        var found = try await storage.user(username: seed.username)
        if found == nil {
            do {
                // The subject is derived from the username so configured users keep their `sub` across databases.
                try await storage.createUser(User(subject: "u-" + Base64URL.encode(Array(seed.username.utf8)), username: seed.username,
                                                  passwordHash: hash, claims: seed.claims, createdAt: clock.now()))
                return
            } catch StorageError.duplicate {
                // Another node seeded it first: refreshed below.
                found = try await storage.user(username: seed.username)
            }
        }
        guard var existing = found else { throw StorageError.notFound("user \(seed.username)") }
        if let pw = seed.password, Self.cost(of: existing.passwordHash) == Self.passwordCost,
           PasswordHasher.verify(pw, hash: existing.passwordHash) {
            existing.claims = seed.claims
        } else {
            existing.passwordHash = hash
            existing.claims = seed.claims
        }
        try await storage.updateUser(existing)
    }
}
