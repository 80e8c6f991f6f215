import Foundation
import Testing
@testable import StrongroomCore
@testable import StrongroomEngine

@Suite struct EngineTransportTests {
    @Test func formDecodingKeepsOrderAndDuplicates() {
        let p = FormCoding.decode("a=b+c&d=%41%42%2B&a=2&empty=&flag&utf=%C3%A9")
        #expect(p == [Param("a", "b c"), Param("d", "AB+"), Param("a", "2"), Param("empty", ""), Param("flag", ""), Param("utf", "é")])
    }

    /// Issue item 3: a malformed pair makes the whole body malformed; nothing is read in part.
    @Test(arguments: ["x=%ZZ&y=1", "a=1&a=%ZZ", "x=%4&y=%", "x=%FF%FE", "t=%E0%A4%A", "%ZZ=1", "a=%"])
    func malformedBodiesAreRefusedWhole(_ body: String) {
        #expect(FormCoding.decode(body) == nil)
        let request = TransportRequest(method: "POST", path: "/token",
                                       headers: [Param("Content-Type", "application/x-www-form-urlencoded")], body: Data(body.utf8))
        #expect(throws: OAuthError.invalidRequest("the form body is malformed (bad percent-encoding or not UTF-8)")) {
            try request.formParameters()
        }
    }

    @Test func bodyBytesThatAreNotUTF8AreMalformed() {
        #expect(FormCoding.decode(Data([0x61, 0x3D, 0xFF])) == nil)
        #expect(FormCoding.decode(Data("a=1".utf8)) == [Param("a", "1")])
    }

    @Test func encodeDecodeRoundTrip() {
        let params = [Param("redirect_uri", "https://rp.example/cb?x=1&y=2"), Param("scope", "openid payments"), Param("s", "ä+/=~")]
        #expect(FormCoding.decode(FormCoding.encode(params)) == params)
    }

    /// Issue item 0: an empty `Content-Type`, or one that is only parameters, crashed the process.
    @Test(arguments: ["", ";", " ; ", ";;;", ";charset=utf-8"])
    func contentTypeWithoutMediaTypeIsEmpty(_ value: String) {
        let request = TransportRequest(method: "POST", path: "/token", headers: [Param("Content-Type", value)])
        #expect(request.contentType == "")
        #expect(request.form == [])
    }

    @Test func contentTypeDropsParametersAndCase() {
        let request = TransportRequest(method: "POST", path: "/token",
                                       headers: [Param("Content-Type", " Application/X-WWW-Form-Urlencoded ; charset=UTF-8")])
        #expect(request.contentType == "application/x-www-form-urlencoded")
        #expect(TransportRequest(method: "POST", path: "/token").contentType == nil)
    }
}
