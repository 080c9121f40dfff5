#!/usr/bin/env python3
"""What a REQUEST flood costs an `imserver --announce`, and what it gets back (issue 11).

  announce-flood.py BIN [SECS]    BIN: an imserver binary (target/release/imserver); SECS: 5

Starts BIN announcing in a group of its own on loopback only (--announce-interface
127.0.0.1; no datagram leaves the machine), sends it REQUEST datagrams as fast as one
Python process can for SECS seconds, and prints how many were sent, how many ANNOUNCEs came
back (at most one a second, however many ask), the server's CPU time over the flood (from
/proc), and the server's own count from its exit line. Stops by itself."""
import os, random, socket, struct, subprocess, sys, time

def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    binary, secs = sys.argv[1], float(sys.argv[2]) if len(sys.argv) == 3 else 5.0
    group = f"239.255.{random.randrange(256)}.{random.randrange(256)}"
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]; probe.close()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((group, port))
    loopback = socket.inet_aton("127.0.0.1")
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(group) + loopback)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, loopback)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    server = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--http", "off", "--announce",
                               "--announce-group", f"{group}:{port}", "--announce-interface",
                               "127.0.0.1", "--name", "flooded"], stderr=subprocess.PIPE, text=True)
    # Its first ANNOUNCE says it is up.
    sock.settimeout(10)
    while not sock.recv(2048).startswith(b"ANNOUNCE"):
        pass
    sock.setblocking(False)
    start_cpu, start, sent, answers = cpu_seconds(server.pid), time.time(), 0, 0
    while time.time() - start < secs:
        for _ in range(100):
            sock.sendto(b"REQUEST {}\n", (group, port)); sent += 1
        try:
            while True:
                answers += sock.recv(2048).startswith(b"ANNOUNCE")
        except BlockingIOError:
            pass
    elapsed, cpu = time.time() - start, cpu_seconds(server.pid) - start_cpu
    server.terminate()
    log = server.communicate(timeout=10)[1]
    print(f"sent {sent} REQUESTs in {elapsed:.1f} s ({sent / elapsed:,.0f}/s); "
          f"{answers} ANNOUNCEs came back; server CPU {cpu:.2f} s ({100 * cpu / elapsed:.0f}% of a core)")
    print("server:", next(l.split("] ", 1)[1] for l in log.splitlines() if "announce: sent" in l))

main()
