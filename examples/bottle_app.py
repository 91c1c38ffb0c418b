"""A minimal Bottle app served by yimmo-wsgi.

    PYTHONPATH=examples yimmo-wsgi bottle_app:app
"""

import bottle

app = bottle.Bottle()


@app.get("/")
def index():
    bottle.response.content_type = "text/plain"
    return f"Hello from Bottle, {bottle.request.remote_addr}!\n"


@app.post("/echo")
def echo():
    # A dict return value is sent as JSON.
    if bottle.request.json is not None:
        return {"framework": "bottle", "json": bottle.request.json}
    return {"framework": "bottle", "form": dict(bottle.request.forms.decode())}
