import Foundation
import StrongroomCore
import StrongroomJOSE

/// A name/value pair from a query string, a form body or a header list (order and duplicates kept).
public struct Param: Sendable, Equatable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) { self.name = name; self.value = value }
}

/// Which listener a request arrived on.
public enum Listener: String, Sendable {
    /// The main TLS listener: requests a client certificate but does not require one.
    case main
    /// The RFC 8705 §5 alias listener: requires a client certificate.
    case mtlsAlias
}

/// The transport facts of one HTTP request, as the HTTP layer hands them to the engine.
/// The engine never sees the HTTP framework's types.
public struct TransportRequest: Sendable {
    public var method: String
    /// Path without query string, e.g. `/token`.
    public var path: String
    public var query: [Param]
    /// Header names lower-cased.
    public var headers: [Param]
    public var body: Data
    /// The client certificate from the TLS session, or (only from a trusted proxy) from the forwarded header.
    public var clientCertificate: ClientCertificate?
    public var remoteAddress: String?
    public var listener: Listener
    /// `x-fapi-interaction-id`: echoed from the request or minted by the HTTP layer.
    public var interactionID: String
    /// The browser-binding cookie's value (set by the HTTP layer from the request's cookies): ties a
    /// sign-in to the browser that started the authorization request.
    public var browserBinding: String?

    public init(method: String, path: String, query: [Param] = [], headers: [Param] = [], body: Data = Data(),
                clientCertificate: ClientCertificate? = nil, remoteAddress: String? = nil, listener: Listener = .main,
                interactionID: String = UUID().uuidString.lowercased()) {
        self.method = method.uppercased()
        self.path = path
        self.query = query
        self.headers = headers.map { Param($0.name.lowercased(), $0.value) }
        self.body = body
        self.clientCertificate = clientCertificate
        self.remoteAddress = remoteAddress
        self.listener = listener
        self.interactionID = interactionID
    }

    public func header(_ name: String) -> String? {
        let n = name.lowercased()
        return headers.first { $0.name == n }?.value
    }

    public func headers(_ name: String) -> [String] {
        let n = name.lowercased()
        return headers.filter { $0.name == n }.map(\.value)
    }

    /// The media type of the body, lower-cased, without parameters. An empty header (or one that is
    /// only parameters, e.g. `;`) gives the empty string, which matches no media type.
    public var contentType: String? {
        guard let raw = header("content-type") else { return nil }
        // Byte-level: Foundation's trimmingCharacters(in:) cost more than the rest of this per request.
        var bytes = Substring(raw).utf8.prefix { $0 != UInt8(ascii: ";") }[...]
        while let first = bytes.first, first == 0x20 || first == 0x09 { bytes = bytes.dropFirst() }
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes = bytes.dropLast() }
        return String(decoding: bytes, as: UTF8.self).lowercased()
    }

    /// `application/x-www-form-urlencoded` body parameters for the pages (login, consent, logout,
    /// the demo callback): empty for other content types and for a malformed body.
    public var form: [Param] {
        guard contentType == "application/x-www-form-urlencoded" else { return [] }
        return FormCoding.decode(String(decoding: body, as: UTF8.self)) ?? []
    }

    /// The form body of an OAuth endpoint: a malformed body (a bad percent-escape, bytes that are
    /// not UTF-8) is refused as a whole with `invalid_request`, never read in part — dropping a bad
    /// pair would hide a repeated parameter (RFC 6749 §3.1).
    public func formParameters() throws(OAuthError) -> [Param] {
        guard let params = FormCoding.decode(body) else {
            throw OAuthError.invalidRequest("the form body is malformed (bad percent-encoding or not UTF-8)")
        }
        return params
    }

    /// Set by the HTTP layer when the query string is malformed: the endpoints that read the query
    /// refuse such a request rather than read part of it.
    public var queryIsMalformed = false
}

/// A response value the HTTP layer writes as it is.
public struct EngineResponse: Sendable, Equatable {
    public var status: Int
    public var headers: [Param]
    public var body: Data

    public init(status: Int, headers: [Param] = [], body: Data = Data()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// JSON body with `Cache-Control: no-store` (RFC 6749 §5.1), as every OAuth endpoint answers.
    public static func json(_ value: JSONValue, status: Int = 200, headers: [Param] = []) -> EngineResponse {
        EngineResponse(
            status: status,
            headers: [Param("Content-Type", "application/json"), Param("Cache-Control", "no-store"), Param("Pragma", "no-cache")] + headers,
            body: value.serialized()
        )
    }

    /// The RFC 6749 §5.2 error body; `invalid_client` gets 401 and `WWW-Authenticate` (§5.2); a
    /// refusal for load carries `Retry-After`.
    public static func oauthError(_ error: OAuthError, authScheme: String? = nil) -> EngineResponse {
        var body: [String: JSONValue] = ["error": .string(error.code.rawValue)]
        if !error.errorDescription.isEmpty { body["error_description"] = .string(error.errorDescription) }
        var headers: [Param] = []
        if error.status == 401 {
            let scheme = authScheme ?? "Basic"
            headers.append(Param("WWW-Authenticate", "\(scheme) realm=\"strongroom\", error=\"\(error.code.rawValue)\""))
        }
        if let seconds = error.retryAfter { headers.append(Param("Retry-After", String(seconds))) }
        return json(.object(body), status: error.status, headers: headers)
    }

    public static func jwt(_ compact: String, contentType: String, status: Int = 200) -> EngineResponse {
        EngineResponse(status: status, headers: [Param("Content-Type", contentType), Param("Cache-Control", "no-store")],
                       body: Data(compact.utf8))
    }

    public static func redirect(_ location: String) -> EngineResponse {
        EngineResponse(status: 303, headers: [Param("Location", location), Param("Cache-Control", "no-store")])
    }
}

/// application/x-www-form-urlencoded (WHATWG URL §5): `+` is space, percent-decoding, pairs kept in order.
public enum FormCoding {
    /// The pairs of `s`, or nil when any pair is malformed (a bad `%` escape, or a decoded name or
    /// value that is not UTF-8): a body is taken whole or refused, never in part.
    public static func decode(_ s: String) -> [Param]? {
        guard !s.isEmpty else { return [] }
        var out: [Param] = []
        for pair in s.split(separator: "&", omittingEmptySubsequences: true) {
            let name: Substring
            let rawValue: Substring
            if let eq = pair.firstIndex(of: "=") {
                name = pair[..<eq]
                rawValue = pair[pair.index(after: eq)...]
            } else {
                name = pair
                rawValue = ""
            }
            guard let n = unescape(String(name)), let v = unescape(String(rawValue)) else { return nil }
            out.append(Param(n, v))
        }
        return out
    }

    /// A body as bytes: nil when it is not UTF-8 or any pair is malformed.
    public static func decode(_ body: Data) -> [Param]? {
        guard let text = String(validating: body, as: UTF8.self) else { return nil }
        return decode(text)
    }

    /// `+` → space, `%XX` → byte; nil for a malformed escape or bytes that are not UTF-8.
    static func unescape(_ s: String) -> String? {
        let input = Array(s.utf8)
        guard input.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) else { return s }
        var out = [UInt8]()
        out.reserveCapacity(input.count)
        var i = 0
        while i < input.count {
            let c = input[i]
            if c == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
                i += 1
            } else if c == UInt8(ascii: "%") {
                guard i + 2 < input.count, let hi = hexValue(input[i + 1]), let lo = hexValue(input[i + 2]) else { return nil }
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(c)
                i += 1
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static let allowed: CharacterSet = {
        var c = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)..<Unicode.Scalar(128)))
        c.insert(charactersIn: "-._~")
        return c
    }()

    public static func escape(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }

    public static func encode(_ params: [Param]) -> String {
        params.map { "\(escape($0.name))=\(escape($0.value))" }.joined(separator: "&")
    }
}
