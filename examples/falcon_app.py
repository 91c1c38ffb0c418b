"""A minimal Falcon app served by yimmo-wsgi.

    PYTHONPATH=examples yimmo-wsgi falcon_app:app
"""

import falcon


class Index:
    def on_get(self, req, resp):
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = f"Hello from Falcon, {req.remote_addr}!\n"


class Echo:
    def on_post(self, req, resp):
        # Falcon's default media handlers parse JSON and urlencoded forms alike.
        media = req.get_media()
        key = "json" if req.content_type and req.content_type.startswith("application/json") else "form"
        resp.media = {"framework": "falcon", key: media}


app = falcon.App()
app.add_route("/", Index())
app.add_route("/echo", Echo())
