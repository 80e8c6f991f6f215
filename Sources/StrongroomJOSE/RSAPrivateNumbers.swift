import Foundation
import StrongroomCore
import SwiftASN1

/// The numbers of a PKCS#1 RSAPrivateKey (RFC 8017 §A.1.2), for writing private JWKs.
struct RSAPrivateNumbers {
    var n, e, d, p, q, dp, dq, qi: ArraySlice<UInt8>

    init(pkcs1DER: Data) throws {
        let root = try DER.parse(Array(pkcs1DER))
        guard case .constructed(let children) = root.content else { throw JOSEError.malformed("RSA key is not a sequence") }
        var integers: [ArraySlice<UInt8>] = []
        for child in children {
            guard child.identifier == .integer, case .primitive(let bytes) = child.content else {
                throw JOSEError.malformed("RSA key member is not an integer")
            }
            integers.append(bytes.drop(while: { $0 == 0 }))
        }
        guard integers.count >= 9 else { throw JOSEError.malformed("RSA key has too few members") }
        (n, e, d, p, q, dp, dq, qi) = (integers[1], integers[2], integers[3], integers[4], integers[5], integers[6], integers[7], integers[8])
    }

    var jwkMembers: [String: JSONValue] {
        [
            "n": .string(Base64URL.encode(n)), "e": .string(Base64URL.encode(e)),
            "d": .string(Base64URL.encode(d)), "p": .string(Base64URL.encode(p)),
            "q": .string(Base64URL.encode(q)), "dp": .string(Base64URL.encode(dp)),
            "dq": .string(Base64URL.encode(dq)), "qi": .string(Base64URL.encode(qi)),
        ]
    }
}
