"""A scriptable SIMPLON 1.8.0 detector for fault tests: the control part over HTTP (loopback, a free port),
whose stream the test writes itself with a pyzmq PUSH socket. tickit-devices is the real counterpart
(test_dectris_tickit.py); this one can fail on purpose: error answers, the error state, disappearing."""
from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cbor2
import numpy as np
import zmq

ROWS, COLS = 6, 8


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _param(value, value_type="float", access_mode="rw", **limits):
    return {"value": value, "value_type": value_type, "access_mode": access_mode, **limits}


class FakeSimplon:
    def __init__(self, version: str = "1.8.0"):
        self.version = version
        self.state = "idle"
        self.errors: list[str] = []
        self.config = {
            "count_time": _param(0.1, min=1e-6, max=3600.0),
            "frame_time": _param(0.1, min=1e-3, max=3600.0),
            "nimages": _param(1, "uint", min=1, max=1000000),
            "ntrigger": _param(1, "uint", min=1, max=1000000),
            "trigger_mode": _param("ints", "string", allowed_values=["ints", "inte", "exts", "exte"]),
            "photon_energy": _param(8000.0, min=2000.0, max=100000.0, unit="eV"),
            "compression": _param("bslz4", "string", allowed_values=["bslz4", "lz4"]),
            "description": _param("FAKE EIGER2 tiny", "string", "r"),
            "detector_number": _param("E-FAKE-1", "string", "r"),
            "sensor_material": _param("Si", "string", "r"),
            "sensor_thickness": _param(0.00045, access_mode="r"),
            "x_pixel_size": _param(7.5e-5, access_mode="r"),
            "y_pixel_size": _param(7.5e-5, access_mode="r"),
            "x_pixels_in_detector": _param(COLS, "uint", "r"),
            "y_pixels_in_detector": _param(ROWS, "uint", "r"),
            "bit_depth_image": _param(16, "uint", "r"),
        }
        self.stream_config = {
            "mode": _param("enabled", "string", allowed_values=["enabled", "disabled"]),
            "format": _param("cbor", "string", allowed_values=["cbor", "legacy"]),
            "header_detail": _param("basic", "string", allowed_values=["all", "basic", "none"]),
        }
        #: PUT param -> (HTTP status, DECTRIS's text)
        self.refuse: dict[str, tuple[int, str]] = {}
        self.commands: list[str] = []
        #: seconds an arm takes (a real DCU takes a moment)
        self.arm_delay = 0.0
        #: seconds an initialize takes (minutes on a real detector after power-up)
        self.initialize_delay = 0.0
        self.armed = threading.Event()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def gone(self):
        """The detector disappears: its HTTP port closes."""
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body):
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if not isinstance(body, str) else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _lookup(self):
                parts = self.path.strip("/").split("/")
                # <subsystem>/api/1.8.0/<kind>/<param...>
                if len(parts) < 5 or parts[1] != "api" or parts[2] != fake.version:
                    return None
                return parts[0], parts[3], "/".join(parts[4:])

            def do_GET(self):
                where = self._lookup()
                if where is None:
                    return self._send(404, "path error: unknown path")
                sub, kind, param = where
                if sub == "detector" and kind == "status":
                    values = {"state": fake.state, "temperature": 31.5, "humidity": 3.0, "error": fake.errors, "high_voltage/state": "READY"}
                    if param in values:
                        return self._send(200, _param(values[param], "string", "r"))
                if sub == "stream" and kind == "status" and param in ("dropped", "state"):
                    return self._send(200, _param(0 if param == "dropped" else "ready", "uint", "r"))
                table = fake.config if sub == "detector" else fake.stream_config
                if kind == "config" and param in table:
                    return self._send(200, table[param])
                return self._send(404, f'path error: unknown path: "{param}"')

            def do_PUT(self):
                where = self._lookup()
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if where is None:
                    return self._send(404, "path error")
                sub, kind, param = where
                if kind == "command":
                    if param == "arm":
                        time.sleep(fake.arm_delay)
                    if param == "initialize":
                        time.sleep(fake.initialize_delay)
                    fake.commands.append(param)
                    if param == "initialize":
                        fake.state = "idle"
                    elif param == "arm":
                        fake.state = "ready"
                        fake.armed.set()
                        return self._send(200, {"sequence id": 7})
                    elif param in ("disarm", "abort", "cancel"):
                        fake.state = "idle"
                    return self._send(200, {"sequence id": 7})
                if param in fake.refuse:
                    status, text = fake.refuse[param]
                    return self._send(status, text)
                table = fake.config if sub == "detector" else fake.stream_config
                if kind != "config" or param not in table:
                    return self._send(404, "path error")
                table[param]["value"] = body.get("value")
                return self._send(200, [param])

        return Handler


class Stream2Sender:
    """The detector's stream: a PUSH socket bound on a free loopback port, messages made with cbor2."""

    def __init__(self, legacy: bool = False):
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.ctx = zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.PUSH)
        self.sock.setsockopt(zmq.SNDTIMEO, 5000)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(self.address)

    def send(self, message: dict | bytes):
        self.sock.send(message if isinstance(message, bytes) else cbor2.dumps(cbor2.CBORTag(55799, message)))

    def send_multipart(self, parts: list[bytes]):
        self.sock.send_multipart(parts)

    def close(self):
        self.sock.close(0)


def start_message(series_id=1, channels=("threshold_1",), number_of_images=None, **extra):
    m = {"type": "start", "series_id": series_id, "series_unique_id": f"FAKE-{series_id}", "channels": list(channels),
         "image_size_x": COLS, "image_size_y": ROWS, "image_dtype": "uint16", "beam_center_x": 3.5, "beam_center_y": 2.5}
    if number_of_images is not None:
        m["number_of_images"] = number_of_images
    m.update(extra)
    return m


def frame(image_id: int, channel: int = 0) -> np.ndarray:
    """A deterministic test frame."""
    return (np.arange(ROWS * COLS, dtype=np.uint16).reshape(ROWS, COLS) * (image_id + 1) + 100 * channel).astype(np.uint16)


def typed(array: np.ndarray, tag=69, dims=None):
    return cbor2.CBORTag(40, [list(dims or array.shape), cbor2.CBORTag(tag, array.astype("<u2").tobytes())])


def image_message(image_id, series_id=1, channels=("threshold_1",), data=None):
    return {"type": "image", "series_id": series_id, "series_unique_id": f"FAKE-{series_id}", "image_id": image_id,
            "start_time": [image_id, 10], "stop_time": [image_id + 1, 10], "real_time": [1, 10],
            "data": data if data is not None else {ch: typed(frame(image_id, k)) for k, ch in enumerate(channels)}}


def end_message(series_id=1):
    return {"type": "end", "series_id": series_id, "series_unique_id": f"FAKE-{series_id}"}
