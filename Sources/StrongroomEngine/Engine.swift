import Foundation
import Logging
import StrongroomCore
import StrongroomJOSE
import StrongroomPolicy
import StrongroomStorage

/// The protocol engine: owns all OAuth state and decides every step.
/// One processor per endpoint; input a `TransportRequest`, output a response value.
public final class Engine: Sendable {
    public let configuration: StrongroomConfiguration
    public let storage: any Storage
    public let keys: KeyManager
    public let clients: ClientRegistry
    public let users: UserDirectory
    let clock: any TimeSource
    let random: any RandomSource
    let hasher: SecretHasher
    let logger: Logger
    let trustAnchors: CertificateTrustAnchors
    let jwksFetcher: ClientKeyResolver
    /// Password-guessing lock-outs and the bound on concurrent bcrypt work of the login.
    let loginThrottle: LoginThrottle
    /// Rate limits per client and per source address (`limits`).
    let limiter: RateLimiter
    /// The rules of every profile combination, composed once (`RuleBook`).
    let ruleBook: RuleBook
    let urls: EndpointURLs
    /// Client authentication at the back-channel endpoints.
    let clientAuthenticator: ClientAuthenticator
    /// Revocation of whole token lineages (theft detection, withdrawn consent).
    let lineage: LineageRevoker
    /// Signs what the server issues.
    let signer: ArtifactSigner
    /// Creates and stores tokens and ID tokens.
    let tokenIssuer: TokenIssuer
    /// Validates authorization requests (the staged pipeline in `Authorization/`).
    let authorizationValidator: AuthorizationValidator
    /// Judges access tokens at userinfo and the resource API.
    let accessTokens: AccessTokenValidator
    /// Answers token introspection.
    let introspector: Introspector
    /// Verifies DPoP proofs (RFC 9449) at PAR, token, userinfo and the resource API.
    let dpop: DPoPVerifier

    public var service: ServiceSettings { configuration.service }
    public var issuer: String { configuration.service.issuer }

    init(configuration: StrongroomConfiguration, storage: any Storage, keys: KeyManager, clients: ClientRegistry,
         users: UserDirectory, clock: any TimeSource, random: any RandomSource, hasher: SecretHasher, logger: Logger,
         trustAnchors: CertificateTrustAnchors, jwksFetcher: ClientKeyResolver) {
        self.configuration = configuration
        self.storage = storage
        self.keys = keys
        self.clients = clients
        self.users = users
        self.clock = clock
        self.random = random
        self.hasher = hasher
        self.logger = logger
        self.trustAnchors = trustAnchors
        self.jwksFetcher = jwksFetcher
        let limits = configuration.limits
        self.loginThrottle = LoginThrottle(concurrency: limits.passwordHashing.concurrency, queue: limits.passwordHashing.queue,
                                           interactionLifetime: TimeInterval(configuration.service.lifetimes.interaction))
        self.limiter = RateLimiter(settings: limits, clock: clock)
        let ruleBook = RuleBook(service: configuration.service)
        let urls = EndpointURLs(issuer: configuration.service.issuer, mtlsAlias: configuration.server.mtlsAlias)
        self.ruleBook = ruleBook
        self.urls = urls
        self.clientAuthenticator = ClientAuthenticator(
            service: configuration.service, clients: clients, keys: jwksFetcher, trustAnchors: trustAnchors, replay: storage,
            clock: clock, urls: urls, ruleBook: ruleBook)
        let lineage = LineageRevoker(storage: storage, service: configuration.service, clock: clock, logger: logger)
        let signer = ArtifactSigner(keys: keys, ruleBook: ruleBook)
        self.lineage = lineage
        self.signer = signer
        self.tokenIssuer = TokenIssuer(service: configuration.service, storage: storage, signer: signer, hasher: hasher, random: random,
                                       clock: clock, lineage: lineage)
        self.authorizationValidator = AuthorizationValidator(service: configuration.service, keys: jwksFetcher, replay: storage,
                                                             clock: clock, ruleBook: ruleBook)
        self.accessTokens = AccessTokenValidator(storage: storage, hasher: hasher, clients: clients, clock: clock, lineage: lineage)
        self.introspector = Introspector(service: configuration.service, storage: storage, hasher: hasher, clock: clock, lineage: lineage,
                                         signer: signer)
        self.dpop = DPoPVerifier(replay: storage, hasher: hasher, clock: clock, allowed: configuration.service.algorithms.dpop,
                                 skew: configuration.service.clockSkew)
    }

    /// The rules, and the policy they compose to, of a request that selects `profiles`.
    func rules(_ profiles: Set<Profile>) -> RuleSet { ruleBook.rules(for: profiles) }
    func rules(_ profile: Profile) -> RuleSet { ruleBook.rules(for: profile) }

    /// Builds the engine over migrated storage: loads or creates signing keys, seeds configured clients and users.
    public static func start(
        configuration: StrongroomConfiguration,
        storage: any Storage,
        logger: Logger = Logger(label: "strongroom.engine"),
        clock: any TimeSource = SystemTime(),
        random: any RandomSource = SystemRandom(),
        seed: Bool = true
    ) async throws -> Engine {
        guard let key = Data(base64Encoded: configuration.secretHashKey) else {
            throw ConfigurationError(key: "secret_hash_key", message: "must be base64")
        }
        let hasher = SecretHasher(key: key)
        let keys = try await KeyManager.load(storage: storage, clock: clock, logger: logger,
                                             longestSignedLifetime: longestSignedLifetime(configuration.service))
        let anchors = try CertificateTrustAnchors(pemFiles: configuration.server.clientCATrustAnchors)
        let clients = ClientRegistry(storage: storage, service: configuration.service, hasher: hasher, random: random, clock: clock)
        let users = UserDirectory(storage: storage, random: random, clock: clock)
        let engine = Engine(configuration: configuration, storage: storage, keys: keys, clients: clients, users: users,
                            clock: clock, random: random, hasher: hasher, logger: logger, trustAnchors: anchors,
                            jwksFetcher: ClientKeyResolver(logger: logger, allowPrivateAddresses: configuration.service.allowPrivateJWKSURI))
        if seed { try await engine.seedFromConfiguration() }
        return engine
    }

    /// How long a JARM response is valid (JARM §2.1 `exp`): long enough for the browser to carry
    /// it to the client, short enough to bound its replay.
    static let authorizationResponseLifetime = 600

    /// The longest any artifact the server signs stays valid: what a retired key's grace must cover
    /// (`KeyManager.retiredKeyGrace`). Introspection and userinfo JWTs carry no `exp`: they are
    /// verified as they arrive.
    static func longestSignedLifetime(_ service: ServiceSettings) -> TimeInterval {
        TimeInterval(max(service.lifetimes.accessToken, service.lifetimes.idToken, authorizationResponseLifetime))
    }

    /// Creates or refreshes the clients and users declared in the configuration file.
    func seedFromConfiguration() async throws {
        for seed in configuration.clients {
            try await clients.upsertSeed(seed)
        }
        for seed in configuration.users {
            try await users.upsertSeed(seed)
        }
    }

    /// Writes the lineage revocations the database refused earlier (`LineageRevoker.revoke`).
    public func retryPendingRevocations() async {
        await lineage.retryPending(now: clock.now())
    }

    public func shutdown() async {
        await jwksFetcher.shutdown()
    }
}
