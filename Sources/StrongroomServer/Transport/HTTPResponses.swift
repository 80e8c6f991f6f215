import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import StrongroomCore
import StrongroomEngine

/// Responses the HTTP layer makes itself, and the translation of `EngineResponse` to Hummingbird.
public enum HTTPResponses {
    /// Security headers of every HTML page.
    ///
    /// `form-action` allows `'self'` (the login/consent forms post here), and `https:` plus loopback
    /// `http:` (RFC 8252 §7.3) because browsers apply `form-action` to the redirect that follows the
    /// consent form, which goes to the client's redirect URI.
    public static let pageHeaders: [Param] = [
        Param("Content-Type", "text/html; charset=utf-8"),
        Param("Content-Security-Policy",
              "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' https: http://localhost:* http://127.0.0.1:*; frame-ancestors 'none'; base-uri 'none'"),
        Param("X-Frame-Options", "DENY"),
        Param("Cache-Control", "no-store"),
        Param("Pragma", "no-cache"),
        Param("Referrer-Policy", "no-referrer"),
        Param("X-Content-Type-Options", "nosniff"),
    ]

    public static func page(_ html: String, status: Int = 200, headers: [Param] = []) -> EngineResponse {
        EngineResponse(status: status, headers: pageHeaders + headers, body: Data(html.utf8))
    }

    /// A small JSON error body (`{"error": …, "error_description": …}`) with `Cache-Control: no-store`.
    public static func jsonError(_ code: String, _ description: String? = nil, status: Int, headers: [Param] = []) -> EngineResponse {
        var body: [String: JSONValue] = ["error": .string(code)]
        if let description { body["error_description"] = .string(description) }
        return .json(.object(body), status: status, headers: headers)
    }

    public static let notFound = jsonError("not_found", status: 404)
    public static let bodyTooLarge = jsonError("invalid_request", "request body too large", status: 413)
    public static let serverError = jsonError("server_error", status: 500)

    public static func methodNotAllowed(allowed: [String]) -> EngineResponse {
        jsonError("method_not_allowed", status: 405, headers: [Param("Allow", allowed.joined(separator: ", "))])
    }

    /// 303 to a path of this server.
    public static func seeOther(_ location: String, headers: [Param] = []) -> EngineResponse {
        EngineResponse(status: 303, headers: [Param("Location", location), Param("Cache-Control", "no-store")] + headers)
    }

    /// Hummingbird response for an engine response, written as it is, plus the interaction id and the
    /// transport-level headers every response carries (HSTS: the server only speaks TLS).
    public static func hummingbird(_ r: EngineResponse, interactionID: String) -> Response {
        var fields = HTTPFields()
        for p in r.headers {
            guard let name = HTTPField.Name(p.name), name != interactionIDName else { continue }
            fields.append(HTTPField(name: name, value: p.value))
        }
        fields[interactionIDName] = interactionID
        if fields[hsts] == nil { fields[hsts] = "max-age=31536000" }
        if fields[.xContentTypeOptions] == nil { fields[.xContentTypeOptions] = "nosniff" }
        let status = (100...599).contains(r.status) ? HTTPResponse.Status(code: r.status) : .internalServerError
        let body: ResponseBody = r.body.isEmpty ? ResponseBody() : ResponseBody(byteBuffer: ByteBuffer(bytes: r.body))
        return Response(status: status, headers: fields, body: body)
    }

    static let interactionIDName = HTTPField.Name(InteractionID.headerName)!
    static let hsts = HTTPField.Name("Strict-Transport-Security")!
}
