"""A minimal Flask app served by yimmo-wsgi.

    PYTHONPATH=examples yimmo-wsgi flask_app:app
"""

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.get("/")
def index():
    return f"Hello from Flask, {request.remote_addr}!\n", 200, {"Content-Type": "text/plain"}


@app.post("/echo")
def echo():
    # A JSON body comes back as `json`, a form (urlencoded or multipart) as `form`.
    if request.is_json:
        return jsonify(framework="flask", json=request.get_json())
    return jsonify(framework="flask", form=request.form.to_dict())
