import Testing
@testable import WSGIServer

@Suite struct PercentDecodingTests {
    @Test(arguments: [
        ("/plain", "/plain"),
        ("/a%20b", "/a b"),
        ("/%2F%2f", "///"),
        ("/caf%C3%A9", "/caf\u{C3}\u{A9}"),
        ("/bad%zz%", "/bad%zz%"),
        ("/tail%4", "/tail%4"),
        ("%41%42", "AB"),
    ])
    func decodes(raw: String, expected: String) {
        var output: [UInt8] = []
        Array(raw.utf8).withUnsafeBytes { Environ.percentDecode($0, into: &output) }
        // expected is written as latin-1 code points: compare byte for byte.
        #expect(output == expected.unicodeScalars.map { UInt8($0.value) })
    }
}
