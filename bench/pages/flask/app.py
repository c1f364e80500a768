"""The example app's /blog in Flask: the Flask peer of bench/pages.py.

Renders the repository's templates/blog.html (which extends base.html) with Jinja2 on every
request, from the posts in bench/pages/posts.json (the example app's POSTS), and answers with
the example app's headers for /blog: its after hook's security headers, X-Request-Id, and the
blog's Cache-Control. Flask gives templates `url_for` and `get_flashed_messages` itself; the
routes below exist so that `url_for` builds the example app's URLs (only /blog is measured).
Serve with gunicorn: `gunicorn -w 1 -k sync app:app` (see bench/pages.py).

Environment: PAGES_TEMPLATES (default: the repository's templates/), PAGES_POSTS (default:
../posts.json).
"""
import itertools
import json
import os

from flask import Blueprint, Flask, render_template

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
TEMPLATES = os.environ.get("PAGES_TEMPLATES", os.path.join(ROOT, "templates"))
POSTS_FILE = os.environ.get("PAGES_POSTS", os.path.join(HERE, "..", "posts.json"))

# The example app's static folder, so that url_for('static', filename=...) exists.
app = Flask(__name__, template_folder=TEMPLATES, static_folder=os.path.join(ROOT, "static"))

# Sessions signed as the example app's are: get_flashed_messages() opens the (absent) session.
app.secret_key = os.urandom(32)

with open(POSTS_FILE, encoding="utf-8") as f:
    POSTS = json.load(f)

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
BLOG_CACHE_CONTROL = "public, max-age=300"
# The example app's X-Request-Id: the process id and a counter of its responses.
RESPONSES = itertools.count(1)
PID = os.getpid()


@app.get("/blog")
def blog():
    response = app.make_response(render_template("blog.html", posts=POSTS))
    response.headers["Cache-Control"] = BLOG_CACHE_CONTROL
    return response


@app.after_request
def standard_headers(response):
    response.headers["X-Request-Id"] = "%d-%d" % (os.getpid(), next(RESPONSES))
    response.headers.setdefault("Cache-Control", "no-cache")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


def unmeasured():
    return "not part of the benchmark\n", 404


# The other routes the templates name: url_for needs them to exist (never requested).
for rule, endpoint in [
    ("/", "index"),
    ("/blog/<slug>", "post"),
    ("/hello/<name>", "hello"),
    ("/contact", "contact"),
    ("/counter", "counter"),
    ("/upload", "upload"),
]:
    app.add_url_rule(rule, endpoint, unmeasured)
api = Blueprint("api", __name__, url_prefix="/api")
api.add_url_rule("/time", "time", unmeasured)
app.register_blueprint(api)
