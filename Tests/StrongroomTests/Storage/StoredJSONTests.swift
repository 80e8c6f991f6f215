import Foundation
import Testing
import StrongroomCore
@testable import StrongroomStorage

/// The hand-written path for plain string lists must read and write exactly what `JSONDecoder` and
/// `JSONEncoder` do, and give way to them for anything else.
@Suite("Stored JSON string lists")
struct StoredJSONTests {
    private func viaFoundation(_ text: String) -> [String]? {
        try? JSONDecoder().decode([String].self, from: Data(text.utf8))
    }

    @Test("Plain lists round-trip and agree with JSONDecoder")
    func plainListsAgree() throws {
        let lists: [[String]] = [[], [""], ["openid"], ["openid", "accounts", "payments"], ["a/b", "x:y", "~!#$%&'()*+,-.;<=>?@[]^_`{|}"]]
        for list in lists {
            let text = try StoredJSON.encode(list)
            #expect(PlainStringList.encode(list) == text)
            #expect(PlainStringList.decode(text) == list)
            #expect(viaFoundation(text) == list)
            #expect(try StoredJSON.decode([String].self, from: text, column: "scopes") == list)
        }
    }

    @Test("Texts outside the plain form are left to JSONDecoder")
    func otherTextsFallBack() throws {
        let texts = [#"[ "a"]"#, #"["a" ]"#, #"["a\"b"]"#, #"["a\\b"]"#, #"["\u00e9"]"#, "[\"é\"]", #"["a",]"#, #"[,"a"]"#,
                     #"["a""b"]"#, #"["a"#, #""a"]"#, "", "[", "]", "[\"\t\"]"]
        for text in texts {
            #expect(PlainStringList.decode(text) == nil, "\(text)")
            let decoded = try? StoredJSON.decode([String].self, from: text, column: "scopes")
            #expect(decoded == viaFoundation(text), "\(text)")
        }
        // Strings that need escaping are written by JSONEncoder and read back intact.
        for list in [["a\"b"], ["back\\slash"], ["tab\there"], ["é"], ["line\u{2028}"]] {
            #expect(PlainStringList.encode(list) == nil)
            let text = try StoredJSON.encode(list)
            #expect(try StoredJSON.decode([String].self, from: text, column: "scopes") == list)
        }
    }

    @Test("Random lists agree with Foundation both ways")
    func randomListsAgree() throws {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("abcXYZ019 :/\"\\,[]{}é\u{1}\t~")
        for _ in 0..<2_000 {
            let list = (0..<Int.random(in: 0...4, using: &generator)).map { _ in
                String((0..<Int.random(in: 0...6, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
            }
            let text = try StoredJSON.encode(list)
            #expect(viaFoundation(text) == list)
            #expect(try StoredJSON.decode([String].self, from: text, column: "scopes") == list)
        }
    }
}

/// The memo of decoded client metadata must return what decoding the same text returns, follow the
/// text when it changes, stay within its capacity and refuse malformed text as decoding does.
@Suite("Decoded JSON memo")
struct DecodedJSONMemoTests {
    private func metadataText(name: String) throws -> String {
        #"{"client_name":"\#(name)","redirect_uris":["https://rp.example/cb"],"token_endpoint_auth_method":"client_secret_basic","grant_types":["client_credentials"],"response_types":[],"scope":"profile"}"#
    }

    @Test("The memo returns exactly what decoding returns, and follows a changed text")
    func memoFollowsTheText() throws {
        let memo = DecodedJSONMemo<ClientMetadata>(capacity: 2, byteCapacity: 1 << 20)
        let first = try metadataText(name: "first")
        let decoded = try StoredJSON.decode(ClientMetadata.self, from: first, column: "metadata")
        #expect(try memo.decode(first, column: "metadata") == decoded)
        #expect(try memo.decode(first, column: "metadata") == decoded)  // from the memo
        let renamed = try metadataText(name: "renamed")
        let again = try memo.decode(renamed, column: "metadata")
        #expect(again.clientName == "renamed")
        #expect(try memo.decode(first, column: "metadata").clientName == "first")
        // More distinct texts than the capacity: every answer still matches its own text.
        for index in 0..<5 {
            #expect(try memo.decode(try metadataText(name: "client \(index)"), column: "metadata").clientName == "client \(index)")
        }
        #expect(try memo.decode(first, column: "metadata") == decoded)
        #expect(memo.usage.entries <= 2)
    }

    @Test("The memo keeps no more bytes than its bound, and no text over a tenth of it")
    func memoIsBoundedByBytes() throws {
        let memo = DecodedJSONMemo<ClientMetadata>(capacity: 1000, byteCapacity: 3000)
        let large = try metadataText(name: String(repeating: "x", count: 300))
        #expect(large.utf8.count > 300)
        #expect(try memo.decode(large, column: "metadata").clientName?.count == 300)
        #expect(memo.usage.entries == 0)
        var mostKept = 0
        for index in 0..<40 {
            let text = try metadataText(name: "client \(index)")
            #expect(text.utf8.count <= 300)
            #expect(try memo.decode(text, column: "metadata").clientName == "client \(index)")
            #expect(memo.usage.bytes <= 3000)
            mostKept = max(mostKept, memo.usage.entries)
        }
        #expect(mostKept >= 10)  // kept until the byte bound, then started again
    }

    @Test("Malformed text is refused as StorageError, and not remembered")
    func malformedIsRefused() throws {
        let memo = DecodedJSONMemo<ClientMetadata>(capacity: 4, byteCapacity: 1 << 20)
        for _ in 0..<2 {
            #expect(throws: StorageError.self) { try memo.decode(#"{"client_name":"#, column: "metadata") }
        }
    }
}
