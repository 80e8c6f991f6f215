import StrongroomCore

/// Refresh tokens do not rotate: a confidential client's refresh token is bound to its
/// authentication already, and a lost response must not lock the client out. An operator may
/// turn rotation back on for one client (`strongroom_refresh_token_rotation: true`); the service
/// setting `refresh_token_rotation: false` turns it off everywhere.
public struct AvoidRefreshTokenRotation: Rule {
    public let clause = "FAPI 2.0 Security Profile §5.3.2.1-10"
    public init() {}
    public func constrain(_ p: inout ProfileRequirements) { p.refreshTokenRotation = false }
}
