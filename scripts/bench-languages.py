#!/usr/bin/env python3
"""Per-language figures: component size, deploy (compile) time, first and steady invoke
latency through the API (200 sequential `POST /v1/invocations?wait=30` of a hello function on
one connection), and memory per instance (the host's RSS with 16 invocations held inside an
HTTP request to a local server, minus the RSS before them, over 16).

Usage (a release host; components from scripts/build-guests.sh and `reprise new`):

    scripts/bench-languages.py target/release/reprise RUST_HELLO.wasm PYTHON_HELLO.wasm \
        JS_HELLO.wasm target/wasm32-wasip2/guest/reprise_test_guests.wasm \
        target/wasm32-wasip2/guest/py_guests.wasm target/wasm32-wasip2/guest/js_guests.wasm

The hello components take {"name": ...}; the last two export `entropy`, which POSTs to a URL.
"""
import http.client, http.server, json, os, shutil, socketserver, subprocess, sys, threading, time

REPRISE = sys.argv[1]
LANGUAGES = ["rust", "python", "js"]
COMPONENTS = [(lang, sys.argv[2 + i], "hello") for i, lang in enumerate(LANGUAGES)]
HOLDING = [(f"{lang}-tg", sys.argv[5 + i], "entropy") for i, lang in enumerate(LANGUAGES)]
HOLDERS = 16

class Hold(http.server.BaseHTTPRequestHandler):
    arrived = 0
    lock = threading.Lock()
    gate = threading.Event()
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        with Hold.lock:
            Hold.arrived += 1
        Hold.gate.wait()
        body = b'{"value": 1}'
        self.send_response(200); self.send_header("content-length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass

def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024

def main():
    data = "/tmp/langfig-data"
    shutil.rmtree(data, ignore_errors=True)
    port = 7631
    host = subprocess.Popen([REPRISE, "serve", "--data", data, "--listen", f"127.0.0.1:{port}",
                             "--allow-egress", "127.0.0.0/8"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists(f"{data}/default.key"):
                break
            time.sleep(0.1)
        time.sleep(0.5)
        token = open(f"{data}/default.key").read().strip()
        hdr = {"Authorization": f"Bearer {token}"}
        conn = http.client.HTTPConnection("127.0.0.1", port)

        def call(method, path, body=None, ctype="application/json", fresh=False):
            nonlocal conn
            if fresh:
                conn.close(); conn = http.client.HTTPConnection("127.0.0.1", port)
            h = dict(hdr); h["content-type"] = ctype
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse(); return r.status, r.read()
        for lang, path, fn in COMPONENTS:
            size = os.path.getsize(path)
            t = time.perf_counter()
            st, body = call("PUT", f"/v1/deployments/{lang}", open(path, "rb").read(), "application/wasm")
            deploy = time.perf_counter() - t
            assert st in (200, 201), body
            lat = []
            for i in range(201):
                t = time.perf_counter()
                st, body = call("POST", "/v1/invocations?wait=30",
                                json.dumps({"function": lang, "input": {"name": "Ada"}}))
                lat.append(time.perf_counter() - t)
                assert st == 200, body
            first, steady = lat[0], sorted(lat[1:])
            p50, p99 = steady[len(steady)//2], steady[int(len(steady)*0.99)-1]
            print(f"{lang}: size {size/1e6:.2f} MB, deploy {deploy:.2f} s, first invoke "
                  f"{first*1e3:.1f} ms, steady p50 {p50*1e3:.2f} ms p99 {p99*1e3:.2f} ms", flush=True)
        # A backlog for every holder at once (the default, 5, drops connections, which the
        # host then retries).
        socketserver.ThreadingTCPServer.request_queue_size = 4 * HOLDERS
        for lang, path, fn in HOLDING:
            # A server (a destination) per language: held requests are slow answers, which
            # narrow the host's adaptive limit for their destination, and the next language's
            # holders must not queue behind that limit.
            server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Hold)
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
            hold_url = f"http://127.0.0.1:{server.server_address[1]}/hold"
            st, body = call("PUT", f"/v1/deployments/{lang}", open(path, "rb").read(), "application/wasm", fresh=True)
            assert st in (200, 201), body
            time.sleep(1.0)
            idle = rss(host.pid)
            Hold.arrived = 0; Hold.gate.clear()
            for i in range(HOLDERS):
                st, body = call("POST", "/v1/invocations",
                                json.dumps({"function": f"{lang}.{fn}", "input": {"url": hold_url}}))
                assert st in (200, 202), body
            while Hold.arrived < HOLDERS:
                time.sleep(0.05)
            time.sleep(0.5)
            held = rss(host.pid)
            Hold.gate.set()
            time.sleep(2.0)
            print(f"{lang}: RSS {idle:.1f} MiB idle, {held:.1f} MiB with {HOLDERS} instances held: "
                  f"{(held - idle) / HOLDERS:.2f} MiB per instance", flush=True)
        conn.close()
    finally:
        host.terminate(); host.wait()

main()
