#!/usr/bin/env python3
"""Runs one command and reports what it cost the controller, children and daemons included.

    python3 bench/measure.py OUT.json -- COMMAND ARGS...

Becomes a child subreaper first, so processes the command leaves behind (ssh ControlPersist
masters daemonize and would otherwise escape the accounting) are re-parented here. Wall time
ends when COMMAND exits; then the leftovers get SIGTERM (they are the command's own daemons,
nothing else can be re-parented to us) and every process is reaped, so getrusage(CHILDREN)
holds the CPU of the whole tree. Peak RSS is sampled as the sum over the tree every 100 ms, and
also taken from wait4 (the largest single process).
"""
import ctypes, json, os, resource, signal, subprocess, sys, threading, time

PR_SET_CHILD_SUBREAPER = 36


def tree_rss_kb(root):
    """Sum of VmRSS over root and its descendants (and our re-parented orphans)."""
    parents = {}
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open(f'/proc/{name}/stat') as f:
                fields = f.read().rsplit(')', 1)[1].split()
            parents[int(name)] = int(fields[1])
        except OSError:
            continue
    me = os.getpid()
    members, total = set(), 0
    for pid in parents:
        p, hops = pid, 0
        while p > 1 and hops < 64:
            if p == root or p == me:
                members.add(pid)
                break
            p, hops = parents.get(p, 0), hops + 1
    members.discard(me)
    for pid in members:
        try:
            with open(f'/proc/{pid}/status') as f:
                for line in f:
                    if line.startswith('VmRSS:'):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def main():
    out, cmd = sys.argv[1], sys.argv[sys.argv.index('--') + 1:]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    stdout = open(os.environ.get('MEASURE_LOG', os.devnull), 'ab')
    start = time.monotonic()
    # Its own session, so a stop request (SIGTERM/SIGINT here) reaches the whole command.
    child = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def stop(signum, frame):
        try:
            os.killpg(child.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.wait(0.1):
            peak[0] = max(peak[0], tree_rss_kb(child.pid))
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    # Popen.wait would reap only this child; wait4 on its pid keeps the rusage bookkeeping in the kernel.
    _, status, _ = os.wait4(child.pid, 0)
    wall = time.monotonic() - start
    done.set()
    sampler.join()
    leftovers = [int(p) for p in open(f'/proc/{os.getpid()}/task/{os.getpid()}/children').read().split()]
    for pid in leftovers:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    while True:
        try:
            os.wait4(-1, 0)
        except ChildProcessError:
            break
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = {
        'wall': wall, 'user': usage.ru_utime, 'sys': usage.ru_stime, 'cpu': usage.ru_utime + usage.ru_stime,
        'maxRssProcessMB': usage.ru_maxrss / 1024, 'peakTreeRssMB': peak[0] / 1024,
        'code': os.waitstatus_to_exitcode(status), 'leftovers': len(leftovers),
    }
    with open(out, 'w') as f:
        json.dump(result, f)


main()
