"""A tiny HTTP service counting visits in Redis (RESP over a socket).

GET  /health  200 {"status": "ok"} when Redis answers PING, else 503
POST /hits    200 {"counted": true, "hits": N}  (INCR hits)
GET  /hits    200 {"hits": N}
anything else 404
"""
import json
import os
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REDIS = (os.environ.get("REDIS_HOST", "127.0.0.1"), 6379)


def redis(*args):
    """Sends one command; returns a simple, integer or bulk reply as text
    (None for a missing key)."""
    payload = f"*{len(args)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in args)
    with socket.create_connection(REDIS, timeout=2) as s:
        s.sendall(payload.encode())
        lines = s.makefile("rb")
        reply = lines.readline().decode().rstrip("\r\n")
        if reply.startswith("-"):
            raise RuntimeError(reply[1:])
        if reply.startswith("$"):
            if int(reply[1:]) < 0:
                return None
            return lines.readline().decode().rstrip("\r\n")
        return reply[1:]


class Handler(BaseHTTPRequestHandler):
    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        try:
            if self.path == "/health":
                redis("PING")
                return self.answer(200, {"status": "ok"})
            if self.path == "/hits":
                value = redis("GET", "hits")
                return self.answer(200, {"hits": int(value or 0)})
        except (OSError, RuntimeError) as e:
            return self.answer(503, {"status": "down", "error": str(e)})
        self.answer(404, {"error": "not found"})

    def do_POST(self):
        if self.path != "/hits":
            return self.answer(404, {"error": "not found"})
        try:
            hits = int(redis("INCR", "hits"))
        except (OSError, RuntimeError) as e:
            return self.answer(503, {"error": str(e)})
        self.answer(200, {"counted": True, "hits": hits})

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
