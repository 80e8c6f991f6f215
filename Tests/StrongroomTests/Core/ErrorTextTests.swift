import Foundation
import Testing
@testable import StrongroomCore

/// RFC 6749 §5.2: `error_description` holds %x20-21 / %x23-5B / %x5D-7E only, in every error.
@Suite struct ErrorTextTests {
    @Test func everyScalarOutsideTheSetIsReplaced() {
        var all = ""
        for v in 0..<0x300 { if let u = Unicode.Scalar(v) { all.unicodeScalars.append(u) } }
        all += "§—…→“”‘’≥≤×\u{2028}\u{FFFD}😀"
        for code in OAuthErrorCode.allCases {
            let e = OAuthError(code, all)
            #expect(ErrorText.isAllowed(e.errorDescription), "\(code)")
        }
    }

    @Test func citationsBecomeASCII() {
        #expect(OAuthError.invalidRequest("must not (RFC 9126 §2.1)").errorDescription == "must not (RFC 9126 sec. 2.1)")
        #expect(OAuthError.invalidRequest("FAPI 1.0 Part 2 §5.2.2-10 — only").errorDescription == "FAPI 1.0 Part 2 sec. 5.2.2-10 - only")
        #expect(OAuthError.invalidRequest("RFC 7518 §3.2").errorDescription == "RFC 7518 sec. 3.2")
    }

    @Test func quotesBackslashesAndControlsAreReplaced() {
        #expect(OAuthError.invalidRequest("a \"b\" c\\d\te\nf\u{0}").errorDescription == "a 'b' c/d e f?")
        var e = OAuthError.invalidRequest("ok")
        e.errorDescription = "set \u{7F} later"
        #expect(e.errorDescription == "set ? later")
    }

    @Test func quotedCallerInputIsBoundedAndClean() {
        #expect(ErrorText.quoted("abc") == "'abc'")
        #expect(ErrorText.quoted("a'b\n") == "'a?b?'")
        #expect(ErrorText.quoted(String(repeating: "x", count: 100)) == "'" + String(repeating: "x", count: 64) + "...'")
    }

    @Test func allowedTextIsKeptAsItIs() {
        let s = "the redirect_uri is not registered for this client [0-9] {x} ~!"
        #expect(OAuthError.invalidRequest(s).errorDescription == s)
    }
}
