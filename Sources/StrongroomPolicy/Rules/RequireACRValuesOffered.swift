import StrongroomCore

/// The service lists the ACR values it can satisfy (the read-and-write request table carries an
/// essential `acr` in the claims request).
public struct RequireACRValuesOffered: Rule {
    public let clause = "FAPI 1.0 Part 2 §5.2.2.1 (reference, read-and-write request table)"
    public init() {}
    public func violations(of s: ServiceSettings, _ ctx: ConformanceContext) -> [Violation] {
        guard s.acrValues.isEmpty else { return [] }
        return [violation(ctx, "acr_values", "set the supported ACR values (the claims request carries an essential acr)")]
    }
}
