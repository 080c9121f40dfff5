#!/usr/bin/env python3
"""Measures what one pass of imserver's loop owes its users (issue 7's two defects), on loopback.

Starts BIN (an imserver binary) on a free port pinned to core 0, logs to LOG, and measures:
  loop-probe.py flood BIN LOG [SECS]  an unrelated user's round trip while one client pipelines
                                      SEND_MESSAGE (fairness), and the flooder's own rate
  loop-probe.py trace BIN LOG [SECS]  most lines dispatched for one connection in one --trace pass
  loop-probe.py idle  BIN LOG SECS    the prober of `flood` alone (baseline)
  loop-probe.py slow  BIN LOG         a slow reader dropped in a flush: carol's last write ->
                                      alice's CONVERSATIONS update (capped at 15 s)
  loop-probe.py probe PORT SECS       (internal) the prober process of `flood`
Run it on the other core: `taskset -c 1 python3 scripts/loop-probe.py flood target/release/imserver /tmp/f.log 10`.
Every run stops by itself (the server is killed at the end)."""
import json, os, re, socket, statistics, subprocess, sys, threading, time
PC = time.perf_counter

def start_server(binary, log, *args):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    # No line rate: the flooder must flood, or there is no fairness to measure.
    proc = subprocess.Popen(["taskset", "-c", "0", binary, "--listen", f"127.0.0.1:{port}", "--http", "off",
                             "--max-line-rate", "off", *args],
                            stdout=open(log, "w"), stderr=subprocess.STDOUT)
    for _ in range(200):
        try: socket.create_connection(("127.0.0.1", port)).close(); return proc, port
        except OSError: time.sleep(0.025)
    proc.kill(); sys.exit("server did not start")

class Client:
    def __init__(self, port, name, rcvbuf=None):
        self.sock = socket.socket()
        if rcvbuf: self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", port)); self.sock.settimeout(20)
        self.rf = self.sock.makefile("rb")
        self.send(f'REGISTER ["{name}"]'); self.until(lambda l: l.startswith("ONLINE_USERS "))
    def send(self, line): self.sock.sendall(line.encode() + b"\n")
    def line(self): return self.rf.readline().decode().rstrip("\n")
    def until(self, pred):
        while True:
            l = self.line()
            if not l: raise EOFError("closed")
            if pred(l): return l

def stats(rtts):
    if not rtts: return "no samples"
    s = sorted(rtts); p99 = s[min(len(s) - 1, int(0.99 * len(s)))]
    return f"n={len(s)} median={statistics.median(s):.2f} p99={p99:.2f} max={s[-1]:.2f} ms"

def probe(port, secs):  # own process: registers, own conversation 2, one SEND_MESSAGE every 10 ms
    c = Client(port, "prober"); c.send("INVITE []")
    conv = c.until(lambda l: l.startswith("INVITATION ["))[12:].split(",")[0]
    print("READY", flush=True); sys.stdin.readline(); t0 = PC(); out = []; k = 0
    while PC() - t0 < secs:
        k += 1; time.sleep(max(0.0, t0 + k * 0.010 - PC())); ts = PC()
        c.send(f'SEND_MESSAGE [{conv},"p"]')
        c.until(lambda l: l.startswith(f"MESSAGE [{conv},"))
        out.append((ts - t0, (PC() - ts) * 1000))
    print(json.dumps(out), flush=True)

def flood_client(port, secs, marks=()):
    """Flooder: one thread pipelines SEND_MESSAGE [1,"x"], another reads and counts echoes."""
    f = Client(port, "flooder"); f.send("INVITE []"); f.until(lambda l: l == 'INVITATION [1,"flooder"]')
    batch = b'SEND_MESSAGE [1,"x"]\n' * 20000; stop = threading.Event(); got = [0]; seen = {}
    def reader():
        buf = bytearray(1 << 20)  # the socket's 20 s timeout is shared with the writer
        while True:
            try: n = f.sock.recv_into(buf)
            except OSError: return
            if n == 0: return
            got[0] += buf.count(b"\n", 0, n)
    def writer():
        while not stop.is_set():
            try: f.sock.sendall(batch)
            except (socket.timeout, OSError): return
    def run(t0):
        th = [threading.Thread(target=reader, daemon=True), threading.Thread(target=writer, daemon=True)]
        for t in th: t.start()
        for m in sorted(set(marks) | {secs}):
            time.sleep(max(0, t0 + m - PC())); seen[m] = got[0]
        stop.set(); return seen
    return run

def flood(binary, log, secs=20.0, flooding=True):
    proc, port = start_server(binary, log)
    try:
        run = flood_client(port, secs, marks=(5, secs - 5))  # first: its conversation is 1
        pr = subprocess.Popen([sys.executable, __file__, "probe", str(port), str(secs)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert pr.stdout.readline().strip() == "READY"
        pr.stdin.write("GO\n"); pr.stdin.flush()
        seen = run(PC()) if flooding else (time.sleep(secs), {5: 0, secs - 5: 0, secs: 0})[1]
        samples = json.loads(pr.communicate(timeout=30)[0])
    finally: proc.kill(); proc.wait()
    print(f"probe RTT first 5 s: {stats([r for t, r in samples if t < 5])}")
    print(f"probe RTT last 5 s:  {stats([r for t, r in samples if t >= secs - 5])}")
    print(f"probe RTT all:       {stats([r for t, r in samples])}")
    print(f"flooder delivered: {seen[secs] / secs:.0f} msg/s overall, first 5 s {seen[5] / 5:.0f}/s, "
          f"last 5 s {(seen[secs] - seen[secs - 5]) / 5:.0f}/s")

def trace(binary, log, secs=3.0):
    proc, port = start_server(binary, log, "--trace")
    try: flood_client(port, secs)(PC()); time.sleep(0.5)
    finally: proc.kill(); proc.wait()
    passes, dispatch = [], re.compile(r"conn (\d+): dispatch ")
    for line in open(log, errors="replace"):
        if "poll returned" in line: passes.append({})
        elif passes and (m := dispatch.search(line)):
            passes[-1][m[1]] = passes[-1].get(m[1], 0) + 1
    tops = [max(p.values()) for p in passes if p]
    print(f"passes={len(passes)} passes with dispatches={len(tops)} dispatched={sum(map(sum, (p.values() for p in passes)))}"
          f" most in one pass for one conn={max(tops, default=0)} passes over 64={sum(t > 64 for t in tops)}")

def slow(binary, log):
    text = "x" * ((2 * 4194304 + (1 << 20)) // 60)  # ~154 KB: 60 lines overflow every kernel buffer
    proc, port = start_server(binary, log, "--max-output", "16384", "--max-line", str(len(text) + 64))
    try:
        alice = Client(port, "alice"); carol = Client(port, "carol", rcvbuf=4096)
        alice.send('INVITE ["carol"]'); carol.until(lambda l: l.startswith("INVITATION [1,"))
        carol.send("JOIN [1]\nINVITE []"); carol.until(lambda l: l == 'INVITATION [2,"carol"]')
        joined = online = False
        while not (joined and online):
            l = alice.line(); joined |= l == 'CONVERSATIONS {"1":["alice","carol"]}'
            online |= l.startswith("ONLINE_USERS ") and '"carol"' in l
        heard = {}; alice.sock.settimeout(60)
        def listen():
            try:
                while (l := alice.line()): heard.setdefault(l, PC())
            except OSError: pass
        threading.Thread(target=listen, daemon=True).start()
        flood_line = f'SEND_MESSAGE [2,"{text}"]\n'.encode(); ok = 0; err = None; t_first = PC()
        for _ in range(60):
            try: carol.sock.sendall(flood_line); ok += 1
            except OSError as e: err = e; break
        t_last = PC()
        want = ('CONVERSATIONS {"1":["alice"]}', 'ONLINE_USERS {"alice":"available"}')
        while PC() < t_last + 15 and not all(w in heard for w in want): time.sleep(0.001)
    finally: proc.kill(); proc.wait()
    conv = heard.get('CONVERSATIONS {"1":["alice"]}'); onl = heard.get('ONLINE_USERS {"alice":"available"}')
    rel = lambda t: "not within 15 s" if t is None or t > t_last + 15 else f"{(t - t_last) * 1000:+.1f} ms"
    dropped = [l.strip() for l in open(log) if "carol" in l and "slow reader dropped" in l]
    print(f"carol wrote {ok}/60 lines in {(t_last - t_first) * 1000:.1f} ms, ended by {err!r}")
    print(f"last write -> alice CONVERSATIONS {{1:[alice]}}: {rel(conv)}; -> ONLINE_USERS alice only: {rel(onl)}")
    print(f"log: {dropped[0] if dropped else 'NO slow reader dropped line for carol'}")

if __name__ == "__main__":
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "probe": probe(int(a[0]), float(a[1]))
    elif cmd == "idle": flood(a[0], a[1], float(a[2]), flooding=False)  # prober alone, no flood
    else: {"flood": flood, "trace": trace, "slow": slow}[cmd](a[0], a[1], *map(float, a[2:]))
