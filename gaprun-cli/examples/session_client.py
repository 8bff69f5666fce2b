#!/usr/bin/env python3
"""Drive `gaprun serve --stdio` (protocol gaprun-session/1) from Python.

Shows eval, a timeout, a fork of the session and a switch between the two
branches. Usage: python3 session_client.py [path/to/gaprun]
"""
import json
import subprocess
import sys


class Session:
    def __init__(self, gaprun="gaprun"):
        self.proc = subprocess.Popen(
            [gaprun, "serve", "--stdio", "-A"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.hello = json.loads(self.proc.stdout.readline())
        assert self.hello["protocol"] == "gaprun-session/1", self.hello
        self.next_id = 0

    def request(self, op, **fields):
        self.next_id += 1
        req = {"id": self.next_id, "op": op, **fields}
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        assert answer["id"] == self.next_id, answer
        return answer

    def close(self):
        self.request("close")
        self.proc.wait(timeout=10)


def main():
    s = Session(sys.argv[1] if len(sys.argv) > 1 else "gaprun")
    r = s.request("eval", code="G := SymmetricGroup(4);; Size(G);")
    print("Size(G) =", r["json"], "view:", r["view"], f"({r['wall_ms']:.2f} ms)")
    assert r["ok"] and r["json"] == 24

    r = s.request("eval", code="while true do od;", timeout_ms=200)
    print("endless loop:", r["error"], "timed_out:", r["timed_out"])
    assert not r["ok"] and r["timed_out"]

    branch = s.request("fork")["session"]          # snapshot session 0
    s.request("switch", session=branch)
    r = s.request("eval", code="G := CyclicGroup(5);; Size(G);")
    print(f"in branch {branch}: Size(G) =", r["json"])
    assert r["json"] == 5

    s.request("switch", session=0)
    r = s.request("eval", code="Size(G);")
    print("back in session 0: Size(G) =", r["json"])
    assert r["json"] == 24

    s.request("drop", session=branch)
    print("sessions:", [x["session"] for x in s.request("stats")["sessions"]])
    s.close()
    print("ok")


if __name__ == "__main__":
    main()
