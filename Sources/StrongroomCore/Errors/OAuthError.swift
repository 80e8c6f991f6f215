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
    case notFound = "not_found"
    case methodNotAllowed = "method_not_allowed"
}

/// One error type for every protocol failure.
///
/// `description` is shown to the caller; `detail` is for logs only and never leaves the server.
/// `redirectable` is true only once the authorization endpoint has validated `client_id` and
/// `redirect_uri` (RFC 6749 §4.1.2.1): until then the user sees an error page.
/// `rule` names the check and spec clause that refused the request, for operators.
public struct OAuthError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: OAuthErrorCode
    public var errorDescription: String
    public var detail: String?
    public var status: Int
    public var redirectable: Bool
    public var rule: String?

    public init(
        _ code: OAuthErrorCode,
        _ errorDescription: String,
        detail: String? = nil,
        status: Int? = nil,
        redirectable: Bool = false,
        rule: String? = nil
    ) {
        self.code = code
        self.errorDescription = errorDescription
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
    /// Anything unexpected: no internals in the public text.
    public static func serverError(detail: String) -> OAuthError {
        .init(.serverError, "The server encountered an unexpected condition.", detail: detail)
    }
}

extension OAuthError {
    /// Any error as an `OAuthError`: itself, or `server_error` with the original kept for the log.
    public static func wrap(_ error: any Error) -> OAuthError {
        (error as? OAuthError) ?? .serverError(detail: "\(error)")
    }
}
