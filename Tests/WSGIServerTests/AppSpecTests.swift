import Testing
@testable import WSGIServer

@Suite struct AppSpecTests {
    @Test(arguments: [
        (["app"], AppSpec(module: "app", attribute: "application", arguments: nil)),
        (["pkg.mod:app"], AppSpec(module: "pkg.mod", attribute: "app", arguments: nil)),
        (["pkg.mod", "app"], AppSpec(module: "pkg.mod", attribute: "app", arguments: nil)),
        (["mod:obj.wsgi_app"], AppSpec(module: "mod", attribute: "obj.wsgi_app", arguments: nil)),
        (["mod:create()"], AppSpec(module: "mod", attribute: "create", arguments: "")),
        (["mod:create('x', debug=True)"], AppSpec(module: "mod", attribute: "create", arguments: "'x', debug=True")),
        (["mod", "create(1)"], AppSpec(module: "mod", attribute: "create", arguments: "1")),
    ])
    func parses(words: [String], expected: AppSpec) throws {
        #expect(try AppSpec.parse(words) == expected)
    }

    @Test func noWordsMeansTheDemo() throws {
        #expect(try AppSpec.parse([]) == nil)
    }

    @Test(arguments: [
        ["a", "b", "c"], ["mod:"], [":app"], ["mod:app("], ["mod:1app"], ["mod:a..b"], ["mod:app", "x"],
        ["mod:app)("],
    ])
    func rejects(words: [String]) {
        #expect(throws: AppLoadError.self) { try AppSpec.parse(words) }
    }
}
