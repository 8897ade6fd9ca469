"""Several hosts on one machine for the tests: Linux network namespaces joined by veth pairs (iproute2's
`ip netns`, needs root). Each namespace is a host with its own interfaces, addresses and loopback; a link is
a veth pair with one end in each, on a /24 of its own; `Link.down()` cuts it as a pulled cable would.

    with Network() as net:
        a, b = net.host("ctrl"), net.host("recv1")
        link = net.link(a, b)                     # a at link.address(a), b at link.address(b)
        proc = b.popen(["node", "cli.js", "--host", link.address(b), ...])
        a.run(["curl", f"http://{link.address(b)}:8765/health"])
        link.down()

Everything lives inside the namespaces it creates (the root namespace's interfaces are untouched), every
name carries a random tag (tests running side by side never meet), and leaving the `with` block kills what
was started in them and deletes them, veths included.
"""
from __future__ import annotations

import secrets
import shutil
import subprocess
from dataclasses import dataclass, field


def ip(*args: str) -> str:
    """Run `ip ARGS`; its error (with the command) on failure."""
    out = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed ({out.returncode}): {out.stderr.strip()}")
    return out.stdout


def available() -> str | None:
    """Why namespaces cannot be made here, or None."""
    if shutil.which("ip") is None:
        return "iproute2's `ip` is missing (Debian: apt-get install iproute2)"
    try:
        probe = f"daqlab-probe-{secrets.token_hex(3)}"
        ip("netns", "add", probe)
        ip("netns", "del", probe)
    except RuntimeError as err:
        return f"cannot create network namespaces (root needed): {err}"
    return None


@dataclass
class Host:
    """A network namespace: a host of its own."""

    name: str
    netns: str
    procs: list[subprocess.Popen] = field(default_factory=list)

    def command(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *argv]

    def run(self, argv: list[str], timeout: float = 30, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(argv), capture_output=True, text=True, timeout=timeout, **kw)

    def popen(self, argv: list[str], **kw) -> subprocess.Popen:
        """Start a process in this namespace; it is killed when the network closes."""
        proc = subprocess.Popen(self.command(argv), **kw)
        self.procs.append(proc)
        return proc


@dataclass
class Link:
    """A veth pair between two hosts, addresses 10.201.N.1 and 10.201.N.2 (/24)."""

    ends: tuple[tuple[Host, str, str], tuple[Host, str, str]]  # (host, interface, address) × 2

    def address(self, host: Host) -> str:
        return next(addr for h, _, addr in self.ends if h is host)

    def _set(self, state: str) -> None:
        for host, dev, _ in self.ends:
            ip("-n", host.netns, "link", "set", "dev", dev, state)

    def down(self) -> None:
        """Cut the link (both ends down): packets stop; connections across it hang or fail."""
        self._set("down")

    def up(self) -> None:
        self._set("up")


@dataclass
class Switch:
    """An Ethernet switch (a bridge in a namespace of its own) with one port per host: every host reaches
    every other at 10.202.N.K (/24). `down(host)` cuts that host's cable only."""

    ports: dict[str, tuple[Host, str, str]]  # host name → (host, interface in the host, address)

    def address(self, host: Host) -> str:
        return self.ports[host.name][2]

    def _set(self, host: Host, state: str) -> None:
        h, dev, _ = self.ports[host.name]
        ip("-n", h.netns, "link", "set", "dev", dev, state)

    def down(self, host: Host) -> None:
        """Pull this host's cable: its packets stop, its connections hang (no reset, no close)."""
        self._set(host, "down")

    def up(self, host: Host) -> None:
        self._set(host, "up")


class Network:
    """Hosts (namespaces), links (veth pairs) and switches (bridges), removed on close."""

    def __init__(self) -> None:
        self.tag = secrets.token_hex(3)  # 6 hex digits: interface names stay under Linux's 15 characters
        self.hosts: list[Host] = []
        self.links: list[Link] = []
        self.switches = 0

    def host(self, name: str) -> Host:
        h = Host(name, f"daqlab-{self.tag}-{name}")
        ip("netns", "add", h.netns)
        self.hosts.append(h)
        ip("-n", h.netns, "link", "set", "dev", "lo", "up")
        return h

    def link(self, a: Host, b: Host) -> Link:
        n = len(self.links)
        if n > 250:
            raise ValueError("at most 250 links per network")
        dev_a, dev_b = f"v{self.tag}{n}a", f"v{self.tag}{n}b"
        # created in the root namespace and moved at once into the two hosts
        ip("link", "add", dev_a, "type", "veth", "peer", "name", dev_b)
        ip("link", "set", dev_a, "netns", a.netns)
        ip("link", "set", dev_b, "netns", b.netns)
        addr_a, addr_b = f"10.201.{n}.1", f"10.201.{n}.2"
        for host, dev, addr in ((a, dev_a, addr_a), (b, dev_b, addr_b)):
            ip("-n", host.netns, "addr", "add", f"{addr}/24", "dev", dev)
            ip("-n", host.netns, "link", "set", "dev", dev, "up")
        link = Link(((a, dev_a, addr_a), (b, dev_b, addr_b)))
        self.links.append(link)
        return link

    def switch(self, hosts: list[Host]) -> Switch:
        """A switch joining `hosts` (at most 250), in a namespace of its own (deleted with the network)."""
        n = self.switches
        self.switches += 1
        sw = self.host(f"sw{n}")
        ip("-n", sw.netns, "link", "add", "br0", "type", "bridge")
        ip("-n", sw.netns, "link", "set", "dev", "br0", "up")
        ports: dict[str, tuple[Host, str, str]] = {}
        for k, h in enumerate(hosts, start=1):
            dev_h, dev_s = f"s{self.tag}{n}{k}a", f"s{self.tag}{n}{k}b"
            ip("link", "add", dev_h, "type", "veth", "peer", "name", dev_s)
            ip("link", "set", dev_h, "netns", h.netns)
            ip("link", "set", dev_s, "netns", sw.netns)
            ip("-n", sw.netns, "link", "set", "dev", dev_s, "master", "br0")
            ip("-n", sw.netns, "link", "set", "dev", dev_s, "up")
            addr = f"10.202.{n}.{k}"
            ip("-n", h.netns, "addr", "add", f"{addr}/24", "dev", dev_h)
            ip("-n", h.netns, "link", "set", "dev", dev_h, "up")
            ports[h.name] = (h, dev_h, addr)
        return Switch(ports)

    def close(self) -> None:
        """Kill what runs in the hosts, then delete them (their veth ends go with them)."""
        for h in self.hosts:
            for proc in h.procs:
                if proc.poll() is None:
                    proc.terminate()
            for proc in h.procs:
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
            # anything else still inside (a child that outlived its parent) before the namespace goes
            pids = subprocess.run(["ip", "netns", "pids", h.netns], capture_output=True, text=True).stdout.split()
            for pid in pids:
                subprocess.run(["kill", "-9", pid], capture_output=True)
            subprocess.run(["ip", "netns", "del", h.netns], capture_output=True)
        self.hosts.clear()
        self.links.clear()

    def __enter__(self) -> Network:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
