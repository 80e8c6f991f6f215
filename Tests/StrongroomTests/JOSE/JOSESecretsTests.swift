import Foundation
import StrongroomCore
import Testing

@testable import StrongroomJOSE

@Suite struct JOSESecretsTests {
    @Test func secretHasherIsKeyedAndMatches() {
        let hasher = SecretHasher(key: Data(repeating: UInt8(ascii: "k"), count: 32))
        // Python: hmac.new(b'k'*32, b'secret-value', sha256), base64url.
        #expect(hasher.hash("secret-value") == "hkuG8c5Fs8WdKRmw-HhT1l1nVWFHhJZh-AbAu2hTSRA")
        #expect(hasher.matches("secret-value", hash: hasher.hash("secret-value")))
        #expect(!hasher.matches("secret-valuf", hash: hasher.hash("secret-value")))
        #expect(SecretHasher(key: Data(repeating: 1, count: 32)).hash("secret-value") != hasher.hash("secret-value"))
    }

    @Test func bcryptHashAndVerify() {
        let hash = PasswordHasher.hash("correct horse", cost: 4)
        #expect(hash.hasPrefix("$2"))
        #expect(PasswordHasher.verify("correct horse", hash: hash))
        #expect(!PasswordHasher.verify("correct horsf", hash: hash))
        #expect(!PasswordHasher.verify("correct horse", hash: "not a hash"))
        #expect(PasswordHasher.hash("x", cost: 1).hasPrefix("$2b$04$") || PasswordHasher.hash("x", cost: 1).contains("$04$"))
    }

    @Test func constantTimeEqualsCompares() {
        #expect(constantTimeEquals("abc", "abc"))
        #expect(!constantTimeEquals("abc", "abd"))
        #expect(!constantTimeEquals("abc", "abcd"))
        #expect(!constantTimeEquals("", "a"))
        #expect(constantTimeEquals("", ""))
    }
}
