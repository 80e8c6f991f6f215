import Foundation
import Testing
@testable import StrongroomCore
@testable import StrongroomEngine

@Suite struct EngineTransportTests {
    @Test func formDecodingKeepsOrderAndDuplicates() {
        let p = FormCoding.decode("a=b+c&d=%41%42%2B&a=2&empty=&flag&utf=%C3%A9")
        #expect(p == [Param("a", "b c"), Param("d", "AB+"), Param("a", "2"), Param("empty", ""), Param("flag", ""), Param("utf", "é")])
    }

    @Test func malformedEscapesAreDropped() {
        #expect(FormCoding.decode("x=%ZZ&y=1") == [Param("y", "1")])
        #expect(FormCoding.decode("x=%4&y=%") == [])
        #expect(FormCoding.decode("x=%FF%FE") == [])   // not UTF-8
    }

    @Test func encodeDecodeRoundTrip() {
        let params = [Param("redirect_uri", "https://rp.example/cb?x=1&y=2"), Param("scope", "openid payments"), Param("s", "ä+/=~")]
        #expect(FormCoding.decode(FormCoding.encode(params)) == params)
    }
}
