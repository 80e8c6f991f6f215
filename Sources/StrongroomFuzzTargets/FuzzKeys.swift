import Foundation
import StrongroomCore
import StrongroomDemo
import StrongroomJOSE

/// Keys and a certificate made once per process for the parser targets. Test material only:
/// generated at start-up, never written anywhere.
final class FuzzKeys: Sendable {
    static let shared: FuzzKeys = {
        do { return try FuzzKeys() } catch { fatalError("fuzz keys: \(error)") }
    }()

    /// Private halves, kept so that tests can show the forgery check trips on a real signature.
    let signingKeys: [ServerSigningKey]
    let publicSet: JWKSet
    let asymmetricPolicy = VerificationPolicy(allowedAlgorithms: [.ps256, .rs256, .es256, .es384, .es512, .eddsa])
    let hmacSecret = "fuzz-test-client-secret-0123456789-abcdefghij"
    let hmacPolicy = VerificationPolicy(allowedAlgorithms: [.hs256, .hs384, .hs512])
    let certificate: ClientCertificate

    private init() throws {
        let keys = try [JWSAlgorithm.ps256, .es256, .es384].map { try ServerSigningKey.generate($0) }
        signingKeys = keys
        publicSet = JWKSet(keys: keys.map(\.publicJWK))
        let ca = try DemoPKI.makeCA(commonName: "Strongroom Fuzz Test CA")
        let issued = try DemoPKI.issueClientCertificate(ca: ca, commonName: "fuzz-client", organization: "Strongroom Fuzz",
                                                         keyAlgorithm: .es256)
        certificate = try ClientCertificate.fromPEM(issued.certificatePEM)
    }
}
