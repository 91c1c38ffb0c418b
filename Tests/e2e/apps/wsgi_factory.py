"""An application factory (test_wsgi_loading): ``wsgi_factory:create_app()`` or
``wsgi_factory:create_app('Hi', times=2)``. CALLS counts how often the factory ran."""

CALLS = 0


def create_app(greeting="Hello", times=1):
    global CALLS
    CALLS += 1
    body = (" ".join([greeting] * times) + " from a factory (calls=%d)" % CALLS).encode()

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    return app


def not_an_app():
    return 42


application = create_app
not_callable = 42
