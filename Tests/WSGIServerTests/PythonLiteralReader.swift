/// Reads the small subset of Python that gunicorn's request-corpus expectation files use:
/// assignments of literals (str, bytes, int, tuple, list, dict, True/False/None), names bound
/// earlier, `uri(...)`, `Config()`, `cfg.set(name, value)`, and the str/bytes methods `replace`,
/// `decode('utf-8')` and `encode('utf-8')`. Import lines are skipped; any other construct is an
/// error, so a format change in the corpus fails loudly instead of being misread.
struct PythonLiteralReader {
    indirect enum Value: Equatable {
        /// A str, as Unicode code points.
        case str([UInt32])
        case bytes([UInt8])
        case int(Int)
        case bool(Bool)
        case none
        case tuple([Value])
        case list([Value])
        case dict([String: Value])
        /// `uri(raw)`: gunicorn's test helper that splits a request target.
        case uri(Value)
        /// A name that was imported (an exception class) or `Config()`.
        case symbol(String)
    }

    struct ReadError: Error, CustomStringConvertible {
        var description: String
    }

    /// Top-level bindings, in the order assigned.
    private(set) var bindings: [String: Value] = [:]
    /// `cfg.set(name, value)` calls.
    private(set) var settings: [String: Value] = [:]

    private var tokens: [Token] = []
    private var index = 0

    init(source: String) throws {
        // Imports only bring names into scope; unknown names read as `.symbol`.
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false).filter {
            !$0.hasPrefix("from ") && !$0.hasPrefix("import ")
        }
        var tokenizer = Tokenizer(Array(lines.joined(separator: "\n").utf8))
        tokens = try tokenizer.all()
        while index < tokens.count { try statement() }
    }

    // MARK: Statements and expressions

    private mutating func statement() throws {
        if case .name(let name) = tokens[index], index + 1 < tokens.count, tokens[index + 1] == .punct("=") {
            index += 2
            bindings[name] = try expression()
        } else {
            _ = try expression()
        }
    }

    private mutating func expression() throws -> Value {
        var value = try primary()
        while index < tokens.count {
            if tokens[index] == .punct(".") {
                guard case .name(let method) = next(offset: 1), next(offset: 2) == .punct("(") else {
                    throw ReadError(description: "expected a method call at token \(index)")
                }
                index += 3
                value = try call(method: method, on: value, arguments: try arguments(closing: ")"))
            } else {
                break
            }
        }
        return value
    }

    private mutating func primary() throws -> Value {
        guard index < tokens.count else { throw ReadError(description: "unexpected end of file") }
        let token = tokens[index]
        index += 1
        switch token {
        case .string(let first):
            var value = first
            // Adjacent literals concatenate.
            while index < tokens.count, case .string(let more) = tokens[index] {
                value = try concatenate(value, more)
                index += 1
            }
            return value
        case .int(let n):
            return .int(n)
        case .name(let name):
            if next(offset: 0) == .punct("(") {
                index += 1
                let args = try arguments(closing: ")")
                switch name {
                case "uri" where args.count == 1: return .uri(args[0])
                case "Config": return .symbol("Config()")
                default: throw ReadError(description: "unsupported call \(name)()")
                }
            }
            switch name {
            case "True": return .bool(true)
            case "False": return .bool(false)
            case "None": return .none
            default: return bindings[name] ?? .symbol(name)
            }
        case .punct("("):
            let items = try arguments(closing: ")")
            return items.count == 1 ? items[0] : .tuple(items)
        case .punct("["):
            return .list(try arguments(closing: "]"))
        case .punct("{"):
            return try dictionary()
        default:
            throw ReadError(description: "unexpected token \(token)")
        }
    }

    /// Comma-separated expressions up to `closing` (already past the opening bracket).
    private mutating func arguments(closing: String) throws -> [Value] {
        var items: [Value] = []
        while true {
            if next(offset: 0) == .punct(closing) {
                index += 1
                return items
            }
            items.append(try expression())
            if next(offset: 0) == .punct(",") { index += 1 }
        }
    }

    private mutating func dictionary() throws -> Value {
        var entries: [String: Value] = [:]
        while true {
            if next(offset: 0) == .punct("}") {
                index += 1
                return .dict(entries)
            }
            guard case .str(let key) = try expression(), next(offset: 0) == .punct(":") else {
                throw ReadError(description: "expected a string key at token \(index)")
            }
            index += 1
            entries[Self.text(key)] = try expression()
            if next(offset: 0) == .punct(",") { index += 1 }
        }
    }

    private mutating func call(method: String, on receiver: Value, arguments args: [Value]) throws -> Value {
        let first = args.first
        let second = args.count > 1 ? args[1] : nil
        switch (method, receiver, args.count) {
        case ("set", .symbol("Config()"), 2):
            guard case .str(let name) = args[0] else { throw ReadError(description: "cfg.set needs a name") }
            settings[Self.text(name)] = args[1]
            return .none
        case ("replace", .str(let s), 2):
            guard case .str(let old) = first, case .str(let new) = second else { break }
            return .str(Self.replace(s, old, new))
        case ("replace", .bytes(let s), 2):
            guard case .bytes(let old) = first, case .bytes(let new) = second else { break }
            return .bytes(Self.replace(s, old, new))
        case ("decode", .bytes(let b), 1) where first == .str(Self.utf8Name):
            return .str(String(decoding: b, as: UTF8.self).unicodeScalars.map(\.value))
        case ("encode", .str(let s), 1) where first == .str(Self.utf8Name):
            return .bytes(Array(Self.text(s).utf8))
        default:
            break
        }
        throw ReadError(description: "unsupported method \(method) on \(receiver)")
    }

    static func text(_ codePoints: [UInt32]) -> String {
        String(String.UnicodeScalarView(codePoints.compactMap(Unicode.Scalar.init)))
    }

    private static let utf8Name: [UInt32] = "utf-8".unicodeScalars.map(\.value)

    private static func replace<T: Equatable>(_ s: [T], _ old: [T], _ new: [T]) -> [T] {
        guard !old.isEmpty else { return s }
        var out: [T] = []
        var i = 0
        while i < s.count {
            if i + old.count <= s.count, Array(s[i..<i + old.count]) == old {
                out += new
                i += old.count
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }

    private func concatenate(_ a: Value, _ b: Value) throws -> Value {
        switch (a, b) {
        case (.str(let x), .str(let y)): return .str(x + y)
        case (.bytes(let x), .bytes(let y)): return .bytes(x + y)
        default: throw ReadError(description: "cannot concatenate \(a) and \(b)")
        }
    }

    private func next(offset: Int) -> Token? {
        index + offset < tokens.count ? tokens[index + offset] : nil
    }
}

// MARK: - Tokens

private enum Token: Equatable {
    case name(String)
    case int(Int)
    case string(PythonLiteralReader.Value)
    case punct(String)
}

private struct Tokenizer {
    let s: [UInt8]
    var i = 0

    init(_ source: [UInt8]) { s = source }

    mutating func all() throws -> [Token] {
        var tokens: [Token] = []
        while let token = try nextToken() { tokens.append(token) }
        return tokens
    }

    private func isNameByte(_ c: UInt8) -> Bool {
        (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == 0x5F
    }

    private mutating func nextToken() throws -> Token? {
        while i < s.count {
            let c = s[i]
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D {
                i += 1
            } else if c == 0x23 {  // comment
                while i < s.count, s[i] != 0x0A { i += 1 }
            } else if c == 0x5C, i + 1 < s.count, s[i + 1] == 0x0A {  // line continuation
                i += 2
            } else {
                break
            }
        }
        guard i < s.count else { return nil }
        let c = s[i]
        if isNameByte(c) && !(c >= 0x30 && c <= 0x39) {
            var j = i
            while j < s.count, isNameByte(s[j]) { j += 1 }
            // A string prefix such as b, r, rb, u directly before a quote.
            if j < s.count, s[j] == 0x22 || s[j] == 0x27 {
                let prefix = String(decoding: s[i..<j], as: UTF8.self).lowercased()
                if prefix.allSatisfy({ "bru".contains($0) }) {
                    i = j
                    return .string(try stringLiteral(bytes: prefix.contains("b"), raw: prefix.contains("r")))
                }
            }
            defer { i = j }
            return .name(String(decoding: s[i..<j], as: UTF8.self))
        }
        if c >= 0x30 && c <= 0x39 {
            var n = 0
            while i < s.count, s[i] >= 0x30 && s[i] <= 0x39 {
                n = n * 10 + Int(s[i] - 0x30)
                i += 1
            }
            return .int(n)
        }
        if c == 0x22 || c == 0x27 {
            return .string(try stringLiteral(bytes: false, raw: false))
        }
        if "()[]{},:=.".utf8.contains(c) {
            i += 1
            return .punct(String(UnicodeScalar(c)))
        }
        throw PythonLiteralReader.ReadError(description: "unexpected character \(UnicodeScalar(c)) at \(i)")
    }

    /// A string literal starting at the opening quote; escapes as Python decodes them.
    private mutating func stringLiteral(bytes: Bool, raw: Bool) throws -> PythonLiteralReader.Value {
        let quote = s[i]
        let triple = i + 2 < s.count && s[i + 1] == quote && s[i + 2] == quote
        i += triple ? 3 : 1
        var units: [UInt32] = []
        // The source is UTF-8; a str holds code points, a bytes literal holds ASCII and escapes.
        var pendingUTF8: [UInt8] = []
        func flush() {
            units += String(decoding: pendingUTF8, as: UTF8.self).unicodeScalars.map(\.value)
            pendingUTF8 = []
        }
        while true {
            guard i < s.count else { throw PythonLiteralReader.ReadError(description: "unterminated string") }
            let c = s[i]
            if c == quote && (!triple || (i + 2 < s.count && s[i + 1] == quote && s[i + 2] == quote)) {
                i += triple ? 3 : 1
                break
            }
            if c == 0x0A && !triple { throw PythonLiteralReader.ReadError(description: "newline in string") }
            if c == 0x5C && !raw {
                flush()
                i += 1
                units.append(contentsOf: try escape(bytes: bytes))
                continue
            }
            pendingUTF8.append(c)
            i += 1
        }
        flush()
        if bytes {
            guard units.allSatisfy({ $0 <= 0xFF }) else {
                throw PythonLiteralReader.ReadError(description: "non-ASCII bytes literal")
            }
            return .bytes(units.map { UInt8($0) })
        }
        return .str(units)
    }

    /// The escape after a backslash (already consumed).
    private mutating func escape(bytes: Bool) throws -> [UInt32] {
        let c = s[i]
        i += 1
        switch c {
        case 0x0A: return []  // backslash-newline continues the line
        case 0x5C: return [0x5C]
        case 0x27: return [0x27]
        case 0x22: return [0x22]
        case 0x6E: return [0x0A]  // n
        case 0x72: return [0x0D]  // r
        case 0x74: return [0x09]  // t
        case 0x30...0x37:  // octal, up to three digits
            var v = UInt32(c - 0x30)
            var k = 1
            while k < 3, i < s.count, s[i] >= 0x30 && s[i] <= 0x37 {
                v = v * 8 + UInt32(s[i] - 0x30)
                i += 1
                k += 1
            }
            return [v]
        case 0x78: return [try hex(digits: 2)]  // x
        case 0x75 where !bytes: return [try hex(digits: 4)]  // u
        case 0x55 where !bytes: return [try hex(digits: 8)]  // U
        default: return [0x5C, UInt32(c)]  // unknown escapes stay as written
        }
    }

    private mutating func hex(digits: Int) throws -> UInt32 {
        guard i + digits <= s.count,
            let v = UInt32(String(decoding: s[i..<i + digits], as: UTF8.self), radix: 16)
        else { throw PythonLiteralReader.ReadError(description: "bad hex escape") }
        i += digits
        return v
    }
}
