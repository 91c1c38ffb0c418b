import Foundation
import Testing

@testable import WSGIServer

/// gunicorn's request corpus, read in place from `../shared/corpus/gunicorn-requests` beside the
/// repository (never copied in).
enum GunicornCorpus {
    /// `#filePath` is <repo>/Tests/WSGIServerTests/<this file>; the corpus lives beside <repo>.
    static let directory: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/") + "/../shared/corpus/gunicorn-requests"
    }()

    /// The stems of `<kind>/*.http`, sorted; empty if the corpus is missing (`corpusIsPresent`
    /// then fails with the path).
    static func names(_ kind: String) -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: "\(directory)/\(kind)")) ?? []
        return files.filter { $0.hasSuffix(".http") }.map { String($0.dropLast(5)) }.sorted()
    }

    static func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: "\(directory)/\(path)") else {
            throw PythonLiteralReader.ReadError(description: "cannot read \(directory)/\(path)")
        }
        return Array(data)
    }

    /// The request bytes: real newlines are not part of the request; `\r` `\n` `\t` `\0` and
    /// `\xHH` written literally stand for those bytes (see the corpus NOTICE).
    static func request(_ kind: String, _ name: String) throws -> [UInt8] {
        let text = try read("\(kind)/\(name).http")
        var out: [UInt8] = []
        var i = 0
        while i < text.count {
            let c = text[i]
            if c == 0x0A {
                i += 1
                continue
            }
            if c == 0x5C, i + 1 < text.count {
                switch text[i + 1] {
                case 0x72: out.append(0x0D); i += 2; continue  // \r
                case 0x6E: out.append(0x0A); i += 2; continue  // \n
                case 0x74: out.append(0x09); i += 2; continue  // \t
                case 0x30: out.append(0x00); i += 2; continue  // \0
                case 0x78 where i + 3 < text.count:  // \xHH
                    if let b = UInt8(String(decoding: text[i + 2..<i + 4], as: UTF8.self), radix: 16) {
                        out.append(b)
                        i += 4
                        continue
                    }
                default: break
                }
            }
            out.append(c)
            i += 1
        }
        return out
    }

    static func expectation(_ kind: String, _ name: String) throws -> PythonLiteralReader {
        try PythonLiteralReader(source: String(decoding: try read("\(kind)/\(name).py"), as: UTF8.self))
    }
}

/// One request as a `valid/*.py` file describes it.
struct ExpectedRequest {
    var method: String
    var uri: String
    var versionMinor: Int
    var headers: [String]
    var body: [UInt8]

    typealias Value = PythonLiteralReader.Value

    /// `request` is a dict or a list of dicts (pipelined requests).
    static func list(_ value: Value?) throws -> [ExpectedRequest] {
        switch value {
        case .dict(let d): return [try ExpectedRequest(d)]
        case .list(let items):
            return try items.map { item in
                guard case .dict(let d) = item else { throw bad("request list item") }
                return try ExpectedRequest(d)
            }
        default: throw bad("request")
        }
    }

    init(_ d: [String: Value]) throws {
        guard case .str(let method) = d["method"] else { throw Self.bad("method") }
        guard case .uri(.str(let uri)) = d["uri"] else { throw Self.bad("uri") }
        guard case .tuple(let version) = d["version"], version == [.int(1), .int(0)] || version == [.int(1), .int(1)],
            case .int(let minor) = version[1]
        else { throw Self.bad("version") }
        guard case .list(let fields) = d["headers"] else { throw Self.bad("headers") }
        self.method = PythonLiteralReader.text(method)
        self.uri = PythonLiteralReader.text(uri)
        versionMinor = minor
        headers = try fields.map { field in
            guard case .tuple(let pair) = field, pair.count == 2, case .str(let name) = pair[0], case .str(let value) = pair[1]
            else { throw Self.bad("header") }
            return "\(PythonLiteralReader.text(name)): \(PythonLiteralReader.text(value))"
        }
        switch d["body"] {
        case .bytes(let b): body = b
        case .str(let s) where s.isEmpty: body = []
        default: throw Self.bad("body")
        }
        // "trailers" are not compared: the decoder validates trailer fields and discards them.
    }

    /// Path and query of `uri` as Python's urlsplit gives them (fragment dropped).
    var pathAndQuery: (path: String, query: String) {
        var rest = Substring(uri)
        if let scheme = rest.range(of: "://"), rest[..<scheme.lowerBound].allSatisfy(\.isLetter) {
            rest = rest[scheme.upperBound...]
            let authorityEnd = rest.firstIndex { "/?#".contains($0) } ?? rest.endIndex
            rest = rest[authorityEnd...]
        }
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        guard let question = rest.firstIndex(of: "?") else { return (String(rest), "") }
        return (String(rest[..<question]), String(rest[rest.index(after: question)...]))
    }

    private static func bad(_ what: String) -> PythonLiteralReader.ReadError {
        PythonLiteralReader.ReadError(description: "unexpected \(what) in expectation")
    }
}

/// How our answer for a `valid/` case differs from gunicorn's, and why. Every case not listed
/// must parse exactly as its `.py` says.
struct ValidDeviation {
    /// What we answer for the file as sent, with default limits; nil means we accept it.
    var asSent: HTTPParseError?
    /// Re-run with `Host:` added to HTTP/1.1 heads that lack it.
    var addHost = false
    /// Re-run with these limits instead of the defaults.
    var limits: ParserLimits? = nil
    /// In the re-run (or as sent, if there is none): gunicorn drops field names containing `_`.
    var dropUnderscoreNames = false
    /// gunicorn's casefold_http_method option upper-cases the method; we keep it as sent.
    var foldMethodCase = false
    /// What the re-run answers; nil means it then matches the expectation exactly.
    var adjustedError: HTTPParseError? = nil
    /// The file holds fewer body bytes than its Content-Length: the last body stays incomplete
    /// (the server waits for the rest) and the bytes so far must match.
    var truncatedBody = false
    var reason: String
}

/// What we answer for an `invalid/` case.
enum Answer: Equatable, CustomStringConvertible {
    case refused(HTTPParseError)
    /// The head or body never completes (the connection times out or hits EOF).
    case incomplete
    /// Parsed, body and all: allowed only with a reason in the table.
    case accepted

    var description: String {
        switch self {
        case .refused(let e): "refused(\(e))"
        case .incomplete: "incomplete"
        case .accepted: "accepted"
        }
    }

    init(_ end: ConnectionSimulator.End) {
        switch end {
        case .invalid(let e): self = .refused(e)
        case .incompleteHead, .incompleteBody: self = .incomplete
        case .exhausted, .closed: self = .accepted
        }
    }
}

struct InvalidRule {
    var asSent: Answer
    /// With `Host:` added to an HTTP/1.1 head that lacks one: shows the rule the case is about,
    /// which the missing Host would otherwise hide.
    var withHost: Answer? = nil
    /// With these limits (gunicorn's, converted to ours): the answer must be this refusal.
    var underLimits: (ParserLimits, HTTPParseError)? = nil
    /// Required whenever some run accepts the case.
    var reason: String? = nil
}

private let missingHost = "HTTP/1.1 without Host: RFC 9112 §3.2 requires a 400; gunicorn accepts it."
private let gunicornCountsCRLF =
    "gunicorn's limit counts the CRLF (8190 - 2 = 8188 of ours); ours counts the line without it, so the line fits our default."

@Suite struct GunicornCorpusTests {
    static let injectedHost = "corpus.test"

    static let validDeviations: [String: ValidDeviation] = [
        "004": .init(asSent: .missingHost, addHost: true, reason: missingHost),
        "005": .init(asSent: .missingHost, addHost: true, reason: missingHost),
        "006": .init(asSent: .missingHost, addHost: true, reason: missingHost),
        "007": .init(asSent: .missingHost, addHost: true, reason: missingHost),
        "009": .init(asSent: .contentLengthWithTransferEncoding,
                     reason: "Transfer-Encoding with Content-Length is a smuggling vector; RFC 9112 §6.3 lets a server refuse it, and we do."),
        "010": .init(asSent: .missingHost, addHost: true, reason: missingHost),
        "011": .init(asSent: .missingHost, addHost: true, reason: missingHost),
        "012": .init(asSent: .missingHost, addHost: true, reason: missingHost + " Trailers are validated, then discarded."),
        "013": .init(asSent: .missingHost, addHost: true, reason: missingHost),
        "014": .init(asSent: .missingHost, addHost: true, reason: missingHost),
        "018": .init(asSent: .missingHost, addHost: true, reason: missingHost),
        "021": .init(asSent: .missingHost, addHost: true, reason: missingHost),
        "022": .init(asSent: .missingHost, addHost: true, reason: missingHost + " (the second, HTTP/1.1, request)"),
        "023": .init(asSent: .missingHost, addHost: true, reason: missingHost),
        "024": .init(asSent: .headerFieldTooLong, limits: ParserLimits(requestLine: 8200, fieldLength: 8210),
                     reason: "Only under gunicorn's raised limits (cfg limit_request_line 8200, limit_request_field_size 8210): the 8204-byte field line exceeds our default 8190."),
        "025": .init(asSent: .unsupportedTransferCoding,
                     reason: "gzip before chunked: well-formed, but we decode no coding other than chunked (RFC 9112 §6.1: 501)."),
        "025_line": .init(asSent: .unsupportedTransferCoding,
                          reason: "gzip before chunked: well-formed, but we decode no coding other than chunked (RFC 9112 §6.1: 501)."),
        "026": .init(asSent: .headerFieldTooLong, limits: ParserLimits(fieldLength: 8210),
                     reason: "Only under gunicorn's raised limit_request_field_size 8210: the 8204-byte field line exceeds our default 8190."),
        "027": .init(asSent: .invalidTarget,
                     reason: "Raw UTF-8 bytes in the target: URIs are ASCII (RFC 3986 §2; RFC 9112 §3.2), non-ASCII must be percent-encoded."),
        "028": .init(asSent: .whitespaceBeforeColon,
                     reason: "Whitespace before the colon: RFC 9112 §5.1 says a server MUST reject it; gunicorn accepts it only with its strip_header_spaces option."),
        "029": .init(asSent: .unsupportedTransferCoding,
                     reason: "identity before chunked: identity is no longer a transfer coding (RFC 9112 §7) and we decode only chunked (501)."),
        "030": .init(asSent: .unsupportedTransferCoding,
                     reason: "identity before chunked: identity is no longer a transfer coding (RFC 9112 §7) and we decode only chunked (501)."),
        "031": .init(asSent: .missingHost, addHost: true, reason: missingHost),
        "031compat": .init(asSent: .missingHost, addHost: true, foldMethodCase: true,
                           reason: missingHost + " Also gunicorn's casefold_http_method option upper-cases the method; methods are case-sensitive (RFC 9110 §9.1) and we keep -blargh."),
        "031compat2": .init(asSent: .missingHost, addHost: true, reason: missingHost),
        "040": .init(dropUnderscoreNames: true,
                     reason: "gunicorn drops field names containing `_` by default; `_` is a tchar (RFC 9110 §5.6.2), so the parser keeps them and the WSGI bridge drops them when it builds the environ."),
        "099": .init(truncatedBody: true,
                     reason: "Content-Length says 17914 but the file holds 8599 body bytes; gunicorn's harness takes EOF as the end, while a server must wait for the rest (RFC 9112 §6.2, §8)."),
        "100": .init(asSent: .missingHost, addHost: true, reason: missingHost),
        "compat_obs_fold": .init(asSent: .obsoleteFolding,
                                 reason: "Obsolete line folding: RFC 9112 §5.2 lets a server reject it with 400; gunicorn accepts it only with its permit_obsolete_folding option."),
        "compat_obs_fold_huge": .init(asSent: .obsoleteFolding,
                                      reason: "Obsolete line folding, accepted by gunicorn only with its permit_obsolete_folding option (RFC 9112 §5.2: 400 allowed)."),
        "pp_01": .init(asSent: .invalidVersion,
                       reason: "PROXY protocol v1 line, read by gunicorn only with its proxy_protocol option; it is not HTTP and we do not speak it."),
        "pp_02": .init(asSent: .invalidVersion,
                       reason: "PROXY protocol v1 line, read by gunicorn only with its proxy_protocol option; it is not HTTP and we do not speak it."),
        "pp_04": .init(asSent: .invalidMethod,
                       reason: "PROXY protocol v2 binary header, read by gunicorn only with its proxy_protocol option; it is not HTTP."),
        "pp_05": .init(asSent: .invalidMethod,
                       reason: "PROXY protocol v2 binary header, read by gunicorn only with its proxy_protocol option; it is not HTTP."),
        "rfc9112_smuggle_gzip_chunked_01": .init(asSent: .unsupportedTransferCoding,
                                                 reason: "gzip before chunked: valid HTTP, but we decode no coding other than chunked (RFC 9112 §6.1: 501)."),
        "rfc9112_smuggle_te_identity_chunked_01": .init(asSent: .unsupportedTransferCoding,
                                                        reason: "identity before chunked: identity is no longer a transfer coding (RFC 9112 §7); only chunked is decoded (501)."),
        "rfc9112_target_absolute_userinfo_01": .init(asSent: .invalidTarget,
                                                     reason: "userinfo in an http URI: RFC 9110 §4.2.4 says recipients should treat it as an error (it misleads about the host)."),
        "rfc9112_target_authority_connect_01": .init(asSent: .connectNotSupported,
                                                     reason: "CONNECT: a WSGI server tunnels nothing, so it is refused (400)."),
        "rfc9112_target_authority_ipv6_01": .init(asSent: .connectNotSupported,
                                                  reason: "CONNECT: a WSGI server tunnels nothing, so it is refused (400)."),
    ]

    static let invalidRules: [String: InvalidRule] = [
        "001": .init(asSent: .incomplete),
        "002": .init(asSent: .refused(.invalidRequestLine)),
        "003": .init(asSent: .refused(.invalidRequestLine)),
        "003b": .init(asSent: .refused(.invalidMethod)),
        "003c": .init(asSent: .refused(.missingHost), withHost: .accepted,
                      reason: "gunicorn refuses lower-case methods by default, but `-bl` is a valid token (RFC 9110 §9.1); we refuse it only for the missing Host."),
        "004": .init(asSent: .refused(.invalidVersion)),
        "005": .init(asSent: .refused(.invalidHeaderName)),
        "006": .init(asSent: .accepted, underLimits: (ParserLimits(requestLine: 4094), .requestLineTooLong),
                     reason: "A 4112-byte request line: over gunicorn's default limit_request_line 4094, within our 8190."),
        "007": .init(asSent: .refused(.headerFieldTooLong)),
        "008": .init(asSent: .accepted, underLimits: (ParserLimits(fieldLength: 8188), .headerFieldTooLong),
                     reason: "An 8189-byte field line: " + gunicornCountsCRLF),
        "009": .init(asSent: .refused(.tooManyHeaders)),
        "010": .init(asSent: .refused(.missingHost), withHost: .accepted, underLimits: (ParserLimits(fieldLength: 8), .headerFieldTooLong),
                     reason: "Only under gunicorn's limit_request_field_size 10 (8 of ours, without CRLF)."),
        "011": .init(asSent: .accepted, underLimits: (ParserLimits(headerCount: 2), .tooManyHeaders),
                     reason: "Only under gunicorn's limit_request_fields 2."),
        "012": .init(asSent: .accepted, underLimits: (ParserLimits(fieldLength: 96), .headerFieldTooLong),
                     reason: "Only under gunicorn's limit_request_field_size 98 (96 of ours, without CRLF)."),
        "013": .init(asSent: .refused(.obsoleteFolding)),
        "014": .init(asSent: .refused(.invalidContentLength)),
        "015": .init(asSent: .refused(.invalidContentLength)),
        "016": .init(asSent: .refused(.invalidTarget)),
        "017": .init(asSent: .refused(.missingHost), withHost: .accepted,
                     underLimits: (ParserLimits(fieldLength: 8188), .headerFieldTooLong),
                     reason: "An 8189-byte field line: " + gunicornCountsCRLF),
        "018": .init(asSent: .refused(.invalidVersion)),
        "019": .init(asSent: .refused(.missingHost), withHost: .accepted,
                     reason: "Conflicting X-Forwarded-Proto / X-Forwarded-Ssl is gunicorn's forwarded_allow_ips feature, not HTTP syntax; it is refused here only for the missing Host."),
        "020": .init(asSent: .refused(.whitespaceBeforeColon)),
        "021": .init(asSent: .refused(.duplicateContentLength)),
        "022": .init(asSent: .refused(.invalidContentLength)),
        "023": .init(asSent: .refused(.invalidContentLength)),
        "024": .init(asSent: .refused(.invalidContentLength)),
        "040": .init(asSent: .accepted,
                     reason: "gunicorn refuses `_` in field names only with header_map=refuse; `_` is a tchar (RFC 9110 §5.6.2) and the WSGI bridge drops such names."),
        "041": .init(asSent: .refused(.duplicateContentType)),
        "042": .init(asSent: .refused(.duplicateHost)),
        "chunked_01": .init(asSent: .refused(.missingHost), withHost: .refused(.invalidChunkSize)),
        "chunked_02": .init(asSent: .refused(.contentLengthWithTransferEncoding)),
        "chunked_03": .init(asSent: .refused(.invalidTransferEncoding)),
        "chunked_04": .init(asSent: .refused(.invalidTransferEncoding)),
        "chunked_05": .init(asSent: .refused(.transferEncodingOnHTTP10)),
        "chunked_06": .init(asSent: .refused(.invalidTransferEncoding)),
        "chunked_07": .init(asSent: .refused(.missingHost), withHost: .accepted,
                            reason: "gunicorn refuses `Transfer_Encoding` only with header_map=refuse; to us it is an unrelated field, so the body is plain chunked."),
        "chunked_08": .init(asSent: .refused(.invalidTransferEncoding)),
        "chunked_09": .init(asSent: .refused(.missingHost), withHost: .refused(.invalidChunkSize)),
        "chunked_10": .init(asSent: .refused(.missingHost), withHost: .refused(.invalidChunkSize)),
        "chunked_11": .init(asSent: .refused(.missingHost), withHost: .refused(.invalidLineEnding)),
        "chunked_12": .init(asSent: .refused(.missingHost), withHost: .refused(.invalidChunkSize)),
        "chunked_13": .init(asSent: .refused(.missingHost), withHost: .refused(.invalidChunkSize)),
        "chunked_14": .init(asSent: .refused(.missingHost), withHost: .refused(.invalidLineEnding)),
        "invalid_field_value_01": .init(asSent: .refused(.invalidLineEnding)),
        "limit_header_default_01": .init(asSent: .accepted, underLimits: (ParserLimits(fieldLength: 8188), .headerFieldTooLong),
                                         reason: "An 8190-byte field line: " + gunicornCountsCRLF),
        "nonascii_01": .init(asSent: .refused(.invalidMethod)),
        "nonascii_02": .init(asSent: .refused(.invalidMethod)),
        "nonascii_03": .init(asSent: .refused(.invalidHeaderName)),
        "nonascii_04": .init(asSent: .refused(.invalidHeaderName)),
        "obs_fold_01": .init(asSent: .refused(.obsoleteFolding)),
        "pp_01": .init(asSent: .refused(.invalidVersion)),
        "pp_02": .init(asSent: .refused(.invalidVersion)),
        "pp_03": .init(asSent: .refused(.invalidVersion)),
        "prefix_01": .init(asSent: .refused(.invalidMethod)),
        "prefix_02": .init(asSent: .refused(.invalidMethod)),
        "prefix_03": .init(asSent: .refused(.invalidContentLength)),
        "prefix_04": .init(asSent: .refused(.invalidContentLength)),
        "prefix_05": .init(asSent: .refused(.invalidMethod)),
        "prefix_06": .init(asSent: .refused(.invalidVersion)),
        "rfc9110_field_value_ctl_bel_01": .init(asSent: .refused(.invalidHeaderValue)),
        "rfc9110_field_value_ctl_del_01": .init(asSent: .refused(.invalidHeaderValue)),
        "rfc9110_trailer_forbidden_cl_01": .init(asSent: .refused(.forbiddenTrailer)),
        "rfc9110_trailer_forbidden_host_01": .init(asSent: .refused(.forbiddenTrailer)),
        "rfc9110_trailer_forbidden_te_01": .init(asSent: .refused(.forbiddenTrailer)),
        "rfc9112_chunked_missing_final_crlf_01": .init(asSent: .incomplete),
        "rfc9112_chunked_size_minus_sign_01": .init(asSent: .refused(.invalidChunkSize)),
        "rfc9112_chunked_size_plus_sign_01": .init(asSent: .refused(.invalidChunkSize)),
        "rfc9112_smuggle_cl_list_form_01": .init(asSent: .refused(.invalidContentLength)),
        "rfc9112_smuggle_cl_te_chunked_01": .init(asSent: .refused(.contentLengthWithTransferEncoding)),
        "rfc9112_target_asterisk_non_options_01": .init(asSent: .refused(.invalidTarget)),
        "rfc9112_target_authority_non_connect_01": .init(asSent: .refused(.invalidTarget)),
        "rfc9112_target_relative_01": .init(asSent: .refused(.invalidTarget)),
        "version_01": .init(asSent: .refused(.invalidVersion)),
        "version_02": .init(asSent: .refused(.versionNotSupported)),
    ]

    @Test func corpusIsPresent() {
        let valid = GunicornCorpus.names("valid")
        let invalid = GunicornCorpus.names("invalid")
        #expect(valid.count >= 60 && invalid.count >= 70,
                "gunicorn corpus not found at \(GunicornCorpus.directory) (expected ../shared/corpus/gunicorn-requests beside the repository)")
        // Every table entry names a real case, and every invalid case has a rule.
        for name in Self.validDeviations.keys { #expect(valid.contains(name), "stale deviation \(name)") }
        for name in Self.invalidRules.keys { #expect(invalid.contains(name), "stale rule \(name)") }
        for name in invalid { #expect(Self.invalidRules[name] != nil, "no rule for invalid/\(name)") }
    }

    @Test(arguments: GunicornCorpus.names("valid"))
    func valid(_ name: String) throws {
        let data = try GunicornCorpus.request("valid", name)
        let expected = try ExpectedRequest.list(try GunicornCorpus.expectation("valid", name).bindings["request"])
        let deviation = Self.validDeviations[name]

        let asSent = playEverySplit(data, ConnectionSimulator(keepHeads: true))
        if let error = deviation?.asSent {
            #expect(asSent.end == .invalid(error), "as sent")
        } else {
            compare(asSent, expected, deviation)
        }

        guard let deviation, deviation.addHost || deviation.limits != nil else { return }
        let simulator = ConnectionSimulator(
            limits: deviation.limits ?? .init(), keepHeads: true, injectHost: deviation.addHost ? Self.injectedHost : nil)
        let adjusted = simulator.run(data)
        // The adjusted stream, injected Host lines included, at every split point too.
        let replay = playEverySplit(adjusted.stream, ConnectionSimulator(limits: simulator.limits))
        #expect(replay == adjusted, "adjusted stream replayed")
        if let error = deviation.adjustedError {
            #expect(adjusted.end == .invalid(error), "adjusted")
        } else {
            compare(adjusted, expected, deviation)
        }
    }

    @Test(arguments: GunicornCorpus.names("invalid"))
    func invalid(_ name: String) throws {
        let data = try GunicornCorpus.request("invalid", name)
        guard let rule = Self.invalidRules[name] else {
            Issue.record("no rule for invalid/\(name)")
            return
        }
        let asSent = Answer(playEverySplit(data, ConnectionSimulator()).end)
        #expect(asSent == rule.asSent, "as sent")
        if let withHost = rule.withHost {
            let adjusted = ConnectionSimulator(injectHost: Self.injectedHost).run(data)
            #expect(adjusted.requests.first?.hostInjected == true || adjusted.requests.isEmpty, "Host was added")
            let replay = playEverySplit(adjusted.stream, ConnectionSimulator())
            #expect(Answer(replay.end) == withHost, "with Host added")
        }
        if let (limits, error) = rule.underLimits {
            #expect(playEverySplit(data, ConnectionSimulator(limits: limits)).end == .invalid(error), "under gunicorn's limits")
        }
        if rule.asSent == .accepted || rule.withHost == .accepted {
            #expect(rule.reason != nil, "accepting an invalid case needs a reason in the table")
        }
    }

    /// Runs the stream in one piece, at every split point and one byte at a time; records an issue
    /// where they disagree and returns the one-piece outcome.
    private func playEverySplit(
        _ data: [UInt8], _ simulator: ConnectionSimulator, sourceLocation: SourceLocation = #_sourceLocation
    ) -> ConnectionSimulator.Outcome {
        let whole = simulator.run(data)
        var plain = simulator
        plain.keepHeads = false
        for k in 0...data.count {
            let split = plain.run(data, cuts: [k])
            if split != whole {
                Issue.record("split at \(k): \(split.end), \(split.requests.count) requests; whole: \(whole.end), \(whole.requests.count)",
                             sourceLocation: sourceLocation)
                return whole
            }
        }
        let bytewise = plain.run(data, cuts: Array(0..<data.count))
        #expect(bytewise == whole, "byte at a time", sourceLocation: sourceLocation)
        return whole
    }

    private func compare(
        _ outcome: ConnectionSimulator.Outcome, _ expected: [ExpectedRequest], _ deviation: ValidDeviation?,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        if deviation?.truncatedBody == true {
            #expect(outcome.end == .incompleteBody, sourceLocation: sourceLocation)
        } else {
            #expect(outcome.end.isClean, "stream ended \(outcome.end)", sourceLocation: sourceLocation)
        }
        #expect(outcome.requests.count == expected.count, "request count", sourceLocation: sourceLocation)
        for (got, want) in zip(outcome.requests, expected) {
            guard let s = got.summary else {
                Issue.record("no head kept", sourceLocation: sourceLocation)
                continue
            }
            let method = deviation?.foldMethodCase == true ? s.method.uppercased() : s.method
            #expect(method == want.method, sourceLocation: sourceLocation)
            #expect(s.target == want.uri, sourceLocation: sourceLocation)
            #expect(s.path == want.pathAndQuery.path, sourceLocation: sourceLocation)
            #expect((s.query ?? "") == want.pathAndQuery.query, sourceLocation: sourceLocation)
            #expect(s.versionMinor == want.versionMinor, sourceLocation: sourceLocation)
            var headers = s.headers.map(Self.upperCasedName)
            if deviation?.dropUnderscoreNames == true {
                headers.removeAll { $0.prefix { $0 != ":" }.contains("_") }
            }
            let wantHeaders = (got.hostInjected ? ["HOST: \(Self.injectedHost)"] : []) + want.headers
            #expect(headers == wantHeaders, sourceLocation: sourceLocation)
            #expect(got.body == want.body, "body", sourceLocation: sourceLocation)
        }
    }

    /// gunicorn's expectations upper-case field names.
    private static func upperCasedName(_ field: String) -> String {
        guard let colon = field.firstIndex(of: ":") else { return field }
        return field[..<colon].uppercased() + field[colon...]
    }
}
