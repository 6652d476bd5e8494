"""A small tampering proxy in front of the simulated portal, for hostile-but-200 answers.

Every request is forwarded as it is; `rewrite(method, path, payload)` may return a new body
(any JSON value, or bytes sent verbatim) for the answer, or None to pass it through.
"""

from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import urlparse

Rewrite = Callable[[str, str, Any], Any]
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class TamperingProxy:
    def __init__(self, upstream_url: str, rewrite: Rewrite):
        self.upstream = urlparse(upstream_url)
        self.rewrite = rewrite
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
                conn.request(self.command, self.path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                status, answer_headers = answer.status, answer.getheaders()
                conn.close()
                if status == 200 and data:
                    replaced = proxy.rewrite(self.command, urlparse(self.path).path.rstrip("/"), json.loads(data))
                    if replaced is not None:
                        data = replaced if isinstance(replaced, bytes) else json.dumps(replaced).encode()
                self.send_response(status)
                for name, value in answer_headers:
                    if name.lower() not in HOP_HEADERS:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _forward

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> "TamperingProxy":
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
