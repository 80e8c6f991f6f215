import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import StrongroomCore
import Testing

@testable import StrongroomEngine
@testable import StrongroomServer

/// A seeded generator, so a failing case can be replayed from its seed and index.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random requests through the whole request path — the HTTP responder, the transport
/// translation and the real engine over SQLite — with hostile methods, paths, headers and bodies.
/// Every answer must be a framed HTTP response below 500, and every `error_description` in
/// every channel (JSON, redirect query or fragment, JARM, form_post, `WWW-Authenticate`) must
/// hold only the characters RFC 6749 §5.2 allows. (The coverage-guided fuzz targets are separate;
/// this one runs in the test command on every change.)
@Suite(.serialized) struct RequestPathFuzzTests {
    static let iterations = 2500
    static let paths = ["/authorize", "/login", "/consent", "/grants", "/grants/revoke", "/logout", "/par", "/token", "/introspect",
                        "/revoke", "/userinfo", "/register", "/register/fapi", "/register/plain", "/register/%00", "/register/a%2Fb",
                        "/.well-known/openid-configuration", "/jwks", "/healthz", "/metrics", "/api/accounts", "/api/payments",
                        "/admin/clients", "/admin/clients/fapi", "/admin/keys/rotate", "/demo/callback", "/nope", "//", "/%ZZ"]
    static let methods: [HTTPRequest.Method] = [.get, .post, .put, .delete, .head, .options, .patch, .connect, .trace,
                                                 HTTPRequest.Method("BREW")!]
    static let contentTypes = ["", ";", " ; ", ";;", "application/x-www-form-urlencoded", "application/x-www-form-urlencoded;",
                               "application/x-www-form-urlencoded; charset=utf-8", "application/json", "application/json;",
                               "APPLICATION/JSON ;", "text/plain", "multipart/form-data; boundary=x", "\u{7F}", "a/b;c=\"d;e\""]
    static let names = ["client_id", "grant_type", "code", "redirect_uri", "scope", "response_type", "response_mode", "state", "nonce",
                        "request", "request_uri", "code_challenge", "code_challenge_method", "code_verifier", "client_assertion",
                        "client_assertion_type", "client_secret", "token", "token_type_hint", "refresh_token", "prompt", "max_age",
                        "claims", "username", "password", "interaction", "csrf_token", "access_token", "dpop_jkt", "acr_values"]
    static let values = ["", "fapi", "plain", "public", "fapi-tls", "authorization_code", "refresh_token", "client_credentials",
                         "openid payments", "openid accounts", "openid", "code", "code id_token", "jwt", "query.jwt", "form_post",
                         "https://rp.test/cb", "none", "S256", "plain", "-1", "99999999999999999999999", "1e308", "{}", "[]",
                         "{\"userinfo\":{\"email\":null}}", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "urn:ietf:params:oauth:request_uri:x",
                         "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "\u{0}", "\r\nX-Forged: 1", "\t\u{0B}\u{0C}",
                         "\"quoted\\\\back\"", "\u{FFFD}", "é§—…", String(repeating: "A", count: 5000), "%ZZ", "%E0%A4%A", "+", "&", "="]

    static func randomString(_ rng: inout SplitMix64) -> String {
        if Int.random(in: 0..<4, using: &rng) == 0 {
            let n = Int.random(in: 0..<40, using: &rng)
            return String(decoding: (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }, as: UTF8.self)
        }
        return values.randomElement(using: &rng)!
    }

    static func randomForm(_ rng: inout SplitMix64) -> String {
        let n = Int.random(in: 0..<8, using: &rng)
        var parts: [String] = []
        for _ in 0..<n {
            let name = Int.random(in: 0..<6, using: &rng) == 0 ? randomString(&rng) : names.randomElement(using: &rng)!
            let value = randomString(&rng)
            switch Int.random(in: 0..<5, using: &rng) {
            case 0: parts.append(name + "=" + value)   // raw, unescaped
            case 1: parts.append(FormCoding.escape(name))
            default: parts.append(FormCoding.escape(name) + "=" + FormCoding.escape(value))
            }
        }
        if Int.random(in: 0..<6, using: &rng) == 0 { parts.append(["%", "%4", "%ZZ", "%E0%A4%A", "a=%FF"].randomElement(using: &rng)!) }
        return parts.joined(separator: "&")
    }

    static func randomBody(_ rng: inout SplitMix64) -> String {
        switch Int.random(in: 0..<5, using: &rng) {
        case 0: return ""
        case 1: return ["{", "{}", "[]", "{\"redirect_uris\":[\"https://x\"],\"a\":{\"a\":{\"a\":1}}}", "{\"client_id\":1}", "null",
                        "{\"token_endpoint_auth_method\":\"none\",\"redirect_uris\":[\"https://rp.test/\\u0000\"]}"].randomElement(using: &rng)!
        case 2: return randomString(&rng)
        default: return randomForm(&rng)
        }
    }

    /// Every error text a response carries, in every channel.
    static func errorDescriptions(status: Int, headers: HTTPFields, body: String) -> [String] {
        var out: [String] = []
        if let json = JSONValue.parse(Data(body.utf8)), let d = json["error_description"]?.stringValue { out.append(d) }
        if let location = headers[.location] {
            for sep in ["?", "#"] {
                guard let i = location.firstIndex(of: Character(sep)) else { continue }
                let params = FormCoding.decode(String(location[location.index(after: i)...])) ?? []
                out += params.filter { $0.name == "error_description" }.map(\.value)
                for jwt in params where jwt.name == "response" {
                    let parts = jwt.value.split(separator: ".")
                    if parts.count == 3, let payload = Base64URL.decode(parts[1]), let claims = JSONValue.parse(payload),
                       let d = claims["error_description"]?.stringValue { out.append(d) }
                }
            }
        }
        // form_post: <input type="hidden" name="error_description" value="...">
        if let r = body.range(of: "name=\"error_description\" value=\"") {
            let rest = body[r.upperBound...]
            if let end = rest.firstIndex(of: "\"") {
                out.append(String(rest[..<end]).replacingOccurrences(of: "&amp;", with: "&").replacingOccurrences(of: "&lt;", with: "<")
                    .replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&#39;", with: "'"))
            }
        }
        for challenge in headers[values: .wwwAuthenticate] {
            if let r = challenge.range(of: "error_description=\"") {
                let rest = challenge[r.upperBound...]
                out.append(String(rest[..<(rest.lastIndex(of: "\"") ?? rest.endIndex)]))
            }
        }
        return out
    }

    @Test func hostileRequestsNeverCrashNeverAnswer5xxAndKeepErrorTextsClean() async throws {
        let harness = try await EngineHarness.make()
        defer { Task { await harness.close() } }
        let pages = try await PageRenderer.bundled(basePath: "")
        let responder = StrongroomResponder(engine: harness.engine, settings: ServerSettings(trustedProxies: ["10.9.9.9"]),
                                            issuer: EngineHarness.issuer, pages: pages, listener: .main, logger: .init(label: "fuzz"))
        var rng = SplitMix64(seed: 0x5EED_0007)
        var statuses: [Int: Int] = [:]
        var described = 0
        for i in 0..<Self.iterations {
            var fields = HTTPFields()
            if Int.random(in: 0..<5, using: &rng) != 0 {
                fields.append(HTTPField(name: .contentType, value: Self.contentTypes.randomElement(using: &rng)!))
            }
            if Int.random(in: 0..<3, using: &rng) == 0 {
                let scheme = ["Bearer", "Basic", "DPoP", "bearer", "", "Bearer Bearer"].randomElement(using: &rng)!
                fields.append(HTTPField(name: .authorization, value: scheme + " " + Self.randomString(&rng).filter { $0.isASCII && !$0.isNewline }))
            }
            if Int.random(in: 0..<6, using: &rng) == 0 { fields.append(HTTPField(name: .accept, value: "application/token-introspection+jwt")) }
            if Int.random(in: 0..<8, using: &rng) == 0 { fields.append(HTTPField(name: .cookie, value: "strongroom_session=x; strongroom_browser=;;")) }
            if Int.random(in: 0..<8, using: &rng) == 0 { fields.append(HTTPField(name: HTTPField.Name("Client-Cert")!, value: ":AAAA:")) }
            var path = Self.paths.randomElement(using: &rng)!
            if Int.random(in: 0..<2, using: &rng) == 0 { path += "?" + Self.randomForm(&rng) }
            let method = Self.methods.randomElement(using: &rng)!
            let body = Self.randomBody(&rng)
            let head = HTTPRequest(method: method, scheme: "https", authority: "as.test", path: path, headerFields: fields)
            let request = Request(head: head, body: RequestBody(buffer: ByteBuffer(string: body)))
            let peer = Int.random(in: 0..<4, using: &rng) == 0 ? "10.9.9.9" : "192.0.2.7"
            let response = try await responder.respond(to: request, context: .init(remoteAddress: peer))
            let collector = BodyCollector()
            try await response.body.write(collector)
            let status = Int(response.status.code)
            statuses[status, default: 0] += 1
            #expect(status < 500, "case \(i): \(method) \(path) content-type \(fields[.contentType] ?? "-") -> \(status) \(collector.text)")
            if status >= 400 || status == 405 {
                // Framed: an error answer always says how long it is (no connection left hanging).
                #expect(response.headers[.contentLength] != nil || !collector.text.isEmpty, "case \(i): \(method) \(path) unframed \(status)")
            }
            for d in Self.errorDescriptions(status: status, headers: response.headers, body: collector.text) {
                described += 1
                #expect(ErrorText.isAllowed(d), "case \(i): \(method) \(path): error_description \(d.debugDescription)")
            }
        }
        // The generator must reach the engine's refusals, not only the router's.
        #expect(described > Self.iterations / 6)
        #expect(statuses.keys.contains(400) && statuses.keys.contains(401))
    }
}
