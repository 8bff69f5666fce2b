"""Commit charge of forked children of a Python process with SageMath's
libgap (PyPI passagemath-gap) initialised: run it as is, and under
LD_PRELOAD=$(gaprun preload) (sage_preload.sh runs both and makes the table).

Prints one JSON line: Committed_AS (system-wide, /proc/meminfo) before GAP
starts, after, and with N idle forked children alive; each child's own
accountable bytes (mappings with the `ac` VmFlag in /proc/PID/smaps, not
disturbed by other processes); and the results of a computation in the
parent and in every child (they must equal 120).
"""
import json
import os
import sys
import time


def committed_as():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("Committed_AS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no Committed_AS")


def accountable(pid):
    total = size = 0
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            if line.startswith("Size:"):
                size = int(line.split()[1]) * 1024
            elif line.startswith("VmFlags:") and "ac" in line.split()[1:]:
                total += size
    return total


def pool_mapping(pid):
    """Size and flags of the VMA holding GAP's pool (GAP maps it at 16 TiB
    when that address is free, as it is here)."""
    with open(f"/proc/{pid}/smaps") as f:
        inside = False
        size = 0
        for line in f:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                lo, hi = (int(x, 16) for x in head.split("-"))
                inside = lo <= 16 << 40 < hi
            elif inside and line.startswith("Size:"):
                size = int(line.split()[1]) * 1024
            elif inside and line.startswith("VmFlags:"):
                return {"bytes": size, "reserved": "ac" in line.split()[1:]}
    return None


def main():
    children = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    before_init = committed_as()
    own_before_init = accountable(os.getpid())
    import sage.all__sagemath_gap  # noqa: F401
    from sage.libs.gap.libgap import libgap

    parent_result = int(libgap.eval("Size(SymmetricGroup(5))"))
    after_init = committed_as()
    own_after_init = accountable(os.getpid())
    time.sleep(0.5)
    settled = committed_as()
    pids, result_pipes, release = [], [], os.pipe()
    for _ in range(children):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            os.close(release[1])
            value = int(libgap.eval("Size(SymmetricGroup(5))"))
            os.write(w, f"{value}\n".encode())
            os.close(w)
            os.read(release[0], 1)  # wait until the parent has measured
            os._exit(0)
        os.close(w)
        pids.append(pid)
        result_pipes.append(r)
    child_results = []
    for r in result_pipes:
        with os.fdopen(r) as f:
            child_results.append(int(f.read().strip()))
    time.sleep(0.5)
    with_children = committed_as()
    child_accountable = [accountable(pid) for pid in pids]
    report = {
        "preload": os.environ.get("LD_PRELOAD", ""),
        "children": children,
        "init_commit": after_init - before_init,
        "init_accountable": own_after_init - own_before_init,
        "per_child_commit": (with_children - settled) / children,
        "child_accountable": child_accountable,
        "parent_pool": pool_mapping(os.getpid()),
        "parent_result": parent_result,
        "child_results": child_results,
    }
    os.close(release[0])
    os.close(release[1])
    for pid in pids:
        os.waitpid(pid, 0)
    print(json.dumps(report))


main()
