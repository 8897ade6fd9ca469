"""Start a test process and wait for the line that says it is ready (servers print their address once listening)."""
from __future__ import annotations

import os
import re
import subprocess
import threading


class ReadyProcess:
    """A subprocess whose combined output is collected in `lines`; `ready` is the match of `pattern` on the first line
    that has it. Raises RuntimeError with everything the process printed when no such line comes within `timeout`."""

    def __init__(self, cmd: list[str], pattern: str, *, timeout: float = 30, env: dict | None = None, what: str = ""):
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env={**os.environ, **(env or {})})
        self.lines: list[str] = []
        self.ready: re.Match | None = None
        seen = threading.Event()

        def pump():
            for line in self.proc.stdout:
                self.lines.append(line)
                if self.ready is None:
                    self.ready = re.search(pattern, line)
                    if self.ready:
                        seen.set()
            seen.set()  # the process ended: wake the waiter

        threading.Thread(target=pump, daemon=True).start()
        if not seen.wait(timeout) or self.ready is None:
            self.stop()
            raise RuntimeError(f"{what or cmd[0]} did not start:\n{self.log}")

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, grace: float = 10) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
