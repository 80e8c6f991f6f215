import Foundation
import Testing
@testable import StrongroomCore

/// Configuration loading: errors name the key at fault; environment overrides apply.
@Suite struct CoreConfigurationTests {
    static let valid = """
    service:
      issuer: https://as.example
      scopes:
        - name: openid
        - name: payments
          description: Make payments
          attributes: {fapi: rw}
    server:
      port: 9443
      tls_certificate: server.pem
      tls_private_key: server.key.pem
    secret_hash_key: \(Data(repeating: 1, count: 32).base64EncodedString())
    """

    @Test func validConfigurationParses() throws {
        let c = try StrongroomConfiguration.parse(Self.valid)
        try c.validate()
        #expect(c.service.scope(named: "payments")?.profile == .fapi1Advanced)
        #expect(c.server.port == 9443)
        #expect(c.database.url == "sqlite:strongroom.sqlite")
    }

    @Test func productionSurfacesAreOffByDefault() throws {
        let c = try StrongroomConfiguration.parse(Self.valid)
        #expect(c.server.demoPages == false)
        #expect(c.metrics.isPublic == false)
        #expect(c.server.requestClientCertificate == true)
        let text = Self.valid.replacingOccurrences(of: "server:\n", with: "server:\n  demo_pages: true\n  request_client_certificate: false\n")
            + "\nmetrics: {public: true}\n"
        let opened = try StrongroomConfiguration.parse(text)
        #expect(opened.metrics.isPublic)
        #expect(opened.server.demoPages)
        #expect(opened.server.requestClientCertificate == false)
    }

    @Test(arguments: [
        ("service:\n  scopes: []\nsecret_hash_key: x", "service.issuer"),
        (valid.replacingOccurrences(of: "port: 9443", with: "port: not-a-number"), "server.port"),
        (valid.replacingOccurrences(of: "attributes: {fapi: rw}", with: "attributes: 42"), "service.scopes"),
        (valid + "\nlog_level: loud", "log_level"),
        (valid.replacingOccurrences(of: "https://as.example", with: "http://as.example"), "service.issuer"),
        (valid + "\ndatabase: {url: mysql://x}", "database.url"),
        (valid.replacingOccurrences(of: "- name: openid", with: "- name: \"two words\""), "service.scopes[0].name"),
    ])
    func badConfigurationNamesTheKey(_ text: String, _ key: String) {
        do {
            let c = try StrongroomConfiguration.parse(text)
            try c.validate()
            Issue.record("accepted a bad configuration")
        } catch let e as ConfigurationError {
            #expect(e.key.hasPrefix(key) || e.description.contains(key), "\(e)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func garbageIsAClearError() {
        #expect(throws: ConfigurationError.self) { try StrongroomConfiguration.parse("{{{{ not yaml ::: [") }
        #expect(throws: ConfigurationError.self) { try StrongroomConfiguration.parse("") }
    }

    @Test func environmentOverrides() throws {
        var c = try StrongroomConfiguration.parse(Self.valid)
        try c.applyEnvironment(["STRONGROOM_ISSUER": "https://other.example", "STRONGROOM_PORT": "7443",
                                "STRONGROOM_DATABASE_URL": "postgres://u:p@127.0.0.1/db", "STRONGROOM_MTLS_PORT": "7444"])
        #expect(c.service.issuer == "https://other.example")
        #expect(c.server.port == 7443)
        #expect(c.server.mtlsAlias?.port == 7444)
        #expect(c.database.url.hasPrefix("postgres://"))
        #expect(throws: ConfigurationError.self) { try c.applyEnvironment(["STRONGROOM_PORT": "eighty"]) }
    }

    @Test func jsonIsAcceptedToo() throws {
        let json = #"{"service":{"issuer":"https://as.example"},"server":{"tls_certificate":"a","tls_private_key":"b"},"secret_hash_key":"\#(Data(repeating: 2, count: 32).base64EncodedString())"}"#
        let c = try StrongroomConfiguration.parse(json)
        try c.validate()
        #expect(c.service.issuer == "https://as.example")
    }

    @Test func responseTypeOrderIsIrrelevant() {
        #expect(ResponseType(parsing: "id_token code") == .codeIDToken)
        #expect(ResponseType(parsing: "code") == .code)
        #expect(ResponseType(parsing: "code bogus") == nil)
        #expect(ResponseType(parsing: "") == nil)
    }

    @Test func base64URLIsStrict() {
        #expect(Base64URL.decode("aGVsbG8") == Data("hello".utf8))
        #expect(Base64URL.decode("aGVsbG8=") == nil)
        #expect(Base64URL.decode("a+b/") == nil)
        #expect(Base64URL.decode("a") == nil)
    }
}

@Suite struct CoreRandomTests {
    @Test(arguments: [0, 1, 7, 8, 9, 16, 32, 33])
    func exactByteCounts(_ n: Int) {
        #expect(SystemRandom().bytes(n).count == n)
    }

    @Test func tokensAreLongAndDistinct() {
        let tokens = (0..<1000).map { _ in SystemRandom().token(bits: 256) }
        #expect(Set(tokens).count == 1000)
        #expect(tokens.allSatisfy { Base64URL.decode($0)?.count == 32 })
        // Never fewer than 128 bits, whatever is asked.
        #expect(Base64URL.decode(SystemRandom().token(bits: 8))?.count == 16)
    }
}

@Suite struct CoreBase64URLTests {
    /// The reference: Foundation base64 with the URL alphabet and no padding.
    static func reference(_ d: Data) -> String {
        d.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    @Test func roundTripsEveryLengthAgainstFoundation() {
        for n in 0..<200 {
            let bytes = SystemRandom().bytes(n)
            let encoded = Base64URL.encode(bytes)
            #expect(encoded == Self.reference(Data(bytes)))
            #expect(Base64URL.decode(encoded) == Data(bytes))
        }
    }

    @Test func rfc4648Vectors() {
        let vectors = ["": "", "f": "Zg", "fo": "Zm8", "foo": "Zm9v", "foob": "Zm9vYg", "fooba": "Zm9vYmE", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors {
            #expect(Base64URL.encode(plain) == encoded)
            #expect(Base64URL.decode(encoded) == Data(plain.utf8))
        }
        #expect(Base64URL.encode([0xFB, 0xFF]) == "-_8")
    }

    @Test func refusesNonCanonicalAndForeignInput() {
        #expect(Base64URL.decode("Zh") == nil)      // stray bits after "f"
        #expect(Base64URL.decode("Zm9v ") == nil)
        #expect(Base64URL.decode("Zm9v\n") == nil)
        #expect(Base64URL.decode("+/8") == nil)
        #expect(Base64URL.decode("Zm9vY") == nil)   // length 1 mod 4
        #expect(Base64URL.decode("é") == nil)
    }
}

@Suite struct CoreJSONTests {
    @Test func serializesCompactSortedAndEscaped() {
        let v: JSONValue = ["b": 1, "a": ["x", true, .null, .number(1.5)], "s": "q\"\\/\n\u{01}é"]
        #expect(v.serializedString() == #"{"a":["x",true,null,1.5],"b":1,"s":"q\"\\/\n\u0001é"}"#)
    }

    @Test func roundTripsThroughFoundation() throws {
        let v: JSONValue = ["n": .number(1_800_000_000), "neg": -3, "f": .number(0.25), "nested": ["k": ["v"]], "u": "ünïcode ✓ 🔐", "ctl": "\t\r"]
        let back = try JSONDecoder().decode(JSONValue.self, from: v.serialized())
        #expect(back == v)
        #expect(try JSONSerialization.jsonObject(with: v.serialized()) is [String: Any])
    }

    @Test func nonFiniteNumbersBecomeNull() {
        #expect(JSONValue.number(.infinity).serializedString() == "null")
        #expect(JSONValue.number(.nan).serializedString() == "null")
        #expect(JSONValue.number(1e300).serializedString() == "1e+300")
    }
}

@Suite struct CoreJSONParserTests {
    @Test(arguments: [
        #"{"a":1,"b":[true,false,null],"c":"x\"y\\z\/\u00e9\ud83d\udd10","d":-0.5e+2,"e":{}}"#,
        "[]", "0", "-12", "1.5", "2E-3", "\"\"", "  {\"k\" : [ 1 , 2 ] }  ", "true", "null",
    ])
    func acceptsValidJSON(_ text: String) throws {
        let mine = try #require(JSONValue.parse(text))
        let foundation = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(mine == foundation)
    }

    @Test(arguments: [
        "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{a:1}", "'x'", "01", "1.", ".5", "-", "1e", "+1", "NaN", "Infinity",
        "tru", "nulll", "\"unterminated", "\"\u{01}\"", "\"\\x\"", "\"\\ud800\"", "\"\\udc00\"", "[1] 2",
        #"{"a":1,"a":2}"#, "1e999",
    ])
    func refusesInvalidJSON(_ text: String) {
        #expect(JSONValue.parse(text) == nil, "accepted: \(text)")
    }

    @Test func refusesInvalidUTF8AndDeepNesting() {
        #expect(JSONValue.parse(Data([0x22, 0xFF, 0x22])) == nil)
        #expect(JSONValue.parse(String(repeating: "[", count: 65) + String(repeating: "]", count: 65)) == nil)
        #expect(JSONValue.parse(String(repeating: "[", count: 64) + String(repeating: "]", count: 64)) != nil)
        #expect(JSONValue.parse(String(repeating: "[", count: 100_000)) == nil)
    }
}

@Suite struct CoreBoundedCacheTests {
    @Test func expiresAndStaysBounded() {
        let start = Date(timeIntervalSince1970: 1_000)
        let cache = BoundedCache<String, Int>(capacity: 3, lifetime: 5)
        cache.put("a", 1, now: start)
        #expect(cache.get("a", now: start + 4) == 1)
        #expect(cache.get("a", now: start + 6) == nil)
        for (i, k) in ["a", "b", "c"].enumerated() { cache.put(k, i, now: start) }
        cache.put("b", 9, now: start)             // replacing an entry never clears
        #expect(cache.get("a", now: start) == 0)
        cache.put("d", 4, now: start)             // a fourth key starts over
        #expect(cache.get("a", now: start) == nil)
        #expect(cache.get("d", now: start) == 4)
        cache.remove("d")
        #expect(cache.get("d", now: start) == nil)
        let forever = BoundedCache<String, Int>(capacity: 2)
        forever.put("x", 1, now: start)
        #expect(forever.get("x", now: start + 1e9) == 1)
    }
}
