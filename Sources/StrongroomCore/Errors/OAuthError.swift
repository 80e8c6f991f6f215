import Foundation

/// The error codes Strongroom returns, spelled as the specs spell them on the wire.
///
/// RFC 6749 §4.1.2.1 and §5.2, OpenID Connect Core §3.1.2.6, RFC 9101 §6.3, RFC 9126 §2.3,
/// RFC 6750 §3.1, RFC 7591 §3.2.2.
public enum OAuthErrorCode: String, Sendable, Codable, CaseIterable {
    case invalidRequest = "invalid_request"
    case invalidClient = "invalid_client"
    case invalidGrant = "invalid_grant"
    case unauthorizedClient = "unauthorized_client"
    case unsupportedGrantType = "unsupported_grant_type"
    case invalidScope = "invalid_scope"
    case accessDenied = "access_denied"
    case unsupportedResponseType = "unsupported_response_type"
    case serverError = "server_error"
    case temporarilyUnavailable = "temporarily_unavailable"
    case interactionRequired = "interaction_required"
    case loginRequired = "login_required"
    case consentRequired = "consent_required"
    case accountSelectionRequired = "account_selection_required"
    case invalidRequestURI = "invalid_request_uri"
    case invalidRequestObject = "invalid_request_object"
    case requestNotSupported = "request_not_supported"
    case requestURINotSupported = "request_uri_not_supported"
    case registrationNotSupported = "registration_not_supported"
    case invalidToken = "invalid_token"
    case insufficientScope = "insufficient_scope"
    case invalidRedirectURI = "invalid_redirect_uri"
    case invalidClientMetadata = "invalid_client_metadata"
    case invalidSoftwareStatement = "invalid_software_statement"
    case unsupportedTokenType = "unsupported_token_type"
    case invalidDPoPProof = "invalid_dpop_proof"
    case useDPoPNonce = "use_dpop_nonce"
    case notFound = "not_found"
    case methodNotAllowed = "method_not_allowed"
}

/// One error type for every protocol failure.
///
/// `description` is shown to the caller; `detail` is for logs only and never leaves the server.
/// `redirectable` is true only once the authorization endpoint has validated `client_id` and
/// `redirect_uri` (RFC 6749 §4.1.2.1): until then the user sees an error page.
/// `rule` names the check and spec clause that refused the request, for operators.
///
/// `errorDescription` holds only the characters RFC 6749 §4.1.2.1 and §5.2 (also RFC 6750 §3,
/// RFC 7591 §3.2.2) allow in `error_description`: %x20-21 / %x23-5B / %x5D-7E. Every text is
/// normalised when it is set (`ErrorText.normalise`), so no channel — redirect, JARM, form_post,
/// JSON, `WWW-Authenticate`, the error page — can carry anything else.
public struct OAuthError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: OAuthErrorCode
    public var errorDescription: String {
        get { storedDescription }
        set { storedDescription = ErrorText.normalise(newValue) }
    }
    private var storedDescription: String
    public var detail: String?
    public var status: Int
    public var redirectable: Bool
    public var rule: String?
    /// Seconds after which the caller may try again (`Retry-After`, RFC 9110 §10.2.3), for a
    /// refusal that is about load, not about the request.
    public var retryAfter: Int?

    public init(
        _ code: OAuthErrorCode,
        _ errorDescription: String,
        detail: String? = nil,
        status: Int? = nil,
        redirectable: Bool = false,
        rule: String? = nil
    ) {
        self.code = code
        self.storedDescription = ErrorText.normalise(errorDescription)
        self.detail = detail
        self.status = status ?? Self.defaultStatus(for: code)
        self.redirectable = redirectable
        self.rule = rule
    }

    public var description: String {
        var s = "\(code.rawValue): \(errorDescription)"
        if let rule { s += " [\(rule)]" }
        if let detail { s += " (\(detail))" }
        return s
    }

    /// The HTTP status each code carries when returned directly (not redirected).
    public static func defaultStatus(for code: OAuthErrorCode) -> Int {
        switch code {
        case .invalidClient, .invalidToken: 401
        case .insufficientScope, .accessDenied: 403
        case .serverError: 500
        case .temporarilyUnavailable: 503
        case .notFound: 404
        case .methodNotAllowed: 405
        default: 400
        }
    }

    public func redirecting(_ flag: Bool = true) -> OAuthError {
        var copy = self
        copy.redirectable = flag
        return copy
    }

    public func withRule(_ rule: String) -> OAuthError {
        var copy = self
        copy.rule = rule
        return copy
    }

    public static func invalidRequest(_ d: String, detail: String? = nil, rule: String? = nil) -> OAuthError {
        .init(.invalidRequest, d, detail: detail, rule: rule)
    }
    public static func invalidClient(_ d: String, detail: String? = nil, rule: String? = nil) -> OAuthError {
        .init(.invalidClient, d, detail: detail, rule: rule)
    }
    public static func invalidGrant(_ d: String, detail: String? = nil, rule: String? = nil) -> OAuthError {
        .init(.invalidGrant, d, detail: detail, rule: rule)
    }
    public static func invalidRequestObject(_ d: String, detail: String? = nil, rule: String? = nil) -> OAuthError {
        .init(.invalidRequestObject, d, detail: detail, rule: rule)
    }
    public static func invalidScope(_ d: String, detail: String? = nil, rule: String? = nil) -> OAuthError {
        .init(.invalidScope, d, detail: detail, rule: rule)
    }
    public static func unauthorizedClient(_ d: String, detail: String? = nil, rule: String? = nil) -> OAuthError {
        .init(.unauthorizedClient, d, detail: detail, rule: rule)
    }
    /// Too many requests (HTTP 429) or too busy (503): RFC 6749 has no code for a rate limit, so
    /// every endpoint answers `temporarily_unavailable` (RFC 6749 §4.1.2.1, the authorization
    /// endpoint's code for an overloaded server) with the status and `Retry-After` saying when.
    public static func tooManyRequests(_ d: String, retryAfter: Int, status: Int = 429) -> OAuthError {
        var e = OAuthError(.temporarilyUnavailable, d, status: status)
        e.retryAfter = max(1, retryAfter)
        return e
    }
    /// Anything unexpected: no internals in the public text.
    public static func serverError(detail: String) -> OAuthError {
        .init(.serverError, "The server encountered an unexpected condition.", detail: detail)
    }
}

/// A failure of something the server depends on (the database unreachable, its connections
/// lost) that retrying later can cure, as opposed to a fault. `StorageError.unavailable` is one.
public protocol OutageError: Error {
    var isOutage: Bool { get }
}

extension OAuthError {
    /// How long a caller is asked to wait after an outage (`Retry-After`).
    public static let outageRetryAfter = 5

    /// Any error as an `OAuthError`: itself; an outage as 503 `temporarily_unavailable` with
    /// `Retry-After`; anything else as `server_error`, the original kept for the log.
    public static func wrap(_ error: any Error) -> OAuthError {
        if let e = error as? OAuthError { return e }
        return failure(error, "unexpected")
    }

    /// A failure while doing `what` (for the log): an outage becomes 503 `temporarily_unavailable`
    /// with `Retry-After` (RFC 6749 §4.1.2.1, §5.2 through RFC 6749's registry; RFC 9110 §15.6.4),
    /// anything else `server_error`.
    public static func failure(_ error: any Error, _ what: String) -> OAuthError {
        if let outage = error as? any OutageError, outage.isOutage {
            var e = tooManyRequests("the service is temporarily unavailable; try again in \(outageRetryAfter) seconds",
                                    retryAfter: outageRetryAfter, status: 503)
            e.detail = "\(what): \(error)"
            return e
        }
        return .serverError(detail: "\(what): \(error)")
    }
}

/// The character rules of `error_description`, in one place.
public enum ErrorText {
    /// Longest `error_description` sent; longer texts are cut (with "...").
    public static let maximumLength = 4096

    /// Whether every character of `s` is one RFC 6749 §5.2 allows in `error_description`.
    public static func isAllowed(_ s: String) -> Bool {
        s.unicodeScalars.allSatisfy(isAllowed)
    }

    public static func isAllowed(_ u: Unicode.Scalar) -> Bool {
        switch u.value {
        case 0x20...0x21, 0x23...0x5B, 0x5D...0x7E: true
        default: false
        }
    }

    /// The text as `error_description` may carry it: spec citations spelled in ASCII ("§" → "sec."),
    /// typographic punctuation folded to ASCII, `"` → `'`, `\` → `/`, and any other character
    /// outside the allowed set (controls, CR, LF, NUL, non-ASCII) replaced by `?`.
    public static func normalise(_ s: String) -> String {
        if s.utf8.count <= maximumLength, isAllowed(s) { return s }
        var out = String.UnicodeScalarView()
        var afterSection = false
        for u in s.unicodeScalars {
            defer { afterSection = u == "\u{00A7}" }
            if afterSection && u == " " { continue }
            switch u {
            case "\u{00A7}": out.append(contentsOf: "sec. ".unicodeScalars)
            case "\u{2014}", "\u{2013}", "\u{2212}": out.append("-")
            case "\u{2026}": out.append(contentsOf: "...".unicodeScalars)
            case "\u{2192}": out.append(contentsOf: "->".unicodeScalars)
            case "\u{2018}", "\u{2019}", "\"": out.append("'")
            case "\u{201C}", "\u{201D}": out.append("'")
            case "\\": out.append("/")
            case "\u{2265}": out.append(contentsOf: ">=".unicodeScalars)
            case "\u{2264}": out.append(contentsOf: "<=".unicodeScalars)
            case "\u{00D7}": out.append("x")
            case "\t", "\n", "\r": out.append(" ")
            default: out.append(isAllowed(u) ? u : "?")
            }
        }
        var text = String(out)
        if text.utf8.count > maximumLength { text = String(text.prefix(maximumLength - 3)) + "..." }
        return text
    }

    /// Caller input quoted for an error text: single-quoted, at most 64 characters, every
    /// character outside the allowed set shown as `?`. Use it whenever a message names a value
    /// the caller sent; raw input never reaches an error or a log line.
    public static func quoted(_ value: String, limit: Int = 64) -> String {
        var out = String.UnicodeScalarView()
        var count = 0
        for u in value.unicodeScalars {
            if count == limit { out.append(contentsOf: "...".unicodeScalars); break }
            out.append(isAllowed(u) && u != "'" ? u : "?")
            count += 1
        }
        return "'" + String(out) + "'"
    }
}
