import StrongroomCore

/// Every authorization response carries `iss` (RFC 9207).
public struct RequireIssResponseParameter: Rule {
    public let clause = "FAPI 2.0 Security Profile §5.3.2.2-9"
    public init() {}
    public func constrain(_ p: inout ProfileRequirements) { p.requireIssResponseParameter = true }
}
