import Foundation

/// The browser session cookie of the login pages.
///
/// `Secure` (TLS only), `HttpOnly` (no script access), `SameSite=Lax` (sent on the top-level
/// navigation from the client's redirect to `/authorize`, not on cross-site POSTs, which protects
/// `/consent`, `/grants/revoke` and `/logout` from cross-site request forgery alongside their CSRF tokens).
public enum SessionCookie {
    public static let name = "strongroom_session"

    /// `Set-Cookie` value for a new session.
    public static func set(value: String, expiresAt: Date, now: Date = Date()) -> String {
        let maxAge = max(0, Int(expiresAt.timeIntervalSince(now).rounded(.down)))
        return "\(name)=\(value); Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=\(maxAge)"
    }

    /// `Set-Cookie` value that removes the session cookie.
    public static func clear() -> String {
        "\(name)=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0"
    }

    /// The session cookie's value from the request's `Cookie` headers, if present and well-formed
    /// (session ids are base64url/hex tokens: anything else is not passed to the engine).
    public static func value(fromCookieHeaders headers: [String]) -> String? {
        value(named: name, fromCookieHeaders: headers)
    }

    /// A well-formed cookie value by name from the request's `Cookie` headers.
    public static func value(named name: String, fromCookieHeaders headers: [String]) -> String? {
        for header in headers {
            for pair in header.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == name else { continue }
                var v = parts[1].trimmingCharacters(in: .whitespaces)
                if v.count >= 2, v.hasPrefix("\""), v.hasSuffix("\"") { v = String(v.dropFirst().dropLast()) }
                guard isWellFormed(v) else { continue }
                return v
            }
        }
        return nil
    }

    static func isWellFormed(_ v: String) -> Bool {
        guard (1...512).contains(v.utf8.count) else { return false }
        return v.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || c == UInt8(ascii: "-") || c == UInt8(ascii: "_") || c == UInt8(ascii: ".") || c == UInt8(ascii: "~")
        }
    }
}

/// Binds a sign-in to the browser that started it: set when `/authorize` first shows a page, and
/// required by `/login`, so a page on another site cannot sign a victim's browser into the
/// attacker's account with an interaction id the attacker obtained (login CSRF, RFC 9700 §4.4.1.8).
/// `SameSite=Lax` keeps it off cross-site POSTs.
public enum BrowserCookie {
    public static let name = "strongroom_browser"

    public static func set(value: String) -> String {
        "\(name)=\(value); Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=31536000"
    }
}
