import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import StrongroomCore
import StrongroomJOSE

/// Resolves a client's public keys: `jwks` by value, or `jwks_uri` fetched over https with a
/// size limit, a short timeout and a small cache (refreshed when a `kid` is not found).
public final class ClientKeyResolver: @unchecked Sendable {
    private let lock = NSLock()
    /// Fetched key sets by URI, with when they were fetched.
    private let cache = BoundedCache<String, (keys: JWKSet, fetchedAt: Date)>(capacity: 4096, lifetime: ClientKeyResolver.cacheLifetime)
    private let logger: Logger
    private var client: HTTPClient?
    static let maxBytes = 256 * 1024
    static let cacheLifetime: TimeInterval = 300
    static let minimumRefreshInterval: TimeInterval = 60

    /// Whether `jwks_uri` may point at loopback/private/link-local addresses (tests, closed networks).
    let allowPrivateAddresses: Bool

    init(logger: Logger, allowPrivateAddresses: Bool = false) {
        self.logger = logger
        self.allowPrivateAddresses = allowPrivateAddresses
    }

    private func httpClient() -> HTTPClient {
        lock.withLock {
            if let client { return client }
            var config = HTTPClient.Configuration()
            config.timeout = .init(connect: .seconds(5), read: .seconds(5))
            config.redirectConfiguration = .disallow
            let c = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
            client = c
            return c
        }
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
        if !allowPrivateAddresses {
            guard let host = URLComponents(string: uri)?.host, !host.isEmpty else {
                throw OAuthError.invalidClient("The client's jwks_uri is not a valid URL.")
            }
            let addresses = await AddressPolicy.resolve(host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")))
            guard !addresses.isEmpty, addresses.allSatisfy(AddressPolicy.isPublic) else {
                logger.warning("jwks_uri refused: not a public address", metadata: ["uri": "\(uri)", "addresses": "\(addresses)"])
                throw OAuthError.invalidClient("The client's jwks_uri does not resolve to a public address.")
            }
        }
        do {
            var request = HTTPClientRequest(url: uri)
            request.headers.add(name: "Accept", value: "application/json, application/jwk-set+json")
            let response = try await httpClient().execute(request, timeout: .seconds(10))
            guard response.status == .ok else { throw OAuthError.invalidClient("Could not fetch the client's jwks_uri.", detail: "status \(response.status.code)") }
            let body = try await response.body.collect(upTo: Self.maxBytes)
            guard let json = JSONValue.parse(Data(buffer: body)) else {
                throw OAuthError.invalidClient("The client's jwks_uri did not return JSON.")
            }
            let set = try JWKSet(json: json)
            cache.put(uri, (set, Date()))
            return set
        } catch let e as OAuthError {
            throw e
        } catch {
            logger.warning("jwks_uri fetch failed", metadata: ["uri": "\(uri)", "error": "\(error)"])
            throw .invalidClient("Could not fetch the client's jwks_uri.", detail: "\(error)")
        }
    }

    func shutdown() async {
        let c = lock.withLock { () -> HTTPClient? in defer { client = nil }; return client }
        try? await c?.shutdown()
    }
}
