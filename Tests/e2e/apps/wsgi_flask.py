"""A Flask app (test_wsgi_frameworks), imported from the test venv."""

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.route("/")
def index():
    return "Hello from Flask"


@app.route("/echo", methods=["POST"])
def echo():
    return jsonify(form=request.form.to_dict(), args=request.args.to_dict(), length=request.content_length)


@app.route("/json", methods=["POST"])
def json_echo():
    return jsonify(received=request.get_json())


@app.route("/boom")
def boom():
    raise RuntimeError("Flask view failed")
