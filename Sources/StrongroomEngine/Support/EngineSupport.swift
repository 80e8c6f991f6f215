import Foundation
import Logging
import NIOCore
import NIOPosix
import StrongroomCore
import StrongroomJOSE
import StrongroomPolicy
import StrongroomStorage

/// Endpoint paths, relative to the issuer URL.
public enum EndpointPath {
    public static let authorization = "/authorize"
    public static let par = "/par"
    public static let token = "/token"
    public static let introspection = "/introspect"
    public static let revocation = "/revoke"
    public static let userinfo = "/userinfo"
    public static let registration = "/register"
    public static let jwks = "/jwks"
    public static let grants = "/grants"
}

/// The public URLs of the endpoints: the issuer's, and the mutual-TLS alias listener's when one
/// is configured (RFC 8705 §5).
struct EndpointURLs: Sendable {
    let issuer: String
    /// The base URL of the mutual-TLS alias listener, when configured.
    let mtlsBaseURL: String?

    init(issuer: String, mtlsAlias: ServerSettings.MTLSAlias?) {
        self.issuer = issuer
        guard let alias = mtlsAlias else { mtlsBaseURL = nil; return }
        if var b = alias.baseURL {
            while b.hasSuffix("/") { b.removeLast() }
            mtlsBaseURL = b
            return
        }
        let host = URL(string: issuer)?.host ?? alias.host
        let path = URL(string: issuer)?.path ?? ""
        mtlsBaseURL = "https://\(host):\(alias.port)\(path == "/" ? "" : path)"
    }

    /// The public URL of an endpoint on the main listener.
    func url(_ path: String) -> String {
        var base = issuer
        while base.hasSuffix("/") { base.removeLast() }
        return base + path
    }

    /// The public URL of `path` on the listener a request came in on: what a DPoP proof's `htu`
    /// names (behind a proxy, the configured base, never the socket's address).
    func url(_ path: String, listener: Listener) -> String {
        if listener == .mtlsAlias, let m = mtlsBaseURL { return m + path }
        return url(path)
    }

    /// URLs a client may name as the audience of something it sends to `path` (either listener).
    func endpointURLs(_ path: String) -> [String] {
        var out = [url(path)]
        if let m = mtlsBaseURL { out.append(m + path) }
        return out
    }
}

extension Engine {
    func url(_ path: String) -> String { urls.url(path) }
    var mtlsBaseURL: String? { urls.mtlsBaseURL }

    var now: Date { clock.now() }

    func newID() -> String { random.token(bits: 128) }

    /// Logs a refusal with the profile, rule and clause (never secrets).
    func logRefusal(_ error: OAuthError, endpoint: String, profile: Profile?, request: TransportRequest, clientID: String? = nil) {
        var md: Logger.Metadata = [
            "endpoint": "\(endpoint)",
            "error": "\(error.code.rawValue)",
            "x-fapi-interaction-id": "\(request.interactionID)",
        ]
        if let profile { md["profile"] = "\(profile.rawValue)" }
        if let rule = error.rule { md["rule"] = "\(rule)" }
        if let clientID { md["client_id"] = "\(clientID)" }
        if let d = error.detail { md["detail"] = "\(d)" }
        logger.info("refused: \(error.errorDescription)", metadata: md)
    }

    func selector() -> ProfileSelector { ProfileSelector(service: service) }

    /// The algorithm the server signs an artifact with for this client: the registered one if
    /// the profile's rules permit it, else the first permitted.
    func signingAlgorithm(registered: JWSAlgorithm?, offered: [JWSAlgorithm], profile: Profile) -> JWSAlgorithm {
        signingAlgorithm(registered: registered, offered: offered, profiles: [profile])
    }

    func signingAlgorithm(registered: JWSAlgorithm?, offered: [JWSAlgorithm], profiles: Set<Profile>) -> JWSAlgorithm {
        signer.algorithm(registered: registered, offered: offered, profiles: profiles)
    }

    func sign(_ claims: [String: JSONValue], algorithm: JWSAlgorithm, type: String? = nil) throws(OAuthError) -> String {
        try signer.sign(claims, algorithm: algorithm, type: type)
    }
}

extension TransportRequest {
    /// The form parameters of a back-channel POST (token, PAR, introspection, revocation):
    /// POST only, `application/x-www-form-urlencoded`, no parameter repeated (RFC 6749 §3.2).
    func backChannelForm() throws(OAuthError) -> [Param] {
        guard method == "POST" else { throw OAuthError(.invalidRequest, "this endpoint accepts POST only", status: 405) }
        guard contentType == "application/x-www-form-urlencoded" else {
            throw OAuthError.invalidRequest("the body must be application/x-www-form-urlencoded")
        }
        let params = try formParameters()
        if let dup = params.hasDuplicates() { throw OAuthError.invalidRequest("parameter \(ErrorText.quoted(dup)) is repeated") }
        return params
    }
}

extension Array where Element == Param {
    /// The single value of a parameter. Repeated parameters are refused (RFC 6749 §3.1).
    func single(_ name: String) throws(OAuthError) -> String? {
        let values = filter { $0.name == name }
        if values.count > 1 { throw OAuthError.invalidRequest("parameter \(ErrorText.quoted(name)) is repeated") }
        return values.first?.value
    }

    func hasDuplicates() -> String? {
        var seen = Set<String>()
        for p in self where !seen.insert(p.name).inserted { return p.name }
        return nil
    }

    var dictionary: [String: String] {
        var d: [String: String] = [:]
        for p in self where d[p.name] == nil { d[p.name] = p.value }
        return d
    }
}

func unixTime(_ d: Date) -> JSONValue { .number(Double(Int64(d.timeIntervalSince1970))) }

func dateFrom(_ v: JSONValue?) -> Date? {
    guard let n = v?.doubleValue, n.isFinite, n >= 0, n < 1e11 else { return nil }
    return Date(timeIntervalSince1970: n)
}

/// Audience claim as a list (a string or an array of strings).
func audiences(_ v: JSONValue?) -> [String] {
    switch v {
    case .string(let s): [s]
    case .array(let a): a.compactMap(\.stringValue)
    default: []
    }
}

/// Threads of their own for blocking work. Not Dispatch's global queue: on Linux that queue's
/// workers also run every Swift task, one per core, so two bcrypt checks on a two-core node left
/// no worker for any other request (a login flood made /healthz take seconds).
let blockingWorkPool: NIOThreadPool = {
    let pool = NIOThreadPool(numberOfThreads: max(4, System.coreCount + 2))
    pool.start()
    return pool
}()

/// Runs blocking work (bcrypt, DNS lookups) on `blockingWorkPool`, off the event loops and the
/// concurrency pool, and resumes with its result.
func offloadBlocking<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    do {
        return try await blockingWorkPool.runIfActive(work)
    } catch {
        // The pool is never shut down; were it, the work runs here rather than not at all.
        return work()
    }
}
