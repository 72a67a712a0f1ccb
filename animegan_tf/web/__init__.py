"""The web page: a local Flask app (served by waitress) that makes faces from the trained runs under one folder.

`folders` checks run names (no TensorFlow); `app` is the Flask app, its JSON/PNG API and the server; `static/` holds
the page itself (plain HTML and a little JavaScript, no build step).
"""
