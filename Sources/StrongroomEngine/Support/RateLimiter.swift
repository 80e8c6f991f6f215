import Foundation
import StrongroomCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Rate limits per client and per source address at the endpoints that cost work or create state
/// (`limits` in the configuration; docs/operations.md#abuse-limits).
///
/// One token bucket per (endpoint, client_id) and per (endpoint, address), in memory on this
/// node: a bucket holds up to `burst` requests and refills at `per_minute`. The buckets live in a
/// `RecencyTable` of `limits.tracked_keys` entries, so a flood of distinct keys cannot grow it;
/// it evicts first the least recently used buckets that are full again (forgetting those changes
/// nothing), and is never emptied in bulk.
///
/// The address is the TCP peer (`TransportRequest.remoteAddress`): behind a reverse proxy it is
/// the proxy's (`X-Forwarded-For` is not trusted). IPv6 addresses count per /64, the block one
/// subscriber usually holds.
final class RateLimiter: @unchecked Sendable {
    enum Endpoint: UInt8, Sendable, CustomStringConvertible {
        case token, par, authorize, login, register
        var description: String {
            switch self {
            case .token: "token"
            case .par: "par"
            case .authorize: "authorize"
            case .login: "login"
            case .register: "register"
            }
        }
    }

    enum Subject: Hashable, Sendable {
        case client(String)
        case address(String)
    }

    struct Key: Hashable, Sendable {
        var endpoint: Endpoint
        var subject: Subject
    }

    /// A refused request: the whole seconds until the bucket admits one again (at least 1).
    struct Refusal: Sendable, Equatable {
        var retryAfter: Int
    }

    private struct Bucket {
        var tokens: Double
        var updated: Date
        /// When the bucket is full again: from then on it remembers nothing and may be evicted.
        var fullAt: Date
    }

    private let settings: LimitSettings
    private let clock: any TimeSource
    private let lock = NSLock()
    private var buckets: RecencyTable<Key, Bucket>

    init(settings: LimitSettings, clock: any TimeSource) {
        self.settings = settings
        self.clock = clock
        buckets = RecencyTable(capacity: max(1, settings.trackedKeys))
    }

    /// The limit of a bucket; nil when it is off.
    func limit(_ endpoint: Endpoint, client: Bool) -> RateLimit? {
        guard settings.enabled else { return nil }
        let limits: RateLimit
        switch endpoint {
        case .token: limits = client ? settings.token.perClient : settings.token.perAddress
        case .par: limits = client ? settings.par.perClient : settings.par.perAddress
        case .authorize: limits = client ? settings.authorize.perClient : settings.authorize.perAddress
        case .login: limits = client ? settings.login.perClient : settings.login.perAddress
        case .register:
            guard !client else { return nil }
            limits = settings.register.perAddress
        }
        return limits.isOff ? nil : limits
    }

    /// Takes one request from the client's bucket at `endpoint`; nil when admitted.
    func take(_ endpoint: Endpoint, client clientID: String) -> Refusal? {
        guard let limit = limit(endpoint, client: true) else { return nil }
        return withBucket(Key(endpoint: endpoint, subject: .client(clientID)), limit: limit, consume: true)
    }

    /// Takes one request from the address's bucket at `endpoint`; nil when admitted.
    func take(_ endpoint: Endpoint, address: String?) -> Refusal? {
        guard let limit = limit(endpoint, client: false) else { return nil }
        return withBucket(Key(endpoint: endpoint, subject: .address(Self.addressKey(address))), limit: limit, consume: true)
    }

    /// Whether the address's bucket would admit a request now, without taking from it.
    func check(_ endpoint: Endpoint, address: String?) -> Refusal? {
        guard let limit = limit(endpoint, client: false) else { return nil }
        return withBucket(Key(endpoint: endpoint, subject: .address(Self.addressKey(address))), limit: limit, consume: false)
    }

    /// Buckets held now (for tests and metrics).
    var trackedKeys: Int { lock.withLock { buckets.count } }

    private func withBucket(_ key: Key, limit: RateLimit, consume: Bool) -> Refusal? {
        let now = clock.now()
        let rate = Double(limit.perMinute) / 60
        let burst = Double(limit.burst)
        return lock.withLock {
            var bucket: Bucket
            if let b = buckets.value(for: key) {
                bucket = b
                let elapsed = now.timeIntervalSince(bucket.updated)
                if elapsed > 0 {
                    bucket.tokens = min(burst, bucket.tokens + elapsed * rate)
                    bucket.updated = now
                }
            } else {
                // An absent bucket is a full one: looking at it need not store it.
                guard consume else { return nil }
                bucket = Bucket(tokens: burst, updated: now, fullAt: now)
            }
            var refusal: Refusal?
            if bucket.tokens >= 1 {
                if consume { bucket.tokens -= 1 }
            } else {
                refusal = Refusal(retryAfter: max(1, Int(((1 - bucket.tokens) / rate).rounded(.up))))
            }
            bucket.fullAt = now.addingTimeInterval(max(0, burst - bucket.tokens) / rate)
            buckets.set(key, bucket, expendable: { $0.fullAt <= now })
            return refusal
        }
    }

    /// The key of a source address: IPv4 as it is, IPv6 by its /64 (an IPv4-mapped IPv6 address
    /// as the IPv4 address); a missing address (no TCP peer) is one key of its own.
    static func addressKey(_ address: String?) -> String {
        guard let address, !address.isEmpty else { return "-" }
        guard address.contains(":") else { return String(address.prefix(64)) }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, address, &v6) == 1 else { return String(address.prefix(64)) }
        let b = withUnsafeBytes(of: v6) { Array($0) }
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xFF && b[11] == 0xFF {
            return "\(b[12]).\(b[13]).\(b[14]).\(b[15])"
        }
        var out = ""
        for i in stride(from: 0, to: 8, by: 2) {
            out += String(UInt16(b[i]) << 8 | UInt16(b[i + 1]), radix: 16) + ":"
        }
        return out + ":/64"
    }
}

extension Engine {
    /// The refusal of a rate limit as the endpoints answer it: HTTP 429, `temporarily_unavailable`
    /// and `Retry-After` (see `OAuthError.tooManyRequests`).
    func tooManyRequests(_ refusal: RateLimiter.Refusal, from subject: String) -> OAuthError {
        .tooManyRequests("too many requests from this \(subject); try again in \(Self.seconds(refusal.retryAfter))", retryAfter: refusal.retryAfter)
    }

    /// "1 second", "5 seconds".
    static func seconds(_ n: Int) -> String { n == 1 ? "1 second" : "\(n) seconds" }

    /// The buckets an authenticated client's request at a back-channel endpoint is taken from:
    /// its own, and for a public client (`none`: nothing proves who is calling) its address's too.
    /// A confidential client's requests are not taken from the address's bucket, which counts the
    /// requests that authenticate no client.
    func admit(_ auth: AuthenticatedClient, at endpoint: RateLimiter.Endpoint, request: TransportRequest) throws(OAuthError) {
        if auth.method == .none, let refusal = limiter.take(endpoint, address: request.remoteAddress) {
            throw tooManyRequests(refusal, from: "address")
        }
        if let refusal = limiter.take(endpoint, client: auth.clientID) {
            throw tooManyRequests(refusal, from: "client")
        }
    }
}
