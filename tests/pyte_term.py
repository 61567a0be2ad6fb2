#!/usr/bin/env python3
"""A second terminal for the console's tests (tests/tui_width.rs).

Runs a command in a pseudo-terminal of COLS x ROWS, feeds everything it prints to a pyte
screen (pyte parses the escape sequences: cursor moves, erases, attributes, and answers the
cursor-position query CSI 6n through the pty, as a real terminal does), and takes commands on
stdin, one JSON object a line:

  {"keys": "2"}      write these characters to the program (escape sequences included)
  {"screen": true}   answer one JSON line: {"rows": [[cell, ...], ...], "alive": bool}, one
                     string per screen column ("" for a column covered by a wide cell)
  {"quit": true}     stop (the program is killed if it still runs)

With --silent the terminal never answers the cursor-position query (as some do not).

How the cursor advances over printed text is the terminal model (--model):

  wcwidth   one cell per codepoint with glibc's wcwidth: nonspacing and enclosing marks and
            format characters join the cell before, East Asian wide and fullwidth take two
            columns, everything else one (Bengali spacing vowel signs too), as tmux, GNU
            screen, xterm and VTE do;
  grapheme  one cell per grapheme cluster, as terminals that shape clusters do (WezTerm's
            rule): the cluster's width is the sum of its codepoints' widths with grapheme
            extenders (nonspacing marks, and spacing marks such as U+09BE that extend a
            cluster) counted 0; an emoji sequence (ZWJ or VS16) is two columns.

The widths come from Python's own unicodedata, independent of the program under test. pyte's
own drawing is replaced by the model (pyte's uses the wcwidth package, whose versions
disagree about spacing marks).
"""

import argparse
import codecs
import fcntl
import json
import os
import pty
import select
import signal
import struct
import sys
import termios
import unicodedata

import pyte
from pyte import modes

# Spacing marks that extend a grapheme cluster (Other_Grapheme_Extend), Indic scripts.
EXTEND_SPACING = set("\u09be\u09d7\u0b3e\u0b57\u0bbe\u0bd7\u0cc2\u0cd5\u0cd6\u0d3e\u0d57\u0dcf\u0ddf")


def wcwidth(c):
    cat = unicodedata.category(c)
    if cat in ("Mn", "Me", "Cf") or "\u1160" <= c <= "\u11ff":
        return 0
    if unicodedata.east_asian_width(c) in ("W", "F"):
        return 2
    return 1


def clusters(text):
    out = []
    for c in text:
        cat = unicodedata.category(c)
        prev = out[-1][-1] if out else None
        joins = prev is not None and (
            cat in ("Mn", "Mc", "Me")
            or c in "\u200c\u200d"
            or "\ufe00" <= c <= "\ufe0f"
            or prev == "\u200d"
            # a virama joins the next consonant (conjuncts such as ক্ষ)
            or (unicodedata.combining(prev) == 9 and cat == "Lo")
        )
        if joins:
            out[-1] += c
        else:
            out.append(c)
    return out


def cluster_width(g):
    if "\u200d" in g or "\ufe0f" in g:
        return 2
    return sum(0 if c in EXTEND_SPACING else wcwidth(c) for c in g)


class ModelScreen(pyte.Screen):
    def __init__(self, cols, rows, model):
        super().__init__(cols, rows)
        self.model = model

    def units(self, data):
        if self.model == "wcwidth":
            return [(c, wcwidth(c)) for c in data]
        return [(g, cluster_width(g)) for g in clusters(data)]

    def combine(self, unit):
        line = self.buffer[self.cursor.y]
        x = self.cursor.x - 1
        if x < 0:
            return
        if line[x].data == "" and x > 0:
            x -= 1
        line[x] = line[x]._replace(data=line[x].data + unit)

    def draw(self, data):
        data = data.translate(self.g1_charset if self.charset else self.g0_charset)
        for unit, width in self.units(data):
            if width == 0:
                self.combine(unit)
                continue
            if self.cursor.x + width > self.columns:
                if modes.DECAWM in self.mode:
                    self.dirty.add(self.cursor.y)
                    self.carriage_return()
                    self.linefeed()
                else:
                    self.cursor.x = self.columns - width
            line = self.buffer[self.cursor.y]
            line[self.cursor.x] = self.cursor.attrs._replace(data=unit)
            # the columns a wide cell covers hold nothing of their own
            for i in range(1, width):
                if self.cursor.x + i < self.columns:
                    line[self.cursor.x + i] = self.cursor.attrs._replace(data="")
            self.cursor.x += width
        self.dirty.add(self.cursor.y)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["wcwidth", "grapheme"], required=True)
    ap.add_argument("--cols", type=int, default=80)
    ap.add_argument("--rows", type=int, default=24)
    ap.add_argument(
        "--silent", action="store_true", help="never answer the cursor-position query"
    )
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", a.rows, a.cols, 0, 0))
        os.execvp(cmd[0], cmd)
    screen = ModelScreen(a.cols, a.rows, a.model)
    stream = pyte.Stream(screen)
    if a.silent:
        screen.write_process_input = lambda text: None
    else:
        screen.write_process_input = lambda text: os.write(fd, text.encode())
    decode = codecs.getincrementaldecoder("utf-8")("replace").decode
    stdin = sys.stdin.fileno()
    alive = True
    pending = b""
    while True:
        r, _, _ = select.select([fd, stdin] if alive else [stdin], [], [], 0.5)
        if fd in r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            if data:
                stream.feed(decode(data))
            else:
                alive = False
        if stdin in r:
            chunk = os.read(stdin, 65536)
            if not chunk:
                break
            pending += chunk
            quit_now = False
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                if not line.strip():
                    continue
                req = json.loads(line)
                if "keys" in req and alive:
                    os.write(fd, req["keys"].encode())
                if req.get("screen"):
                    rows = [
                        [screen.buffer[y][x].data for x in range(a.cols)]
                        for y in range(a.rows)
                    ]
                    sys.stdout.write(json.dumps({"rows": rows, "alive": alive}) + "\n")
                    sys.stdout.flush()
                if req.get("quit"):
                    quit_now = True
            if quit_now:
                break
    if alive:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


if __name__ == "__main__":
    main()
