"""Safe post-login redirects: `next` may only name a path on this site."""
from urllib.parse import urlsplit


def safe_next(target: str | None, default: str = "/") -> str:
    """`target` when it is a local path, else `default`.

    Accepted: one leading "/" followed by anything that is not a second "/" or
    a backslash, no backslash or control character anywhere, and no scheme or
    host once parsed. Browsers treat "//host", "/\\host" and "\\\\host" as
    other sites, and some strip control characters before parsing, so all of
    those are refused rather than cleaned up.
    """
    if not target or not isinstance(target, str):
        return default
    if not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target
