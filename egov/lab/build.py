"""`egov lab up` / `egov lab down`: build the plan as real routers on this host, and remove them.

Each router is a network namespace named after its hostname, with its own UTS
namespace (FRR 8.4 daemons take the hostname from uname, not frr.conf), its
plan's links as veth pairs shaped with tbf to the tier's bandwidth divided by
the profile's lab divisor, FRR booted from the rendered configuration, and an
sshd and snmpd on its management address (snmpd is also the AgentX master of
FRR's ISIS-MIB and sends linkDown/linkUp traps to the hub). A management bridge
in a namespace of its own reaches every router; one forwarder process exposes
each router's SSH and SNMP on 127.0.0.1 ports, relays the routers' traps to a
host port and gives each hosted service a probe port whose connections start
from a router far away. Each hosted service runs in a namespace of its own
behind its router. Everything made is recorded in the state file as it is
made, so `down` removes exactly that, and is safe to run twice.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets as pysecrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from ipaddress import IPv4Interface, IPv6Interface
from pathlib import Path

from egov.atomic import write_atomic
from egov.errors import EgovError
from egov.lab.host import in_router, pid_alive, read_pid, require_root, run
from egov.lab.state import RUN_DIR, STATE_FILE, LabState, LinkState, RouterState, ServiceState
from egov.render.engine import Renderer
from egov.render.secrets import Secrets
from egov.topology.model import Node, ServiceLan, Topology
from egov.topology.validate import Plan

HUB = "egov-mgmt"
SSH_BASE = 22000
SNMP_BASE = 16100
PROBE_BASE = 18000
TRAP_PORT = 10162
FRR_RUN = Path("/var/run/frr")
SYSCTLS = ["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1", "net.ipv6.conf.all.keep_addr_on_down=1",
           "net.ipv6.conf.default.keep_addr_on_down=1", "net.ipv4.conf.all.rp_filter=0",
           "net.ipv4.conf.default.rp_filter=0"]
BARE_FRR = """frr version 8.4.4
frr defaults traditional
hostname {host}
log syslog informational
service integrated-vtysh-config
!
end
"""

# Lab only, read after each router's rendered snmpd.conf: net-snmp 5.9 caches ifTable for 3 s, so the
# linkUp/linkDown monitors (1 s) would see a carrier change up to 3 s late. A router's traps leave at
# once; the lab shortens that cache to 1 s at every snmpd start, through this user, whose only access
# is that one object (NET-SNMP-AGENT-MIB::nsCacheTimeout for ifTable).
LAB_CACHE_USER = "egov-lab-cache"
IFTABLE_CACHE_TIMEOUT_OID = ".1.3.6.1.4.1.8072.1.5.3.1.2.1.3.6.1.2.1.2.2"
LAB_SNMPD = """# egov lab only (not rendered): lets the lab set net-snmp's ifTable cache to 1 s
createUser {user} SHA-256 "{key}" AES "{key}"
view egovLabCache included """ + IFTABLE_CACHE_TIMEOUT_OID + """
rwuser {user} priv -V egovLabCache
"""

Progress = Callable[[str, int, int], None]


def users_for(plan: Plan) -> tuple[str, str]:
    """(vtysh login, file-transfer login): the plan's admin user, and the same with -sh."""
    admin = plan.loaded.profile.services.admin_user
    return admin, f"{admin}-sh"


def _lab_secrets() -> Secrets:
    return Secrets(snmp_auth_key=pysecrets.token_hex(12), snmp_priv_key=pysecrets.token_hex(12),
                   admin_password=pysecrets.token_urlsafe(12))


def _hub_addresses(plan: Plan) -> tuple[str, str]:
    mgmt = plan.loaded.profile.pools.mgmt
    v4 = mgmt.gateway4 or next((a for a in mgmt.reserved if a.version == 4), None)
    v6 = mgmt.gateway6 or next((a for a in mgmt.reserved if a.version == 6), None)
    if v4 is None or v6 is None:
        raise EgovError.one(plan.loaded.shown, "pools.mgmt.gateway4/gateway6",
                            "the lab needs a management address for its hub on both families",
                            "set pools.mgmt.gateway4 and gateway6 (or list them in pools.mgmt.reserved)")
    p4 = plan.loaded.profile.pools.mgmt.ipv4[0].prefixlen
    p6 = plan.loaded.profile.pools.mgmt.ipv6[0].prefixlen
    return f"{v4}/{p4}", f"{v6}/{p6}"


def _tbf(rate_bit: int) -> list[str]:
    burst = max(16 * 1024, rate_bit // 8 // 50)
    return ["tbf", "rate", f"{rate_bit}bit", "burst", str(burst), "latency", "20ms"]


def _frrsh(root: Path) -> Path:
    sh = root / "bin" / "frrsh"
    sh.parent.mkdir(parents=True, exist_ok=True)
    # sshd runs inside the router's UTS namespace, so uname -n names the router
    sh.write_text('#!/bin/sh\n# login shell of the lab\'s CLI user: this router\'s vtysh\n'
                  'exec /usr/bin/vtysh -N "$(uname -n)" "$@"\n')
    sh.chmod(0o755)
    return sh


def _ensure_user(state: LabState, name: str, shell: str, home: Path) -> None:
    if run(["id", "-u", name], check=False).returncode == 0:
        return
    home.mkdir(parents=True, exist_ok=True)
    # frr, frrvty: vtysh and frr-reload; adm: Debian's lldpcli (setuid _lldpd, runnable by adm only)
    run(["useradd", "--system", "-M", "-d", str(home), "-s", shell, "-G", "frr,frrvty,adm", name])
    run(["usermod", "-p", "*", name])  # no password, but not locked: sshd refuses locked accounts
    shutil.chown(home, name, name)
    state.users_created.append(name)
    state.save()


def vantage_for(topo: Topology, router: str) -> str:
    """The router a service is probed from: the farthest from ``router`` in hops, in another region
    if one is as far, the first in plan order on a tie (deterministic, and the path crosses the backbone)."""
    adj: dict[str, set[str]] = {h: set() for h in topo.nodes}
    for lk in topo.links:
        adj[lk.a].add(lk.b)
        adj[lk.b].add(lk.a)
    dist = {router: 0}
    todo = [router]
    while todo:
        nxt = []
        for h in todo:
            for peer in sorted(adj[h] - dist.keys()):
                dist[peer] = dist[h] + 1
                nxt.append(peer)
        todo = nxt
    region = topo.nodes[router].region
    order = {h: i for i, h in enumerate(topo.nodes)}
    reachable = [h for h in dist if h != router] or [router]
    return max(reachable, key=lambda h: (dist[h], topo.nodes[h].region != region, -order[h]))


def _check_frr_snmp() -> None:
    """The rendered daemons file loads FRR's SNMP module; without it zebra and isisd would not start."""
    if next(Path("/usr/lib").glob("*/frr/modules/isisd_snmp.so"), None) is None:
        raise EgovError.one("/usr/lib/*/frr/modules/isisd_snmp.so", "", "FRR's SNMP module is not installed (the "
                            "rendered daemons file loads it with -M snmp)",
                            "apt-get install frr-snmp (./bootstrap.sh installs it)")


def up(plan: Plan, bare: bool = False, workers: int = 4, progress: Progress | None = None,
       trap_port: int = TRAP_PORT, vantage: dict[str, str] | None = None) -> LabState:
    """Build the lab for ``plan``; an existing or half-built lab is removed first.

    ``vantage`` overrides, per hosted service, the router its probes start from (default: ``vantage_for``).
    """
    require_root()
    topo = plan.topology
    _check_frr_snmp()
    vantage = _checked_vantage(plan, vantage)
    _check_no_mgmt_vrf(plan)
    old = LabState.load()
    if old is not None:
        down(old)
    state = _new_state(plan, bare, trap_port)
    step = progress or (lambda _what, _i, _n: None)
    lab_secrets = _write_lab_secrets(plan, Path(state.root))
    _make_ssh_keys(state)
    _make_users(plan, state)
    # render every router (in memory) before touching the host
    renderer = Renderer(plan, lab_secrets)
    files = {n.hostname: renderer.render_node(n) for n in topo.nodes.values()}
    mgmt = {h: mgmt_settings(f, h) for h, f in files.items()}
    hub4, hub6 = _make_hub(plan)
    for i, node in enumerate(topo.nodes.values(), start=1):
        _make_router(state, node, i, *mgmt[node.hostname])
        step("namespaces", i, len(topo.nodes))
    _make_links(state, topo, plan.loaded.profile.lab.bandwidth_divisor, step)
    for k, lan in enumerate(topo.services, start=1):
        _make_service(state, lan, PROBE_BASE + k, vantage.get(lan.service) or vantage_for(topo, lan.node))
        step("services", k, len(topo.services))
    users = users_for(plan)
    for node in topo.nodes.values():
        _write_router_files(state, node.hostname, files[node.hostname], bare, users)
    _start_daemons(state, list(topo.nodes), workers, step)
    _start_forwarder(state, [a.split("/")[0] for a in (hub4, hub6)], _probe_sources(state, topo))
    state.phase = "up"
    state.save()
    return state


def _checked_vantage(plan: Plan, vantage: dict[str, str] | None) -> dict[str, str]:
    """The --vantage overrides, each naming a hosted service and a router of the plan: refused before
    anything on the host is touched."""
    topo = plan.topology
    vantage = dict(vantage or {})
    for name, router in vantage.items():
        if name not in {v.service for v in topo.services}:
            raise EgovError.one("egov lab up", "--vantage", f"{name} is not a hosted service of the plan",
                                "name one of hosted_services")
        if router not in topo.nodes:
            raise EgovError.one("egov lab up", "--vantage", f"{router} is not a router of the plan",
                                "see `egov plan show --profile lab`")
    return vantage


def _check_no_mgmt_vrf(plan: Plan) -> None:
    """The lab kernel has no VRF support, so a plan with management in a VRF cannot be built here."""
    prof = plan.loaded.profile
    if prof.pools.mgmt.vrf is not None:
        raise EgovError.one(plan.loaded.where("pools.mgmt.vrf"), "pools.mgmt.vrf",
                            f"the plan puts management in VRF {prof.pools.mgmt.vrf}, and the lab kernel has no "
                            "VRF support", "set pools.mgmt.vrf: null in the lab profile (management shares "
                            "the main table)")


def _new_state(plan: Plan, bare: bool, trap_port: int) -> LabState:
    """A fresh run folder (traversable by the daemons' users) and the state file, saved at once: from
    here on everything made is recorded as it is made, so `down` can remove a half-built lab."""
    prof = plan.loaded.profile
    root = RUN_DIR / prof.name
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True, mode=0o755)
    os.chmod(RUN_DIR, 0o755)
    os.chmod(RUN_DIR.parent, 0o755)
    state = LabState(profile=prof.name, profile_path=str(plan.loaded.path.resolve()), root=str(root), hub=HUB,
                     bare=bare, created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                     trap_port=trap_port)
    state.save()
    return state


def _write_lab_secrets(plan: Plan, root: Path) -> Secrets:
    """Secrets and keys of this lab only (never in the repo), readable by root alone: the SNMP keys the
    routers are rendered with, and the key of the user that shortens snmpd's ifTable cache."""
    lab_secrets = _lab_secrets()
    cache_key = pysecrets.token_hex(12)
    write_atomic(root / "secrets.json", json.dumps({"snmp_auth_key": lab_secrets.snmp_auth_key,
                                                    "snmp_priv_key": lab_secrets.snmp_priv_key,
                                                    "snmp_user": plan.loaded.profile.services.snmp.user,
                                                    "lab_cache_user": LAB_CACHE_USER,
                                                    "lab_cache_key": cache_key}), mode=0o600)
    write_atomic(root / "snmpd-lab.conf", LAB_SNMPD.format(user=LAB_CACHE_USER, key=cache_key), mode=0o600)
    return lab_secrets


def _make_ssh_keys(state: LabState) -> None:
    """The operator's login key (authorized on every router) and the one host key all routers share."""
    ssh_dir = Path(state.root) / "ssh"
    ssh_dir.mkdir(mode=0o755)
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "egov-lab", "-f", str(state.ssh_key)])
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "egov-lab-host", "-f", str(ssh_dir / "host_ed25519")])
    shutil.copy(ssh_dir / "id_ed25519.pub", ssh_dir / "authorized_keys")
    os.chmod(ssh_dir / "authorized_keys", 0o644)


def _make_users(plan: Plan, state: LabState) -> None:
    """The host users the routers' sshd logs in (vtysh, and file transfer), and sshd's privilege
    separation folder; each recorded when made, so `down` removes only what the lab added."""
    root = Path(state.root)
    cli_user, sh_user = users_for(plan)
    _ensure_user(state, cli_user, str(_frrsh(root)), root / "home" / cli_user)
    _ensure_user(state, sh_user, "/bin/bash", root / "home" / sh_user)
    if not Path("/run/sshd").exists():
        Path("/run/sshd").mkdir(mode=0o755)
        state.made_run_sshd = True


def _make_hub(plan: Plan) -> tuple[str, str]:
    """The management hub: a namespace with one bridge holding the plan's hub addresses; its
    (IPv4, IPv6) interface addresses."""
    hub4, hub6 = _hub_addresses(plan)
    run(["ip", "netns", "add", HUB])
    run(["ip", "-n", HUB, "link", "set", "lo", "up"])
    run(["ip", "-n", HUB, "link", "add", "br0", "type", "bridge"])
    run(["ip", "-n", HUB, "link", "set", "br0", "up"])
    run(["ip", "-n", HUB, "addr", "add", hub4, "dev", "br0"])
    run(["ip", "-n", HUB, "-6", "addr", "add", hub6, "dev", "br0", "nodad"])
    return hub4, hub6


def _make_router(state: LabState, node: Node, i: int, addresses: list[str], gateways: list[str]) -> None:
    """Router ``i``'s namespace, with its own UTS namespace (FRR takes the hostname from uname), its
    sysctls (forwarding, no rp_filter), and mgmt0 on the hub's bridge, addressed as its rendered
    mgmt.network says; recorded in the state before the namespace is made."""
    host = node.hostname
    rdir = Path(state.root) / "r" / host
    (rdir / "frr").mkdir(parents=True)
    uts = rdir / "uts"
    uts.touch()
    rs = RouterState(ns=host, uts=str(uts), dir=str(rdir), index=i, ssh_port=SSH_BASE + i,
                     snmp_port=SNMP_BASE + i, mgmt4=str(node.mgmt4), mgmt6=str(node.mgmt6), hub_if=f"mg{i}")
    state.routers[host] = rs
    state.save()
    run(["ip", "netns", "add", host])
    run(["unshare", f"--uts={uts}", "hostname", host])
    run(["ip", "-n", host, "link", "set", "lo", "up"])
    run(["ip", "netns", "exec", host, "sysctl", "-qw", *SYSCTLS])
    run(["ip", "link", "add", "mgmt0", "netns", host, "type", "veth", "peer", "name", rs.hub_if, "netns", HUB])
    run(["ip", "-n", HUB, "link", "set", rs.hub_if, "master", "br0", "up"])
    run(["ip", "-n", host, "link", "set", "mgmt0", "up"])
    # management exactly as the rendered systemd-networkd file says (networkd itself does not run here)
    for addr in addresses:
        run(["ip", "-n", host, "addr", "add", addr, "dev", "mgmt0", *(["nodad"] if ":" in addr else [])])
    for gw in gateways:
        run(["ip", "-n", host, *(["-6"] if ":" in gw else []), "route", "add", "default", "via", gw,
             "dev", "mgmt0"])


def _make_links(state: LabState, topo: Topology, divisor: int, step: Progress) -> None:
    """Each plan link as a veth pair between its routers' namespaces, both ends shaped with tbf to the
    link's bandwidth divided by the lab divisor (at least 8 kbit/s)."""
    for j, link in enumerate(topo.links, start=1):
        a_if = next(x.name for x in topo.nodes[link.a].interfaces if x.link == link.key)
        b_if = next(x.name for x in topo.nodes[link.b].interfaces if x.link == link.key)
        rate = max(8000, link.bandwidth_bps // divisor)
        run(["ip", "link", "add", a_if, "netns", link.a, "type", "veth", "peer", "name", b_if, "netns", link.b])
        state.links.append(LinkState(key=link.key, a=link.a, a_if=a_if, b=link.b, b_if=b_if, rate_bit=rate,
                                     bandwidth_bps=link.bandwidth_bps))
        for ns, ifname in ((link.a, a_if), (link.b, b_if)):
            run(["ip", "-n", ns, "link", "set", ifname, "up"])
            run(["ip", "netns", "exec", ns, "tc", "qdisc", "replace", "dev", ifname, "root", *_tbf(rate)])
        step("links", j, len(topo.links))
    state.save()


def _write_router_files(state: LabState, host: str, rendered: dict[str, str], bare: bool,
                        users: tuple[str, str]) -> None:
    """The router's rendered configuration where its daemons read it: FRR's, sshd's and snmpd's."""
    rdir = Path(state.routers[host].dir)
    _write_frr_files(rdir, host, rendered, bare)
    _write_sshd_files(rdir, Path(state.root) / "ssh", rendered[f"{host}.d/sshd_config"], users)
    _write_snmp_files(rdir, host, rendered)


def _write_frr_files(rdir: Path, host: str, rendered: dict[str, str], bare: bool) -> None:
    """frr.conf (or a bare one), daemons and vtysh.conf, owned by frr, and /etc/frr/<host> pointing at
    them (frrinit.sh and vtysh -N look there)."""
    fdir = rdir / "frr"
    (fdir / "frr.conf").write_text(BARE_FRR.format(host=host) if bare else rendered[f"{host}.cfg"])
    (fdir / "daemons").write_text(rendered[f"{host}.d/daemons"])
    (fdir / "vtysh.conf").write_text(rendered[f"{host}.d/vtysh.conf"])
    subprocess.run(["chown", "-R", "frr:frr", str(fdir)], check=True)
    os.chmod(fdir, 0o770)
    for f in fdir.iterdir():
        os.chmod(f, 0o660)
    link_path = Path("/etc/frr") / host
    if link_path.is_symlink() or link_path.exists():
        link_path.unlink()
    link_path.symlink_to(fdir)


def _write_sshd_files(rdir: Path, ssh_dir: Path, rendered_sshd: str, users: tuple[str, str]) -> None:
    """sshd_config: the lab's overrides (host key, pid file, the lab's keys and users) first, since sshd
    keeps the first value it reads, then the rendered config."""
    cli_user, sh_user = users
    (rdir / "sshd_config").write_text(
        f"# lab overrides first (sshd keeps the first value it reads), then the rendered config\n"
        f"HostKey {ssh_dir / 'host_ed25519'}\nPidFile {rdir / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {ssh_dir / 'authorized_keys'}\nStrictModes no\nUsePAM no\n"
        f"AllowUsers {cli_user} {sh_user}\nInclude {rdir / 'sshd_config.rendered'}\n")
    (rdir / "sshd_config.rendered").write_text(rendered_sshd)


def _write_snmp_files(rdir: Path, host: str, rendered: dict[str, str]) -> None:
    """snmpd's rendered config and persistent file, and FRR's own net-snmp settings."""
    (rdir / "snmpd.conf").write_text(rendered[f"{host}.d/snmpd.conf"])
    os.chmod(rdir / "snmpd.conf", 0o600)
    snmp_dir = rdir / "snmp"
    snmp_dir.mkdir(exist_ok=True)
    # snmpd's persistent file (engineBoots, ...), read after the rendered file: as on a device,
    # engineBoots counts restarts, and SNMPv3 receivers can tell a rebooted agent from a replay
    (snmp_dir / "snmpd.conf").touch(mode=0o600)
    for p in (snmp_dir, snmp_dir / "snmpd.conf"):
        shutil.chown(p, "Debian-snmp", "Debian-snmp")
    # FRR's own net-snmp settings (/etc/snmp/frr.conf on a device), found through SNMPCONFPATH
    frr_snmp = rdir / "frr-snmp"
    frr_snmp.mkdir(exist_ok=True)
    (frr_snmp / "frr.conf").write_text(rendered[f"{host}.d/frr-snmp.conf"])
    subprocess.run(["chown", "-R", "frr:frr", str(frr_snmp)], check=True)


def _start_daemons(state: LabState, hosts: list[str], workers: int, step: Progress) -> None:
    """Every router's daemons, ``workers`` routers at a time; the hosted services start meanwhile
    (a Python server takes a moment to listen) and are awaited once the routers are up."""
    done = [0]

    def start(host: str) -> None:
        start_router_daemons(state, host)
        done[0] += 1
        step("daemons", done[0], len(hosts))

    spawned = {name: _spawn_service(state, name) for name in state.services}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for fut in [pool.submit(start, h) for h in hosts]:
            fut.result()
    for name, proc in spawned.items():
        _await_service(state, name, proc)


def _probe_sources(state: LabState, topo: Topology) -> dict[str, str | None]:
    """Per hosted service, the address its probes leave the vantage router from: the loopback, so the
    reply comes back whichever uplink is up."""
    return {name: _ip(topo.nodes[sv.vantage].loopback4 if sv.address4 else topo.nodes[sv.vantage].loopback6)
            for name, sv in state.services.items()}


def udp_port_bound(port: int) -> bool:
    """Whether a socket on this host (this network namespace) already receives on 127.0.0.1 UDP ``port``."""
    for table, local in (("udp", {"0100007F", "00000000"}), ("udp6", {"0" * 32, "0" * 24 + "0100007F"})):
        try:
            rows = [line.split() for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]]
        except OSError:
            continue
        if any(r[1] in {f"{a}:{port:04X}" for a in local} for r in rows):
            return True
    return False


def trap_targets_on_hub(plan: Plan) -> list[str]:
    """The plan's trap targets that are the hub's addresses: where the lab's routers' traps arrive."""
    hub = {a.split("/")[0] for a in _hub_addresses(plan)}
    return [str(t) for t in plan.loaded.profile.services.snmp.trap_targets if str(t) in hub]


def _make_service(state: LabState, lan: ServiceLan, probe_port: int, vantage: str) -> None:
    """Namespace svc-<name> joined to its router by a veth: the router's end is the plan's service
    interface (FRR addresses it, as the rendered config says), the host's end is eth0."""
    ns = f"svc-{lan.service}"
    sv = ServiceState(ns=ns, router=lan.node, interface=lan.name, kind=lan.kind, path=lan.path,
                      address4=lan.address4, address6=lan.address6, port=lan.service_port, probe_port=probe_port,
                      vantage=vantage)
    state.services[lan.service] = sv
    state.save()
    run(["ip", "netns", "add", ns])
    run(["ip", "-n", ns, "link", "set", "lo", "up"])
    run(["ip", "link", "add", lan.name, "netns", lan.node, "type", "veth", "peer", "name", "eth0", "netns", ns])
    run(["ip", "-n", lan.node, "link", "set", lan.name, "up"])
    run(["ip", "-n", ns, "link", "set", "eth0", "up"])
    if lan.ipv4 is not None:
        run(["ip", "-n", ns, "addr", "add", f"{lan.address4}/{lan.ipv4.network.prefixlen}", "dev", "eth0"])
        run(["ip", "-n", ns, "route", "add", "default", "via", str(lan.ipv4.ip), "dev", "eth0"])
    if lan.ipv6 is not None:
        run(["ip", "-n", ns, "-6", "addr", "add", f"{lan.address6}/{lan.ipv6.network.prefixlen}", "dev", "eth0",
             "nodad"])
        run(["ip", "-n", ns, "-6", "route", "add", "default", "via", str(lan.ipv6.ip), "dev", "eth0"])


def service_listening(pid: int | None, port: int) -> bool:
    """Whether process ``pid`` has a TCP socket listening on ``port`` (read from its own namespace's /proc)."""
    if not pid or not pid_alive(pid):
        return False
    for table in ("tcp6", "tcp"):
        try:
            rows = [line.split() for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]]
        except OSError:
            continue
        if any(r[1].endswith(f":{port:04X}") and r[3] == "0A" for r in rows):  # 0A: LISTEN
            return True
    return False


def _spawn_service(state: LabState, name: str) -> subprocess.Popen[bytes]:
    sv = state.services[name]
    with open(Path(state.root) / f"svc-{name}.log", "a") as log:
        proc = subprocess.Popen(["ip", "netns", "exec", sv.ns, sys.executable, "-m", "egov.lab.service", "--name",
                                 name, "--kind", sv.kind, "--port", str(sv.port), "--path", sv.path],
                                stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    sv.pid = proc.pid  # `ip netns exec` execs the server: same pid
    state.save()
    return proc


def _await_service(state: LabState, name: str, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    sv = state.services[name]
    deadline = time.monotonic() + timeout
    while not service_listening(proc.pid, sv.port):
        if proc.poll() is not None or time.monotonic() > deadline:
            last = (Path(state.root) / f"svc-{name}.log").read_text().strip().splitlines()[-1:] or ["no output"]
            raise EgovError.one(f"service {name}", "", f"did not start listening on port {sv.port}: {last[0]}",
                                f"see {Path(state.root) / f'svc-{name}.log'}")
        time.sleep(0.05)


def start_service(state: LabState, name: str) -> int:
    """Start a hosted service's server in its namespace (unless it runs); its pid, once it listens."""
    sv = state.services[name]
    if sv.pid and pid_alive(sv.pid):
        return sv.pid
    proc = _spawn_service(state, name)
    _await_service(state, name, proc)
    return proc.pid


def stop_service(state: LabState, name: str, grace: float = 3.0) -> None:
    """Stop a hosted service's server (SIGTERM, SIGKILL after ``grace`` seconds)."""
    sv = state.services[name]
    pid = sv.pid
    if pid and pid_alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        _kill(pid, signal.SIGKILL)
    sv.pid = None
    state.save()


def mgmt_settings(rendered: dict[str, str], host: str) -> tuple[list[str], list[str]]:
    """Addresses and gateways of the router's rendered ``mgmt.network`` (systemd-networkd syntax)."""
    text = rendered.get(f"{host}.d/mgmt.network", "")
    values: dict[str, list[str]] = {"Address": [], "Gateway": []}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() in values:
            values[key.strip()].append(value.strip())
    if not values["Address"]:
        raise EgovError.one(f"{host}.d/mgmt.network", "pools.mgmt", f"{host} has no management address",
                            "give pools.mgmt.ipv4 and ipv6 prefixes")
    return values["Address"], values["Gateway"]


def start_router_daemons(state: LabState, host: str) -> None:
    """snmpd, FRR (through its own frrinit.sh and watchfrr), sshd and lldpd inside the router; skips what runs.

    snmpd goes first: it is the AgentX master FRR's zebra and isisd register with at start (a subagent
    that finds no master retries only every 15 s). snmpd reads the rendered file, then its persistent
    file, so engineBoots counts restarts as on a device.
    """
    rs = state.routers[host]
    rdir = Path(rs.dir)
    if not pid_alive(read_pid(str(rdir / "snmpd.pid")) or 0):
        lab_conf = Path(state.root) / "snmpd-lab.conf"  # absent in a lab built by an older egov
        confs = [rdir / "snmpd.conf", *([lab_conf] if lab_conf.exists() else []), rdir / "snmp" / "snmpd.conf"]
        run(in_router(host, rs.uts, ["/usr/sbin/snmpd", "-C", "-c", ",".join(map(str, confs)), "-p",
                                     str(rdir / "snmpd.pid"), "-Lf", str(rdir / "snmpd.log"), "-u", "Debian-snmp",
                                     "-g", "Debian-snmp", "-I", "-smux"]),
            env={"MIBS": "", "SNMP_PERSISTENT_DIR": str(rdir / "snmp")})
        if lab_conf.exists():
            _shorten_iftable_cache(state, host)
    if not pid_alive(read_pid(f"/var/run/frr/{host}/watchfrr.pid") or 0):
        run(in_router(host, rs.uts, ["/usr/lib/frr/frrinit.sh", "start", host]), timeout=60,
            env={"SNMPCONFPATH": str(rdir / "frr-snmp"), "SNMP_PERSISTENT_DIR": str(rdir / "frr-snmp"), "MIBS": ""})
    if not pid_alive(read_pid(str(rdir / "sshd.pid")) or 0):
        run(in_router(host, rs.uts, ["/usr/sbin/sshd", "-f", str(rdir / "sshd_config"), "-E",
                                     str(rdir / "sshd.log")]))
    _start_lldpd(rdir, host, rs.uts)


#: LLDP every 5 s instead of 30, so neighbours show soon after `lab up` (the NOC getter get_lldp_neighbors)
LLDPD_CONF = "configure lldp tx-interval 5\n"


def _start_lldpd(rdir: Path, host: str, uts: str) -> None:
    """lldpd on the router's point-to-point ports, its socket in the router's folder (lldpcli -u);
    skipped when lldpd is not installed. It stays in the foreground: its pid is ours to record."""
    if shutil.which("lldpd") is None or pid_alive(read_pid(str(rdir / "lldpd.pid")) or 0):
        return
    (rdir / "lldpd.conf").write_text(LLDPD_CONF)
    sock = rdir / "lldpd.socket"
    sock.unlink(missing_ok=True)
    with open(rdir / "lldpd.log", "w") as log:  # lldpd keeps its own descriptor
        proc = subprocess.Popen(in_router(host, uts, ["lldpd", "-d", "-u", str(sock), "-I", "eth*",
                                                      "-O", str(rdir / "lldpd.conf")]),
                                stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    (rdir / "lldpd.pid").write_text(f"{proc.pid}\n")


def _shorten_iftable_cache(state: LabState, host: str) -> None:
    """ifTable cache 3 s -> 1 s in this router's snmpd (see LAB_SNMPD): link traps within about a second."""
    rs = state.routers[host]
    key = state.secrets()["lab_cache_key"]
    run(in_router(host, rs.uts, ["snmpset", "-v3", "-l", "authPriv", "-u", LAB_CACHE_USER, "-a", "SHA-256", "-A", key,
                                 "-x", "AES", "-X", key, "-t", "2", "-r", "2", f"udp:{rs.mgmt4.split('/')[0]}:161",
                                 IFTABLE_CACHE_TIMEOUT_OID, "i", "1"]),
        env={"MIBS": "", "SNMP_PERSISTENT_DIR": str(Path(rs.dir) / "snmp-client")})


def _ip(iface: IPv4Interface | IPv6Interface | None) -> str | None:
    return str(iface.ip) if iface is not None else None


def _start_forwarder(state: LabState, hub_ips: list[str], sources: dict[str, str | None]) -> None:
    spec: list[dict[str, object]] = []
    for rs in state.routers.values():
        ip4 = rs.mgmt4.split("/")[0]
        spec.append({"proto": "tcp", "port": rs.ssh_port, "to": [ip4, 22]})
        spec.append({"proto": "udp", "port": rs.snmp_port, "to": [ip4, 161]})
    for ip in hub_ips:
        spec.append({"proto": "trap", "listen": [ip, 162], "to": ["127.0.0.1", state.trap_port]})
    for name, sv in state.services.items():
        spec.append({"proto": "probe", "port": sv.probe_port, "to": [sv.address4 or sv.address6, sv.port],
                     "netns": f"/run/netns/{sv.vantage}", "source": sources.get(name)})
    root = Path(state.root)
    (root / "forward.json").write_text(json.dumps(spec))
    ready = root / "forward.ready"
    ready.unlink(missing_ok=True)
    # the forwarder writes to its own copy of the log descriptor; ours is closed as soon as it runs
    with open(root / "forward.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "egov.lab.forward", str(root / "forward.json"),
                                 f"/run/netns/{state.hub}"], stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=dict(os.environ, EGOV_FORWARD_READY=str(ready)))
    state.forwarder_pid = proc.pid
    state.save()
    deadline = time.monotonic() + 10
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            first = (root / "forward.log").read_text().strip().splitlines()[-1:] or ["no output"]
            raise EgovError.one("egov.lab.forward", "", f"forwarder did not start: {first[0]}",
                                f"free the 127.0.0.1 ports {SSH_BASE + 1}+, {SNMP_BASE + 1}+ and {PROBE_BASE + 1}+, "
                                "then `egov lab up` again")
        time.sleep(0.05)


def _kill(pid: int | None, sig: int = signal.SIGTERM) -> None:
    if pid and pid_alive(pid):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def down(state: LabState | None = None, progress: Progress | None = None) -> int:
    """Remove everything ``state`` records; returns how many routers were removed. Safe to run twice."""
    require_root()
    state = state or LabState.load()
    if state is None:
        return 0
    step = progress or (lambda _what, _i, _n: None)
    _kill(state.forwarder_pid)
    for sv in state.services.values():
        _kill(sv.pid, signal.SIGKILL)
        if Path(f"/run/netns/{sv.ns}").exists():
            for p in run(["ip", "netns", "pids", sv.ns], check=False).stdout.split():
                _kill(int(p), signal.SIGKILL)
            run(["ip", "netns", "del", sv.ns], check=False)
    n = len(state.routers)
    for i, (host, rs) in enumerate(state.routers.items(), start=1):
        if Path(f"/run/netns/{host}").exists():
            # nothing inside needs a graceful exit: the namespace and its routes go away with it
            _kill(read_pid(str(FRR_RUN / host / "watchfrr.pid")), signal.SIGKILL)
            for p in run(["ip", "netns", "pids", host], check=False).stdout.split():
                _kill(int(p), signal.SIGKILL)
            run(["ip", "netns", "del", host], check=False)
        if os.path.ismount(rs.uts):
            run(["umount", rs.uts], check=False)
        link_path = Path("/etc/frr") / host
        if link_path.is_symlink():
            link_path.unlink()
        shutil.rmtree(FRR_RUN / host, ignore_errors=True)
        step("routers", i, n)
    if Path(f"/run/netns/{state.hub}").exists():
        for p in run(["ip", "netns", "pids", state.hub], check=False).stdout.split():
            _kill(int(p), signal.SIGKILL)
        run(["ip", "netns", "del", state.hub], check=False)
    for user in state.users_created:
        run(["userdel", user], check=False)
    if state.made_run_sshd:
        shutil.rmtree("/run/sshd", ignore_errors=True)
    shutil.rmtree(state.root, ignore_errors=True)
    STATE_FILE.unlink(missing_ok=True)
    return n
