import StrongroomCore

/// Client and server keys are at least this strong (RSA modulus and EC curve bits).
public struct LimitKeySizes: Rule {
    public let clause: String
    let minimumRSABits: Int
    let minimumECBits: Int
    public init(rsa: Int, ec: Int, clause: String) { minimumRSABits = rsa; minimumECBits = ec; self.clause = clause }
    public func constrain(_ p: inout ProfileRequirements) {
        p.minimumRSABits = max(p.minimumRSABits, minimumRSABits)
        p.minimumECBits = max(p.minimumECBits, minimumECBits)
    }
}
