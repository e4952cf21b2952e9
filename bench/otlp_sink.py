"""A discarding OTLP/HTTP endpoint for bench/overhead.py: accepts every export, keeps nothing.

    python bench/otlp_sink.py PORT

It answers POST /v1/traces, /v1/metrics and /v1/logs with 200 and an empty protobuf message (a
valid Export*ServiceResponse), so the app pays the full cost of encoding and sending.
"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()


if __name__ == "__main__":
    main()
