import StrongroomCore

/// Client and server keys are at least this strong (RSA modulus and EC curve bits).
public struct LimitKeySizes: Rule {
    public let clause: String
    public let minimumRSABits: Int
    public let minimumECBits: Int
    public init(rsa: Int, ec: Int, clause: String) { minimumRSABits = rsa; minimumECBits = ec; self.clause = clause }
    public func constrain(_ p: inout ProfileRequirements) {
        p.minimumRSABits = max(p.minimumRSABits, minimumRSABits)
        p.minimumECBits = max(p.minimumECBits, minimumECBits)
    }

    /// The clause behind the strictest RSA and EC limits of `rules` (for the messages of the key
    /// checks, which need the keys parsed and so live where JWKs are: `ClientRegistry`).
    public static func clauses(in rules: [any Rule]) -> (rsa: String, ec: String) {
        let limits = rules.compactMap { $0 as? LimitKeySizes }
        let rsa = limits.max { $0.minimumRSABits < $1.minimumRSABits }?.clause ?? "RFC 7518 §3.3"
        let ec = limits.max { $0.minimumECBits < $1.minimumECBits }?.clause ?? "RFC 7518 §3.4"
        return (rsa, ec)
    }
}
