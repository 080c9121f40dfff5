"""The machinery of attack.py (stdlib only): the server under test, a swarm of non-blocking
clients on one selector, and the probe, a process of its own that measures everyone else's
latency while the swarm attacks.

Run as a script it is the probe: `attack_lib.py probe PORT INTERVAL_S` (attack.py starts it)."""
import json, os, re, select, selectors, signal, socket, statistics, subprocess, sys, time

# CLOCK_MONOTONIC is one clock for every process, so the probe's samples and the driver's
# phase windows can be compared.
NOW = time.monotonic
TICKS_PER_S = os.sysconf("SC_CLK_TCK")
# How long the server may take to log its listening address.
START_LIMIT_S = 10
# SIGTERM, then this long before SIGKILL (the server's own drain bound is 2 s).
STOP_LIMIT_S = 10
# One recv per ready socket per round: large, so gigabytes drain in few system calls.
RECV_BYTES = 1 << 18
# The tail of a stream kept per connection, to see how the stream ends.
LAST_BYTES = 64
# The probe's niceness: it sleeps almost always, and when its echo arrives it should not
# wait behind the driver, which may be busy draining gigabytes on the same core.
PROBE_NICE = -10
# A probe message still unanswered this long after the stop request counts as lost.
PROBE_STOP_WAIT_S = 60


class Stalled(Exception):
    """A phase did not finish within its time limit, or cannot go on."""


class Server:
    """One imserver on 127.0.0.1:0 (the kernel picks a free port; the log says which)."""

    def __init__(self, binary, args, log_path, cpu=None):
        cmd = [binary, "--listen", "127.0.0.1:0", "--http", "off", *args]
        if cpu is not None:
            cmd = ["taskset", "-c", str(cpu), *cmd]  # taskset execs: the pid is the server's
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        self.port = self._wait_listening()

    def _wait_listening(self):
        end = NOW() + START_LIMIT_S
        while NOW() < end:
            with open(self.log_path, errors="replace") as f:
                m = re.search(r"listening on 127\.0\.0\.1:(\d+)", f.read())
            if m:
                return int(m[1])
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.proc.kill()
        with open(self.log_path, errors="replace") as f:
            sys.exit(f"server did not start: {f.read()[-500:]}")

    def alive(self):
        return self.proc.poll() is None

    def cpu_s(self):
        """utime + stime so far (fields 14 and 15 of /proc/PID/stat; field 2 may hold spaces)."""
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # it has exited and been reaped
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / TICKS_PER_S

    def mem_mb(self, key):
        """VmRSS (resident now) or VmHWM (peak resident) in MB; NaN once it has exited."""
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return float("nan")

    def wait_idle(self, quiet_s=0.3, limit_s=60):
        """Until the server's CPU time stands still for quiet_s (it has finished its work)."""
        last, since, end = self.cpu_s(), NOW(), NOW() + limit_s
        while NOW() < end and self.alive():
            time.sleep(0.05)
            cpu = self.cpu_s()
            if cpu != last:
                last, since = cpu, NOW()
            elif NOW() - since >= quiet_s:
                return
        raise Stalled(f"server still busy after {limit_s} s" if self.alive() else "the server has exited")

    def stop(self):
        """SIGTERM; returns how long the exit took in seconds (None: killed after the limit)."""
        if not self.alive():
            return 0.0
        t0 = NOW()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_LIMIT_S)
            return NOW() - t0
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def warnings(self):
        with open(self.log_path, errors="replace") as f:
            return sum(" WARN " in line for line in f)


class Conn:
    """One client. on_line, when set, sees every complete line (bytes, no newline); when
    None, lines are only counted, which keeps gigabytes cheap to drain."""

    __slots__ = ("sock", "name", "out", "tail", "last", "nbytes", "nlines", "eof",
                 "writing", "on_line", "got", "err")

    def __init__(self, sock, name):
        self.sock, self.name, self.out, self.tail, self.last = sock, name, bytearray(), b"", b""
        self.nbytes = self.nlines = 0
        self.eof = self.writing = False
        self.on_line = None
        self.got = {}  # what a scenario's hook noted (per connection)
        self.err = None  # the first ERROR line received, as text


class Swarm:
    """Many clients on one selector: reads drain everything offered, writes are queued."""

    def __init__(self, port, alive=lambda: True):
        self.port = port
        self.sel = selectors.DefaultSelector()
        self.alive, self.checked = alive, NOW()  # is the server still running?

    def open(self, name):
        sock = socket.create_connection(("127.0.0.1", self.port))
        sock.setblocking(False)
        conn = Conn(sock, name)
        self.sel.register(sock, selectors.EVENT_READ, conn)
        return conn

    def register(self, names, presence, conversations=None, batch=100, limit_s=60):
        """Connects and registers every name with these presence and conversations modes
        (a batch at a time, so the listen queue never overflows); returns the connections
        once each has its ONLINE_USERS."""
        options = {"presence": presence} | ({"conversations": conversations} if conversations else {})
        def hook(conn, line):
            if line.startswith(b"ONLINE_USERS "):
                conn.got["online"] = True
            elif line.startswith(b"ERROR"):
                raise Stalled(f"REGISTER {conn.name} refused: {line.decode(errors='replace')[:100].rstrip()}")
        conns = []
        for i in range(0, len(names), batch):
            group = [self.open(name) for name in names[i:i + batch]]
            for conn in group:
                conn.on_line = hook
                self.send(conn, f'REGISTER {json.dumps([conn.name, "available", options], separators=(",", ":"))}')
            self.pump(lambda: all(c.got.get("online") for c in group), limit_s, "registering")
            for conn in group:
                conn.on_line = None
            conns += group
        return conns

    def send(self, conn, *lines):
        self.send_raw(conn, b"".join(line.encode() + b"\n" for line in lines))

    def send_raw(self, conn, data):
        if conn.eof:
            return
        conn.out += data
        self._flush(conn)

    def close(self, conn):
        if not conn.eof:
            conn.eof = True
            self.sel.unregister(conn.sock)
            conn.sock.close()

    def _flush(self, conn):
        while conn.out:
            try:
                n = conn.sock.send(conn.out)
            except BlockingIOError:
                break
            except OSError:  # reset by the server: it closed the connection
                self.close(conn)
                return
            del conn.out[:n]
        want = bool(conn.out)
        if want != conn.writing:
            conn.writing = want
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if want else 0)
            self.sel.modify(conn.sock, events, conn)

    def _read(self, conn):
        try:
            data = conn.sock.recv(RECV_BYTES)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.close(conn)
            return
        conn.nbytes += len(data)
        conn.nlines += data.count(b"\n")
        conn.last = data[-LAST_BYTES:] if len(data) >= LAST_BYTES else (conn.last + data)[-LAST_BYTES:]
        if conn.on_line is None:
            cut = data.rfind(b"\n")
            conn.tail = data[cut + 1:] if cut >= 0 else conn.tail + data
            return
        lines = (conn.tail + data).split(b"\n")
        conn.tail = lines.pop()
        for line in lines:
            if line.startswith(b"ERROR") and conn.err is None:
                conn.err = line.decode(errors="replace")
            conn.on_line(conn, line)

    def step(self, timeout):
        """One round: reads and writes whatever is ready within timeout seconds."""
        for key, events in self.sel.select(timeout):
            conn = key.data
            if events & selectors.EVENT_READ:
                self._read(conn)
            if events & selectors.EVENT_WRITE and not conn.eof:
                self._flush(conn)

    def pump(self, until, limit_s, what):
        """Steps until until() holds; raises Stalled after limit_s seconds."""
        end = NOW() + limit_s
        while not until():
            now = NOW()
            if now > end:
                raise Stalled(f"{what}: not done after {limit_s:.0f} s")
            if now - self.checked > 0.5:
                self.checked = now
                if not self.alive():
                    raise Stalled(f"{what}: the server has exited")
            self.step(0.01)


def stats(rtts_ms, lost):
    if not rtts_ms:
        return "no samples"
    s = sorted(rtts_ms)
    p99 = s[min(len(s) - 1, int(0.99 * len(s)))]
    worst = f">{s[-1]:.1f} (unanswered)" if lost else f"{s[-1]:.1f}"
    return f"median {statistics.median(s):.2f}  p99 {p99:.2f}  max {worst} ms  (n={len(s)})"


class Probe:
    """The probe process, seen from the driver: phases are windows of the driver's clock;
    each sample belongs to the phase in which it was sent."""

    def __init__(self, port, interval_s):
        self.proc = subprocess.Popen([sys.executable, __file__, "probe", str(port), str(interval_s)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "READY":
            sys.exit("probe did not start")
        self.phases = []
        self.samples = None

    def begin(self, name):
        self.phases.append([name, NOW(), None])

    def end(self):
        self.phases[-1][2] = NOW()

    def finish(self):
        out, _ = self.proc.communicate("STOP\n", timeout=PROBE_STOP_WAIT_S + 30)
        self.samples = json.loads(out)

    def report(self):
        lines = []
        for name, t0, t1 in self.phases:
            window = [s for s in self.samples if t0 <= s[0] < (t1 or float("inf"))]
            lost = any(s[2] for s in window)
            lines.append(f"  probe RTT {name + ':':<16} {stats([s[1] for s in window], lost)}")
        return lines


def probe_main(port, interval_s):
    """Two users in their own conversation; they take turns sending SEND_MESSAGE (the next
    one interval after the last was sent, and not before its echo came back) and time their
    own echo. Turns halve each connection's line rate, which stays under any per-connection
    limit a server may set for people. Prints READY, runs until a line on stdin, then prints
    the samples [send time, RTT ms, lost] as JSON."""
    try:  # the probe shares its core with the driver: let it run as soon as an echo arrives
        os.nice(PROBE_NICE)
    except OSError:
        pass
    swarm = Swarm(port)
    a, b = swarm.register(["probea", "probeb"], presence="full")
    def setup(conn, line):
        if line.startswith(b"INVITATION ["):
            conn.got["conv"] = int(line[12:].split(b",")[0])
        elif line.startswith(b"CONVERSATIONS ") and b'"probeb"' in line:
            conn.got["joined"] = True
    a.on_line = b.on_line = setup
    swarm.send(a, 'INVITE ["probeb"]')
    swarm.pump(lambda: "conv" in b.got, 30, "probe invite")
    conv = b.got["conv"]
    swarm.send(b, f"JOIN [{conv}]")
    swarm.pump(lambda: a.got.get("joined") and b.got.get("joined"), 30, "probe join")
    samples, inflight, turn, next_at, stop_at = [], None, 0, NOW(), None
    def echo(conn, line):
        nonlocal inflight
        if inflight and inflight[0] is conn and line == conn.got["echo"]:
            samples.append((inflight[1], (NOW() - inflight[1]) * 1000, False))
            inflight = None
    for conn in (a, b):
        conn.got["echo"] = f'MESSAGE [{conv},"{conn.name}","p"]'.encode()
        conn.on_line = echo
    print("READY", flush=True)
    while True:
        now = NOW()
        if stop_at is None and select.select([sys.stdin], [], [], 0)[0]:
            stop_at = now
        if stop_at is not None and (inflight is None or inflight[0].eof or now - stop_at > PROBE_STOP_WAIT_S):
            break
        if stop_at is None and inflight is None and now >= next_at:
            sender = (a, b)[turn % 2]
            turn += 1
            inflight, next_at = (sender, now), now + interval_s
            swarm.send(sender, f'SEND_MESSAGE [{conv},"p"]')
        swarm.step(0.005 if inflight else max(0.0, min(0.005, next_at - now)))
    if inflight:
        samples.append((inflight[1], (NOW() - inflight[1]) * 1000, True))
    print(json.dumps(samples), flush=True)


if __name__ == "__main__" and sys.argv[1:2] == ["probe"]:
    probe_main(int(sys.argv[2]), float(sys.argv[3]))
