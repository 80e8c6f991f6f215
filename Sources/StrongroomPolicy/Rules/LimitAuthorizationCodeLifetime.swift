import StrongroomCore

/// Authorization codes live at most this many seconds (the engine issues
/// `min(service.lifetimes.authorization_code, ProfileRequirements.maxCodeLifetime)`).
public struct LimitAuthorizationCodeLifetime: Rule {
    public let clause: String
    let seconds: Int
    public init(seconds: Int, clause: String) { self.seconds = seconds; self.clause = clause }
    public func constrain(_ p: inout ProfileRequirements) { p.maxCodeLifetime = min(p.maxCodeLifetime ?? seconds, seconds) }
}
