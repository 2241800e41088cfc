"""A localhost HTTP server for download tests: every GET gets ``body`` (the tests control it)."""

import http.server
import threading


class LocalServer:
    def __init__(self, body: bytes = b"", filename: str = "file.bin", declared_length: int | None = None):
        # declared_length larger than the body simulates a download cut off half-way.
        self.body, self.declared_length, self.requests = body, declared_length, 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests += 1
                self.send_response(200)
                self.send_header("Content-Length", str(outer.declared_length or len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/{filename}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
