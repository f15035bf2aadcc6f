"""A real local HTTP server for webhook tests: answers from a script of responses."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookServer:
    """`script` is a list of answers used in order (the last one repeats): an int status,
    or ("hang", seconds) to wait before answering 200, or ("block", None) to wait until
    `release` is set, or ("redirect", url) to answer 307 with that Location."""

    def __init__(self, script=(200,)):
        self.script = list(script)
        self.requests: list[dict] = []
        self.received = threading.Event()
        self.release = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                owner.requests.append({"headers": self.headers, "body": body})
                owner.received.set()
                index = min(len(owner.requests) - 1, len(owner.script) - 1)
                answer = owner.script[index]
                if isinstance(answer, tuple) and answer[0] == "hang":
                    time.sleep(answer[1])
                    answer = 200
                elif isinstance(answer, tuple) and answer[0] == "block":
                    owner.release.wait(60)
                    answer = 200
                location = None
                if isinstance(answer, tuple) and answer[0] == "redirect":
                    answer, location = 307, answer[1]
                try:
                    self.send_response(answer)
                    if location:
                        self.send_header("Location", location)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the client gave up (timeout) or died

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def event_ids(self) -> list[str]:
        return [r["headers"]["Mqaflow-Event-Id"] for r in self.requests]

    def types(self) -> list[str]:
        return [r["headers"]["Mqaflow-Event-Type"] for r in self.requests]
