#!/usr/bin/env python3
"""Issue 8's attacks on imserver, on loopback, each against a fresh server, while a probe
(two honest users in their own conversation, in a process of their own at nice -10) times
its messages' echoes: everyone else's latency. scripts/attack.sh is the entry point (it
builds the server and raises the descriptor limit); see its header for the options.

Scenarios (every phase is bounded by --phase-limit; sizes are options):
  conv-one  big conversation: K members, one INVITE, then JOINs one at a time (each after
            the previous joiner got its answer), then everyone says GOODBYE at once
  conv-all  the same with every JOIN sent at once
  conv-changes  conv-one with every member in {"conversations":"changes"} mode (issue 8's
            opt-in: a JOIN costs each member one short line, not a map)
  fanout    N users online; one client sends 1024 INVITEs naming all of them (as few lines
            as fit 64 KiB: one each up to about 7,000 users); then the invitees disconnect
            at once
  fanout-chunked  1024 INVITEs of --invite-chunk (999) names each, cycling over the N
            users: the most a server that caps invitees per INVITE lets one client send
  flood     one client pipelines SEND_MESSAGE to its own conversation as fast as its socket
            takes them
  drip      M connections each hold an unterminated line and add one byte per 10 ms: first
            100-byte tails (the control), then ~60 KiB tails
Bulk users register with {"presence":"none"}, so presence broadcasts do not dominate; the
probe's users use the default (full) presence, as a course client does."""
import argparse, json, os, shlex, sys, tempfile
sys.dont_write_bytecode = True  # no __pycache__ beside the scripts
from attack_lib import NOW, Probe, Server, Stalled, Swarm

# The server's default --max-line: an INVITE naming more users than fit is cut into several.
MAX_LINE = 65536
# How long a drip window may run: a 60 KiB tail plus 100 bytes/s must stay under MAX_LINE.
MAX_DRIP_S = 20


def names(n, prefix="u"):
    return [f"{prefix}{i}" for i in range(1, n + 1)]


def invite_lines(invitees, per_line=None, max_line=MAX_LINE):
    """INVITE lines naming every invitee, each with at most per_line names (None: no cap)
    and within max_line bytes with its newline."""
    lines, cur, size = [], [], len("INVITE []")
    for name in invitees:
        if cur and (size + len(name) + 3 >= max_line or len(cur) == per_line):
            lines.append(cur)
            cur, size = [], len("INVITE []")
        size += len(name) + 3
        cur.append(name)
    lines.append(cur)
    return ["INVITE [" + ",".join(f'"{n}"' for n in chunk) + "]" for chunk in lines]


def conv_of(line):
    """The conversation id of an INVITATION line."""
    return int(line[len(b"INVITATION ["):].split(b",")[0])


def members_in(line):
    """Members listed in a CONVERSATIONS line of (at most) one conversation, or a MEMBERS line."""
    return line.count(b'","') + 1 if b'["' in line else 0


class Run:
    """One scenario against a fresh server: the probe runs throughout; the block of lines
    the scenario says is printed at the end, with the probe's phases and the server's exit.
    A phase that overruns its limit, or a refusal that leaves nothing to measure, ends the
    scenario early (said in its block) and the script goes on."""

    def __init__(self, opts, title):
        self.opts, self.title, self.out = opts, title, []

    def __enter__(self):
        o = self.opts
        self.load = os.getloadavg()[0]  # the machine may be shared: say how busy it was
        self.server = Server(o.server, o.server_args, os.path.join(o.logs, f"{o.key}.log"), o.server_cpu)
        self.probe = Probe(self.server.port, o.probe_interval_ms / 1000)
        self.swarm = Swarm(self.server.port, self.server.alive)
        return self

    def say(self, text):
        self.out.append("  " + text)

    def cpu(self):
        return self.server.cpu_s()

    def rss(self):
        return self.server.mem_mb("VmRSS")

    def __exit__(self, kind, err, tb):
        if kind is Stalled:
            self.say(f"ENDED EARLY: {err}")
        if kind is None or kind is Stalled:
            self.probe.finish()
            self.out += self.probe.report()
        else:
            self.probe.proc.kill()
        peak = self.server.mem_mb("VmHWM")
        if not self.server.alive():
            self.say(f"SERVER EXITED by itself with status {self.server.proc.returncode} (see its log)")
        took = self.server.stop()
        for key in list(self.swarm.sel.get_map().values()):
            self.swarm.close(key.data)
        stop = "killed after the limit" if took is None else f"{took:.2f} s"
        self.say(f"server: peak RSS (VmHWM) {peak:.1f} MB; exit on SIGTERM {stop}; "
                 f"{self.server.warnings()} WARN lines in its log; machine load {self.load:.1f} at the start")
        print(f"== {self.title}", *self.out, sep="\n", flush=True)
        return kind is Stalled


def received(conns):
    """Bytes and lines these clients have received so far."""
    return sum(c.nbytes for c in conns), sum(c.nlines for c in conns)


def invite_everyone(run, host, guests):
    """The host invites every guest in one INVITE line; returns the conversation and the
    guests that got its INVITATION (a cap on invitees may leave some out)."""
    sw, limit = run.swarm, run.opts.phase_limit
    invites = invite_lines(c.name for c in guests)
    if len(invites) > 1:
        sys.exit(f"{len(guests)} names do not fit one INVITE line; ask for fewer --members")
    sw.send(host, invites[0], "LIST_CONVERSATIONS")  # the answer: the INVITE is handled
    sw.pump(lambda: host.got.get("maps"), limit, "INVITE")
    for conn in guests:  # the answers: each guest's INVITATION, if any, is delivered
        sw.send(conn, "LIST_CONVERSATIONS")
    sw.pump(lambda: all(c.got.get("maps") or c.eof for c in guests), limit, "INVITATIONs")
    conv = host.got.get("conv")
    if conv is None:
        raise Stalled(f"INVITE created no conversation; the inviter got: {host.err}")
    invited = [c for c in guests if c.got.get("conv") == conv]
    for conn in [host] + guests:
        conn.got["maps"] = 0
    run.say(f"invited {len(invited)}/{len(guests)} in one INVITE line"
            f"{'; inviter got: ' + host.err[:100] if host.err else ''}")
    return conv, invited


def big_conversation(o, all_at_once, changes=False):
    """changes: members register with {"conversations":"changes"} and hear MEMBERS on their
    own JOIN, then JOINED or LEFT naming one member, instead of full CONVERSATIONS maps."""
    k = o.members
    how = "every JOIN at once" if all_at_once else "one JOIN at a time"
    mode = ", conversations mode changes" if changes else ""
    with Run(o, f"big conversation, {how}{mode}: {k} members ({k - 1} invitees + inviter)") as run:
        sw, limit = run.swarm, o.phase_limit
        host, *guests = sw.register(["host"] + names(k - 1), "none", "changes" if changes else None)
        everyone = [host] + guests

        def hook(conn, line):  # "maps": answers to a JOIN or LIST_CONVERSATIONS
            if line.startswith(b"INVITATION ["):
                conn.got["conv"] = conv_of(line)
            elif line.startswith(b"CONVERSATIONS ") or line.startswith(b"MEMBERS ["):
                conn.got["maps"] = conn.got.get("maps", 0) + 1
                conn.got["members"] = members_in(line)
            elif line.startswith(b"JOINED ["):
                conn.got["members"] += 1
            elif line.startswith(b"LEFT ["):
                conn.got["members"] -= 1
        for conn in everyone:
            conn.on_line = hook
        rss0 = run.rss()
        conv, invited = invite_everyone(run, host, guests)

        def answered(c):
            return c.got["maps"] or c.err or c.eof

        def live():
            return [c for c in [host] + invited if not c.eof and (c is host or c.got["maps"])]

        def settled():  # every JOIN answered; every member's last map lists every member
            if not all(answered(c) for c in invited):
                return False
            now = live()
            return all(c.got.get("members") == len(now) for c in now)
        run.probe.begin("join")
        got0, cpu0, t0 = received(everyone), run.cpu(), NOW()
        for conn in invited:
            sw.send(conn, f"JOIN [{conv}]")
            if not all_at_once:
                sw.pump(lambda: answered(conn), limit, f"JOIN of {conn.name}")
        sw.pump(settled, limit, "JOINs settling")
        t_join, cpu_join, members, hwm = NOW() - t0, run.cpu() - cpu0, live(), run.server.mem_mb("VmHWM")
        refused = [c.err for c in invited if c.err]
        dropped = sum(1 for c in everyone if c.eof)
        run.probe.end()
        run.say(f"joined {len(members) - 1} ({len(refused)} refused, {dropped} dropped) in {t_join:.2f} s, "
                f"server CPU {cpu_join:.2f} s{'; first refusal: ' + refused[0][:90] if refused else ''}")
        got1 = received(everyone)
        run.probe.begin("leave")
        cpu0, t0 = run.cpu(), NOW()
        for conn in members:
            conn.on_line = None
            sw.send(conn, "GOODBYE")
        sw.pump(lambda: all(c.eof for c in members), limit, "GOODBYEs")
        t_leave, cpu_leave = NOW() - t0, run.cpu() - cpu0
        run.probe.end()
        run.server.wait_idle(limit_s=limit)
        run.say(f"all left in {t_leave:.2f} s, server CPU {cpu_leave:.2f} s")
        run.say(f"server RSS: before {rss0:.1f} MB, peak by the end of the joins {hwm:.1f} MB, "
                f"after all left {run.rss():.1f} MB")
        got2 = received(everyone)
        joins, leave = (got1[0] - got0[0], got1[1] - got0[1]), (got2[0] - got1[0], got2[1] - got1[1])
        run.say(f"clients received: during the joins {joins[0] / 1e6:.1f} MB in {joins[1]} lines "
                f"({joins[0] / max(joins[1], 1):.0f} B each), during the leave {leave[0] / 1e6:.1f} MB "
                f"in {leave[1]} lines")


def fanout(o, per_line):
    n, everyone = o.fanout_users, names(o.fanout_users)
    if per_line is None:
        lines = invite_lines(everyone) * o.invites
        how = f"{o.invites} INVITEs each naming all {n} online users ({len(lines) // o.invites} line each)"
    else:  # full lines of per_line distinct names, cycling over everyone
        per_line = min(per_line, n)
        lines = [invite_lines(everyone[(i * per_line + j) % n] for j in range(per_line))[0]
                 for i in range(o.invites)]
        how = f"{o.invites} INVITEs of {per_line} names each, cycling over {n} online users"
    with Run(o, f"invite fan-out: {how}, then the invitees disconnect") as run:
        sw, limit = run.swarm, o.phase_limit
        users = sw.register(everyone, "none")
        host = sw.register(["host"], "none")[0]
        watcher = sw.register(["watcher"], "changes")[0]  # sees when everyone has gone

        def presence_hook(conn, line):
            if line.startswith(b"PRESENCE "):
                conn.got.update(json.loads(line[len(b"PRESENCE "):]))
        watcher.on_line = presence_hook
        # Until the registrations are broadcast, a user who leaves would be no change at all.
        sw.pump(lambda: all(watcher.got.get(u.name) for u in users), limit, "registrations broadcast")

        def host_hook(conn, line):
            for word in (b"INVITATION", b"ERROR", b"CONVERSATIONS"):
                if line.startswith(word):
                    conn.got[word] = conn.got.get(word, 0) + 1
        host.on_line = host_hook
        lines_before, rss0 = sum(u.nlines for u in users), run.rss()
        run.probe.begin("invite")
        cpu0, t0 = run.cpu(), NOW()
        sw.send(host, *lines)
        sw.send(host, "LIST_CONVERSATIONS")  # its answer: every INVITE has been handled
        sw.pump(lambda: host.got.get(b"CONVERSATIONS") or host.eof, limit, "INVITEs")
        for conn in users:  # their answers: every INVITATION is delivered
            sw.send(conn, "LIST_CONVERSATIONS")
        sw.pump(lambda: all(u.eof or u.last.endswith(b"\nCONVERSATIONS {}\n") for u in users),
                limit, "INVITATIONs")
        t_inv, cpu_inv, rss1 = NOW() - t0, run.cpu() - cpu0, run.rss()
        run.probe.end()
        delivered = sum(u.nlines for u in users) - lines_before - n
        run.say(f"invite: {len(lines)} INVITE lines of up to {max(map(len, lines)) / 1024:.0f} KiB, "
                f"handled in {t_inv:.2f} s; server CPU {cpu_inv:.2f} s; RSS {rss0:.1f} -> {rss1:.1f} MB "
                f"(+{rss1 - rss0:.1f})")
        run.say(f"invite: {host.got.get(b'INVITATION', 0)} conversations created, {delivered} INVITATIONs "
                f"delivered, {host.got.get(b'ERROR', 0)} ERRORs"
                f"{' (first: ' + host.err[:90] + ')' if host.err else ''}")

        run.probe.begin("disconnect")
        cpu0, t0 = run.cpu(), NOW()
        for conn in users:
            sw.close(conn)
        sw.pump(lambda: not any(watcher.got.get(u.name) for u in users), limit, "disconnects")
        t_gone = NOW() - t0
        run.server.wait_idle(limit_s=limit)
        cpu_gone, rss2 = run.cpu() - cpu0, run.rss()
        run.probe.end()
        run.say(f"disconnect: all {n} seen gone after {t_gone:.2f} s (presence comes once a second); "
                f"server CPU {cpu_gone:.2f} s; RSS after {rss2:.1f} MB")


def flood(o):
    secs = o.flood_secs
    with Run(o, f"flood fairness: one client pipelines SEND_MESSAGE to itself for {secs:g} s") as run:
        sw = run.swarm
        flooder = sw.register(["flooder"], "none")[0]

        def hook(conn, line):
            if line.startswith(b"INVITATION ["):
                conn.got["conv"] = conv_of(line)
        flooder.on_line = hook
        sw.send(flooder, "INVITE []")
        sw.pump(lambda: "conv" in flooder.got, o.phase_limit, "INVITE")
        flooder.on_line = None
        line = f'SEND_MESSAGE [{flooder.got["conv"]},"x"]\n'.encode()
        batch = line * 4096
        run.probe.begin("idle")
        end = NOW() + 1
        sw.pump(lambda: NOW() >= end, 5, "idle")
        run.probe.end()
        run.probe.begin("flood")
        echoes0, queued, cpu0, t0 = flooder.nlines, 0, run.cpu(), NOW()
        end = t0 + secs

        def keep_full():
            nonlocal queued
            if len(flooder.out) < len(batch):
                sw.send_raw(flooder, batch)
                queued += 4096
            return NOW() >= end or flooder.eof
        sw.pump(keep_full, secs + 5, "flood")
        took, cpu = NOW() - t0, run.cpu() - cpu0
        run.probe.end()
        echoed = flooder.nlines - echoes0
        written = queued - len(flooder.out) // len(line)
        run.say(f"flooder: {written} lines into its socket, {echoed} echoed = {echoed / took:.0f} lines/s "
                f"accepted{' (dropped by the server)' if flooder.eof else ''}; server CPU {cpu / took * 100:.0f}%")


def drip(o):
    m, secs = o.tails, o.drip_secs
    with Run(o, f"dripping tails: {m} connections each add 1 byte per 10 ms to an unterminated line, "
                f"{secs:g} s per tail size") as run:
        sw = run.swarm
        conns = sw.register(names(m), "none")
        rss0, have = run.rss(), 0
        for tail in (100, o.tail_bytes):
            for conn in conns:
                sw.send_raw(conn, b"x" * (tail - have))
            sw.pump(lambda: not any(c.out for c in conns), o.phase_limit, "tails")
            run.server.wait_idle(limit_s=o.phase_limit)
            label = f"{tail // 1024} KiB tails" if tail >= 1024 else f"{tail} B tails"
            run.probe.begin(label)
            cpu0, t0, sent, tick = run.cpu(), NOW(), 0, NOW()
            while NOW() < t0 + secs:
                if not run.server.alive():
                    raise Stalled("dripping: the server has exited")
                for conn in conns:
                    sw.send_raw(conn, b"x")
                sent += len(conns)
                tick += 0.010
                sw.step(max(0.0, tick - NOW()))
            took, cpu = NOW() - t0, run.cpu() - cpu0
            run.probe.end()
            have = tail + sent // m
            live = sum(1 for c in conns if not c.eof)
            rss = run.rss()
            run.say(f"{label + ':':<14} server CPU {cpu / took * 100:.1f}% of a core; drip {sent / m / took:.0f} B/s "
                    f"per conn (aim 100); RSS {rss:.1f} MB (+{(rss - rss0) * 1024 / m:.1f} KB per conn); "
                    f"{live}/{m} connected")


SCENARIOS = {"conv-one": lambda o: big_conversation(o, False), "conv-all": lambda o: big_conversation(o, True),
             "conv-changes": lambda o: big_conversation(o, False, changes=True),
             "fanout": lambda o: fanout(o, None), "fanout-chunked": lambda o: fanout(o, o.invite_chunk),
             "flood": flood, "drip": drip}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", required=True, help="the imserver binary")
    p.add_argument("--server-args", default="", type=shlex.split, help='extra flags, e.g. "--max-line-rate off"')
    p.add_argument("--big", action="store_true", help="issue 8's sizes: 5000 fan-out users, 2000 tails")
    p.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated: " + ", ".join(SCENARIOS))
    p.add_argument("--members", type=int, default=1000, help="K of the big conversation (inviter included)")
    p.add_argument("--fanout-users", type=int, help="N (default 3000, --big 5000)")
    p.add_argument("--invites", type=int, default=1024, help="rounds of INVITE naming all N")
    p.add_argument("--invite-chunk", type=int, default=999,
                   help="names per INVITE in fanout-chunked (an attacker's answer to a cap on "
                        "invitees per INVITE)")
    p.add_argument("--flood-secs", type=float, default=5)
    p.add_argument("--tails", type=int, help="M dripping connections (default 500, --big 2000)")
    p.add_argument("--tail-bytes", type=int, default=60 * 1024)
    p.add_argument("--drip-secs", type=float, default=5)
    p.add_argument("--probe-interval-ms", type=float, default=20)
    p.add_argument("--phase-limit", type=float, default=180, help="seconds any one phase may take")
    p.add_argument("--logs", help="keep the server logs here (default: a temporary directory)")
    o = p.parse_args()
    o.fanout_users = o.fanout_users or (5000 if o.big else 3000)
    o.tails = o.tails or (2000 if o.big else 500)
    if o.tail_bytes + 200 + 2 * 100 * o.drip_secs >= MAX_LINE or o.drip_secs > MAX_DRIP_S:
        sys.exit("--tail-bytes and --drip-secs would finish the line past 64 KiB")
    unknown = set(o.only.split(",")) - set(SCENARIOS)
    if unknown:
        sys.exit(f"unknown scenarios: {', '.join(sorted(unknown))}")
    # The server on CPU 0 and this driver (and the probe, its child) on CPU 1, when there are two.
    o.server_cpu = 0 if len(os.sched_getaffinity(0)) >= 2 else None
    if o.server_cpu is not None:
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[1:2]))
    print(f"attack: {o.server} {' '.join(o.server_args)}".rstrip() + f"; probe: 2 users, a message per "
          f"{o.probe_interval_ms:g} ms; bulk users presence none", flush=True)
    with tempfile.TemporaryDirectory(prefix="attack.") as tmp:
        o.logs = o.logs or tmp
        os.makedirs(o.logs, exist_ok=True)
        for key in o.only.split(","):
            o.key = key
            SCENARIOS[key](o)


if __name__ == "__main__":
    main()
