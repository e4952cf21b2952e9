"""Plain-HTTP helpers for tests that talk to a real server process."""
import json
import urllib.error
import urllib.request


def get(url, opener=None):
    """(status, body bytes); status None when nothing answered."""
    try:
        with (opener or urllib.request.build_opener()).open(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return None, b""


def post_json(opener, url, body):
    """(status, decoded JSON body) of a JSON POST."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with opener.open(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
