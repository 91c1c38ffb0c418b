import CPythonShim

#if canImport(Glibc)
import Glibc
#endif

/// Why the application could not be loaded: one summary line, then the Python traceback if any.
public struct AppLoadError: Error, CustomStringConvertible {
    public let summary: String
    public let traceback: String?

    public var description: String {
        traceback.map { summary + "\n" + $0 } ?? summary
    }
}

/// Which application to load, from the command line's positional arguments.
struct AppSpec: Equatable {
    var module: String
    /// A dotted attribute path inside the module.
    var attribute: String
    /// The text between the parentheses of `factory(...)`; nil when the attribute is the app.
    var arguments: String?

    /// The attribute used when only a module is given (as gunicorn and uWSGI do).
    static let defaultAttribute = "application"

    /// nil for no arguments (the demo app).
    static func parse(_ words: [String]) throws(AppLoadError) -> AppSpec? {
        let module: String
        var attribute: String
        switch words.count {
        case 0:
            return nil
        case 1:
            if let colon = words[0].firstIndex(of: ":") {
                module = String(words[0][..<colon])
                attribute = String(words[0][words[0].index(after: colon)...])
            } else {
                module = words[0]
                attribute = defaultAttribute
            }
        case 2 where !words[0].contains(":"):
            module = words[0]
            attribute = words[1]
        default:
            throw AppLoadError(
                summary: "expected MODULE, MODULE:APP, MODULE APP or MODULE:FACTORY(ARGS), got "
                    + words.joined(separator: " "), traceback: nil)
        }
        var arguments: String?
        if let open = attribute.firstIndex(of: "(") {
            guard attribute.hasSuffix(")") else {
                throw AppLoadError(summary: "unbalanced parentheses in '\(attribute)'", traceback: nil)
            }
            arguments = String(attribute[attribute.index(after: open)..<attribute.index(before: attribute.endIndex)])
            attribute = String(attribute[..<open])
        }
        guard isDottedName(module), isDottedName(attribute) else {
            throw AppLoadError(summary: "'\(words.joined(separator: " "))' does not name MODULE:APP", traceback: nil)
        }
        return AppSpec(module: module, attribute: attribute, arguments: arguments)
    }

    private static func isDottedName(_ text: String) -> Bool {
        !text.isEmpty && text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { part in
            guard let first = part.first, !first.isNumber else { return false }
            return part.allSatisfy { $0 == "_" || $0.isLetter || $0.isNumber }
        }
    }

    var display: String {
        module + ":" + attribute + (arguments.map { "(" + $0 + ")" } ?? "")
    }
}

/// Imports the application (or builds the demo). Runs once, at start, holding the GIL.
enum AppLoader {
    static func load(spec words: [String], configuration: WSGIConfiguration) throws(AppLoadError) -> PythonApplication {
        guard let spec = try AppSpec.parse(words) else {
            return try DemoApp.load(configuration: configuration)
        }
        guard var object = YPy_Import(spec.module) else {
            throw AppLoadError(summary: "cannot import module '\(spec.module)'", traceback: PythonException.take())
        }
        var path = spec.module
        for name in spec.attribute.split(separator: ".") {
            let next = YPy_GetAttr(object, String(name))
            YPy_DecRef(object)
            guard let next else {
                throw AppLoadError(summary: "'\(path)' has no attribute '\(name)'", traceback: PythonException.take())
            }
            object = next
            path += (path == spec.module ? ":" : ".") + name
        }
        if let arguments = spec.arguments {
            object = try callFactory(object, arguments: arguments, spec: spec)
        }
        guard YPy_IsCallable(object) != 0 else {
            let type = YPy_TypeName(object).map { name in
                defer { free(name) }
                return String(cString: name)
            } ?? "?"
            YPy_DecRef(object)
            let what = spec.arguments == nil ? "'\(spec.display)' is" : "'\(spec.display)' returned"
            throw AppLoadError(summary: "\(what) not callable (a \(type) object)", traceback: nil)
        }
        return PythonApplication(owning: object)
    }

    /// Calls factory(...) once; consumes `factory`, returns the new reference it produced.
    private static func callFactory(_ factory: OpaquePointer, arguments: String, spec: AppSpec) throws(AppLoadError) -> OpaquePointer {
        defer { YPy_DecRef(factory) }
        guard YPy_IsCallable(factory) != 0 else {
            throw AppLoadError(summary: "'\(spec.module):\(spec.attribute)' is not callable", traceback: nil)
        }
        let result: OpaquePointer?
        if arguments.allSatisfy(\.isWhitespace) {
            result = YPy_Call0(factory)
        } else {
            var positional: OpaquePointer?
            var keywords: OpaquePointer?
            guard YPy_ParseLiteralArguments(arguments, &positional, &keywords) == 0 else {
                throw AppLoadError(
                    summary: "the arguments of '\(spec.display)' must be Python literals",
                    traceback: PythonException.take())
            }
            result = YPy_CallArgs(factory, positional, keywords)
            YPy_XDecRef(positional)
            YPy_XDecRef(keywords)
        }
        guard let result else {
            throw AppLoadError(summary: "the factory '\(spec.display)' raised", traceback: PythonException.take())
        }
        return result
    }
}
