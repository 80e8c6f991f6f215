import Foundation

/// A user of the built-in login.
public struct User: Sendable, Equatable {
    /// Stable, opaque subject identifier (`sub`).
    public var subject: String
    public var username: String
    /// bcrypt hash of the password.
    public var passwordHash: String
    /// OpenID claims released with consent (name, email, ...).
    public var claims: [String: JSONValue]
    public var createdAt: Date
    public init(subject: String, username: String, passwordHash: String, claims: [String: JSONValue] = [:], createdAt: Date = Date()) {
        self.subject = subject; self.username = username; self.passwordHash = passwordHash; self.claims = claims; self.createdAt = createdAt
    }
}
