import Foundation

/// `limits`: what one node lets a single client or source address do (docs/configuration.md#limits,
/// docs/operations.md#abuse-limits). Every limit is on by default, with figures far above what a
/// well-behaved client or browser does; each can be tuned, and `per_minute: 0` turns one off.
///
/// The rate limits are token buckets held in memory per node: a bucket holds up to `burst`
/// requests and refills at `per_minute`. With several nodes each node counts on its own.
public struct LimitSettings: Sendable, Codable, Equatable {
    /// False turns every rate limit off. The password-hashing bound and the stored-request cap
    /// are not rate limits and stay in force.
    public var enabled: Bool
    /// Most buckets one node keeps (every endpoint together); beyond it the least recently used
    /// bucket that is full again (it has forgotten nothing) is dropped first.
    public var trackedKeys: Int
    /// `POST /token`. Per address: only requests that do not authenticate a client.
    public var token: EndpointLimits
    /// `POST /par`. Per address: only requests that do not authenticate a client.
    public var par: EndpointLimits
    /// `GET`/`POST /authorize`: every request per address, then per client once `client_id` names a client.
    public var authorize: EndpointLimits
    /// `POST /login`: every request per address, then per client of the sign-in.
    public var login: EndpointLimits
    /// `POST /register`: every request per address (the caller is not a client yet).
    public var register: AddressLimits
    /// bcrypt work of the built-in login.
    public var passwordHashing: PasswordHashing
    /// Largest authorization request (as stored, in bytes of JSON) kept while the user signs in
    /// and consents; a larger one is refused with `invalid_request` before anything is stored.
    public var maxStoredAuthorizationRequest: Int

    public static let defaultTokenLimits = EndpointLimits(perClient: RateLimit(perMinute: 600_000, burst: 20_000),
                                                          perAddress: RateLimit(perMinute: 1_200, burst: 600))
    public static let defaultPARLimits = EndpointLimits(perClient: RateLimit(perMinute: 60_000, burst: 5_000),
                                                        perAddress: RateLimit(perMinute: 1_200, burst: 600))
    public static let defaultAuthorizeLimits = EndpointLimits(perClient: RateLimit(perMinute: 60_000, burst: 5_000),
                                                              perAddress: RateLimit(perMinute: 300, burst: 300))
    public static let defaultLoginLimits = EndpointLimits(perClient: RateLimit(perMinute: 30_000, burst: 2_000),
                                                          perAddress: RateLimit(perMinute: 180, burst: 180))
    public static let defaultRegisterLimits = AddressLimits(perAddress: RateLimit(perMinute: 120, burst: 120))

    public init(enabled: Bool = true, trackedKeys: Int = 100_000,
                token: EndpointLimits = LimitSettings.defaultTokenLimits,
                par: EndpointLimits = LimitSettings.defaultPARLimits,
                authorize: EndpointLimits = LimitSettings.defaultAuthorizeLimits,
                login: EndpointLimits = LimitSettings.defaultLoginLimits,
                register: AddressLimits = LimitSettings.defaultRegisterLimits,
                passwordHashing: PasswordHashing = PasswordHashing(), maxStoredAuthorizationRequest: Int = 8_192) {
        self.enabled = enabled
        self.trackedKeys = trackedKeys
        self.token = token
        self.par = par
        self.authorize = authorize
        self.login = login
        self.register = register
        self.passwordHashing = passwordHashing
        self.maxStoredAuthorizationRequest = maxStoredAuthorizationRequest
    }

    enum CodingKeys: String, CodingKey {
        case enabled, trackedKeys = "tracked_keys", token, par, authorize, login, register
        case passwordHashing = "password_hashing", maxStoredAuthorizationRequest = "max_stored_authorization_request"
    }

    public init(from decoder: any Decoder) throws {
        let d = LimitSettings()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? d.enabled
        trackedKeys = try c.decodeIfPresent(Int.self, forKey: .trackedKeys) ?? d.trackedKeys
        token = try EndpointLimits.decode(c, .token, defaults: d.token)
        par = try EndpointLimits.decode(c, .par, defaults: d.par)
        authorize = try EndpointLimits.decode(c, .authorize, defaults: d.authorize)
        login = try EndpointLimits.decode(c, .login, defaults: d.login)
        if c.contains(.register) {
            let r = try c.nestedContainer(keyedBy: AddressLimits.CodingKeys.self, forKey: .register)
            register = AddressLimits(perAddress: try r.decodeIfPresent(RateLimit.self, forKey: .perAddress) ?? d.register.perAddress)
        } else {
            register = d.register
        }
        passwordHashing = try c.decodeIfPresent(PasswordHashing.self, forKey: .passwordHashing) ?? d.passwordHashing
        maxStoredAuthorizationRequest = try c.decodeIfPresent(Int.self, forKey: .maxStoredAuthorizationRequest) ?? d.maxStoredAuthorizationRequest
    }

    /// The bounds `validate()` enforces, by key.
    func violations() -> [ConfigurationError] {
        var out: [ConfigurationError] = []
        if !(1_000...10_000_000).contains(trackedKeys) {
            out.append(.init(key: "limits.tracked_keys", message: "must be 1000-10000000"))
        }
        let all: [(String, RateLimit)] = [
            ("token.per_client", token.perClient), ("token.per_address", token.perAddress),
            ("par.per_client", par.perClient), ("par.per_address", par.perAddress),
            ("authorize.per_client", authorize.perClient), ("authorize.per_address", authorize.perAddress),
            ("login.per_client", login.perClient), ("login.per_address", login.perAddress),
            ("register.per_address", register.perAddress),
        ]
        for (key, limit) in all {
            if limit.perMinute < 0 { out.append(.init(key: "limits.\(key).per_minute", message: "must be 0 (off) or positive")) }
            if limit.perMinute > 0 && limit.burst < 1 { out.append(.init(key: "limits.\(key).burst", message: "must be at least 1")) }
        }
        if !(1...256).contains(passwordHashing.concurrency) {
            out.append(.init(key: "limits.password_hashing.concurrency", message: "must be 1-256"))
        }
        if !(0...100_000).contains(passwordHashing.queue) {
            out.append(.init(key: "limits.password_hashing.queue", message: "must be 0-100000"))
        }
        if !(1_024...1_048_576).contains(maxStoredAuthorizationRequest) {
            out.append(.init(key: "limits.max_stored_authorization_request", message: "must be 1024-1048576 bytes"))
        }
        return out
    }
}

/// One token bucket: up to `burst` requests at once, refilled at `per_minute` (0: no limit).
///
/// Written as a map (`{per_minute: 600, burst: 100}`) or as one number, `600`, meaning
/// `per_minute` and `burst` both 600.
public struct RateLimit: Sendable, Codable, Equatable {
    public var perMinute: Int
    public var burst: Int
    public init(perMinute: Int, burst: Int? = nil) {
        self.perMinute = perMinute
        self.burst = burst ?? perMinute
    }
    public static let off = RateLimit(perMinute: 0, burst: 0)
    public var isOff: Bool { perMinute <= 0 }

    enum CodingKeys: String, CodingKey { case perMinute = "per_minute", burst }

    public init(from decoder: any Decoder) throws {
        if let single = try? decoder.singleValueContainer(), let n = try? single.decode(Int.self) {
            self.init(perMinute: n)
            return
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let perMinute = try c.decode(Int.self, forKey: .perMinute)
        self.init(perMinute: perMinute, burst: try c.decodeIfPresent(Int.self, forKey: .burst))
    }
}

/// The two buckets of an endpoint: one per client, one per source address.
public struct EndpointLimits: Sendable, Codable, Equatable {
    public var perClient: RateLimit
    public var perAddress: RateLimit
    public init(perClient: RateLimit, perAddress: RateLimit) {
        self.perClient = perClient
        self.perAddress = perAddress
    }
    enum CodingKeys: String, CodingKey { case perClient = "per_client", perAddress = "per_address" }

    /// The endpoint's map, each bucket falling back to its own default when not given.
    static func decode(_ c: KeyedDecodingContainer<LimitSettings.CodingKeys>, _ key: LimitSettings.CodingKeys,
                       defaults: EndpointLimits) throws -> EndpointLimits {
        guard c.contains(key) else { return defaults }
        let e = try c.nestedContainer(keyedBy: CodingKeys.self, forKey: key)
        return EndpointLimits(perClient: try e.decodeIfPresent(RateLimit.self, forKey: .perClient) ?? defaults.perClient,
                              perAddress: try e.decodeIfPresent(RateLimit.self, forKey: .perAddress) ?? defaults.perAddress)
    }
}

/// An endpoint limited per source address only.
public struct AddressLimits: Sendable, Codable, Equatable {
    public var perAddress: RateLimit
    public init(perAddress: RateLimit) { self.perAddress = perAddress }
    enum CodingKeys: String, CodingKey { case perAddress = "per_address" }
}

/// How much bcrypt work the built-in login does at once.
public struct PasswordHashing: Sendable, Codable, Equatable {
    /// Password checks computed at the same time; the node uses at most its number of cores.
    public var concurrency: Int
    /// Sign-ins that may wait for a turn; beyond it a sign-in is answered at once with HTTP 503
    /// and "try again", never left hanging.
    public var queue: Int
    public init(concurrency: Int = 2, queue: Int = 32) {
        self.concurrency = concurrency
        self.queue = queue
    }
    enum CodingKeys: String, CodingKey { case concurrency, queue }
    public init(from decoder: any Decoder) throws {
        let d = PasswordHashing()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        concurrency = try c.decodeIfPresent(Int.self, forKey: .concurrency) ?? d.concurrency
        queue = try c.decodeIfPresent(Int.self, forKey: .queue) ?? d.queue
    }
}
