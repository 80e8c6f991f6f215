import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationEssentialsCompat
import NIOHTTP1
import StrongroomCore
import StrongroomJOSE

/// Resolves a client's public keys: `jwks` by value, or `jwks_uri` fetched over https with a
/// size limit, a short timeout and a small cache (refreshed when a `kid` is not found).
///
/// Fetches are guarded against server-side request forgery (`AddressPolicy`): the host is resolved,
/// every address must be public, and the connection goes to the checked address (TLS still
/// verifies the certificate against the host name). Failures are cached for a short while and
/// concurrent requests for one URI share one fetch, so a flood naming a slow or failing
/// `jwks_uri` costs one outbound request, not one per inbound request.
public final class ClientKeyResolver: @unchecked Sendable {
    private let lock = NSLock()
    /// Fetched key sets by URI, with when they were fetched.
    private let cache = BoundedCache<String, (keys: JWKSet, fetchedAt: Date)>(capacity: 4096, lifetime: ClientKeyResolver.cacheLifetime)
    /// Recent failures by URI: answered from here until they expire.
    private let failures = BoundedCache<String, OAuthError>(capacity: 4096, lifetime: ClientKeyResolver.failureLifetime)
    /// Fetches in flight by URI, shared by concurrent callers.
    private var inFlight: [String: Task<JWKSet, any Error>] = [:]
    private let logger: Logger
    private var client: HTTPClient?
    static let maxBytes = 256 * 1024
    static let cacheLifetime: TimeInterval = 300
    static let failureLifetime: TimeInterval = 30
    static let minimumRefreshInterval: TimeInterval = 60
    /// How many fetches this node has started (tests and metrics: coalescing and failure caching).
    private(set) var fetchCount = 0

    /// Whether `jwks_uri` may point at loopback/private/link-local addresses (tests, closed networks).
    let allowPrivateAddresses: Bool

    init(logger: Logger, allowPrivateAddresses: Bool = false) {
        self.logger = logger
        self.allowPrivateAddresses = allowPrivateAddresses
    }

    private func httpClient() -> HTTPClient {
        lock.withLock {
            if let client { return client }
            let c = HTTPClient(eventLoopGroupProvider: .singleton, configuration: Self.configuration())
            client = c
            return c
        }
    }

    static func configuration() -> HTTPClient.Configuration {
        var config = HTTPClient.Configuration()
        config.timeout = .init(connect: .seconds(5), read: .seconds(5))
        config.redirectConfiguration = .disallow
        return config
    }

    /// The client's key set. `refresh` bypasses the cache (used once when a `kid` is unknown).
    func keys(for metadata: ClientMetadata, refresh: Bool = false) async throws(OAuthError) -> JWKSet {
        if let jwks = metadata.jwks {
            do { return try JWKSet(json: jwks) } catch { throw .invalidClient("The client's registered JWK Set is invalid.", detail: "\(error)") }
        }
        guard let uri = metadata.jwksURI else { return JWKSet(keys: []) }
        if let hit = cache.get(uri) {
            // A forced refresh (unknown kid) is honoured at most once a minute per URI, so
            // unauthenticated requests naming a bogus kid cannot make the server fetch on every call.
            if !refresh || Date().timeIntervalSince(hit.fetchedAt) < Self.minimumRefreshInterval { return hit.keys }
        }
        if let failed = failures.get(uri) { throw failed }
        let task: Task<JWKSet, any Error> = lock.withLock {
            if let running = inFlight[uri] { return running }
            fetchCount += 1
            let t = Task { try await self.fetch(uri) }
            inFlight[uri] = t
            return t
        }
        do {
            let set = try await task.value
            lock.withLock { inFlight[uri] = nil }
            return set
        } catch {
            lock.withLock { inFlight[uri] = nil }
            let e = (error as? OAuthError) ?? .invalidClient("Could not fetch the client's jwks_uri.", detail: "\(error)")
            failures.put(uri, e)
            throw e
        }
    }

    /// One fetch of a `jwks_uri`, pinned to the address that passed the address policy.
    private func fetch(_ uri: String) async throws -> JWKSet {
        var pinned: HTTPClient?
        if !allowPrivateAddresses {
            guard let url = URLComponents(string: uri), url.scheme?.lowercased() == "https", let rawHost = url.host, !rawHost.isEmpty else {
                throw OAuthError.invalidClient("The client's jwks_uri is not a valid https URL.")
            }
            let host = rawHost.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            let addresses = await AddressPolicy.resolve(host)
            guard let address = addresses.first, addresses.allSatisfy(AddressPolicy.isPublic) else {
                logger.warning("jwks_uri refused: not a public address", metadata: ["uri": "\(uri)", "addresses": "\(addresses)"])
                throw OAuthError.invalidClient("The client's jwks_uri does not resolve to a public address.")
            }
            // Connect to the checked address; the certificate is still verified for `host`.
            var config = Self.configuration()
            config.dnsOverride = [rawHost: address, host: address]
            pinned = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
        }
        let http = pinned ?? httpClient()
        defer { if let pinned { Task { try? await pinned.shutdown() } } }
        do {
            var request = HTTPClientRequest(url: uri)
            request.headers.add(name: "Accept", value: "application/json, application/jwk-set+json")
            let response = try await http.execute(request, timeout: .seconds(10))
            guard response.status == .ok else { throw OAuthError.invalidClient("Could not fetch the client's jwks_uri.", detail: "status \(response.status.code)") }
            let body = try await response.body.collect(upTo: Self.maxBytes)
            guard let json = JSONValue.parse(Data(buffer: body)) else {
                throw OAuthError.invalidClient("The client's jwks_uri did not return JSON.")
            }
            let set: JWKSet
            do { set = try JWKSet(json: json) } catch { throw OAuthError.invalidClient("The client's jwks_uri returned an invalid JWK Set.", detail: "\(error)") }
            cache.put(uri, (set, Date()))
            return set
        } catch let e as OAuthError {
            throw e
        } catch {
            logger.warning("jwks_uri fetch failed", metadata: ["uri": "\(uri)", "error": "\(error)"])
            throw OAuthError.invalidClient("Could not fetch the client's jwks_uri.", detail: "\(error)")
        }
    }

    func shutdown() async {
        let c = lock.withLock { () -> HTTPClient? in defer { client = nil }; return client }
        try? await c?.shutdown()
    }
}
