#!/usr/bin/env python3
"""Converts scenario files (tests/vectors/*.vec syntax, see
tests/vectors/FORMAT.md) into seed inputs for memwin_fuzz.

    vec2seed.py --out DIR FILE.vec...

Each scenario becomes DIR/<name>.bin in the fuzzer's binary format (see
Decode in memwin_fuzz.cpp): names (A, B, X...) become slots in order of
appearance, addresses NAME+OFFSET become slot-relative addresses, "free X
SIZE [ALIGN]" becomes the fuzzer's hole operation, "fault" and "nofault"
drive the fault injector, "fill" writes data.  The vectors are exact-mode
scenarios; the fuzzer runs in recoverable mode, where Reserved pages must be
mapped before they are used, so every used step is preceded by a sysMapOS of
its range (refused, without effect, where it is not needed).  Steps the fuzzer has no
equivalent for (squat, region) are skipped; a line that cannot be read is
skipped with a note, so the converter keeps working while the vectors grow.
"""
import argparse
import os
import struct
import sys

OPS = {
    "sysReserve": 0, "sysReserveOS": 1, "sysAlloc": 2, "sysAllocOS": 3,
    "sysReserveAligned": 4, "sysMap": 5, "sysMapOS": 6, "sysUsed": 7,
    "sysUsedOS": 8, "sysUnused": 9, "sysUnusedOS": 10, "sysFault": 11,
    "sysFaultOS": 12, "sysFree": 13, "sysFreeOS": 14, "sysUnreserve": 15,
    "hint": 16, "fill": 17, "setstat": 18, "statadd": 19, "fault": 20,
    "nofault": 21, "hole": 22, "needzero": 23, "drop": 24, "exactreserve": 25,
    "exactfree": 26,
}
HINTS = ["sysHugePage", "sysNoHugePage", "sysHugePageCollapse",
         "sysHugePageOS", "sysNoHugePageOS", "sysHugePageCollapseOS"]
CLASSES = {"reserve": 1, "commit": 2, "alloc": 4, "decommit": 8, "release": 16}
ERRORS = [8, 1455, 87, 487, 5, 0, 1, 2]
PAGE = 4096


class Skip(Exception):
    pass


def number(s):
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "p": PAGE}.get(s[-1:], 1)
    body = s[:-1] if mult != 1 else s
    try:
        v = int(body, 16) if body.startswith("0x") else int(body, 10)
    except ValueError:
        raise Skip("bad number %r" % s)
    v *= mult
    if v >= 1 << 64:
        raise Skip("number %r overflows" % s)
    return v


class Converter:
    def __init__(self):
        self.slots = {}

    def slot(self, name):
        if name not in self.slots:
            self.slots[name] = len(self.slots) % 8
        return self.slots[name]

    def addr(self, s):
        if s == "nil":
            return bytes([0])
        if s[0].isdigit():
            return bytes([3]) + struct.pack("<Q", number(s))
        for i, c in enumerate(s):
            if c in "+-":
                name, off = s[:i], number(s[i + 1:])
                if c == "-":
                    off = -off
                break
        else:
            name, off = s, 0
        k = self.slot(name)
        if -(1 << 31) <= off < (1 << 31):
            return bytes([2 | (k << 3)]) + struct.pack("<i", off)
        if off > 0 and off % PAGE == 0 and off // PAGE < 1 << 16:
            return bytes([7 | (k << 3)]) + struct.pack("<H", off // PAGE)
        raise Skip("offset of %r out of range" % s)

    @staticmethod
    def size(s):
        v = number(s)
        if v % PAGE == 0 and v // PAGE < 1 << 16:
            return bytes([1]) + struct.pack("<H", v // PAGE)
        return bytes([2]) + struct.pack("<Q", v)

    @staticmethod
    def align(s):
        v = number(s)
        if v and v & (v - 1) == 0 and v < 1 << 63:
            return bytes([v.bit_length() - 1])
        return bytes([0x80]) + struct.pack("<Q", v)

    def premap(self, args):
        return bytes([OPS["sysMapOS"]]) + self.addr(args[0]) + self.size(args[1])

    def step(self, fields):
        bind = None
        if fields[0] == "fatal":
            fields = fields[1:]
        if len(fields) >= 2 and fields[1] == "=":
            bind, fields = fields[0], fields[2:]
        if not fields:
            raise Skip("no operation")
        op, args = fields[0], fields[1:]
        slot = self.slot(bind) if bind else 0

        def code(name, s=slot):
            return bytes([(s << 5) | OPS[name]])

        if op in ("sysReserve", "sysReserveOS"):
            return code(op) + self.addr(args[0]) + self.size(args[1])
        if op == "sysAlloc":
            return code(op) + self.size(args[0]) + bytes([1])
        if op == "sysAllocOS":
            return code(op) + self.size(args[0])
        if op == "sysReserveAligned":
            return code(op) + self.addr(args[0]) + self.size(args[1]) + self.align(args[2])
        if op in ("sysMap", "sysFree"):
            return code(op) + self.addr(args[0]) + self.size(args[1]) + bytes([1])
        # The vectors are exact-mode scenarios, which may commit Reserved
        # pages directly; checked mode wants them mapped first, so each used
        # step is preceded by a sysMapOS of its range (refused, harmlessly,
        # where the pages are mapped already).
        if op == "sysUsed":
            return self.premap(args) + code(op) + self.addr(args[0]) + self.size(args[1]) + \
                bytes([3]) + self.size(args[2])
        if op == "sysUsedOS":
            return self.premap(args) + code(op) + self.addr(args[0]) + self.size(args[1])
        if op in ("sysMapOS", "sysUnused", "sysUnusedOS", "sysFault",
                  "sysFaultOS", "sysFreeOS", "sysUnreserve"):
            return code(op) + self.addr(args[0]) + self.size(args[1])
        if op in HINTS:
            return code("hint") + bytes([HINTS.index(op)]) + self.addr(args[0]) + \
                self.size(args[1])
        if op in ("needZeroAfterSysUnused", "needZeroAfterSysUnusedOS"):
            return code("needzero")
        if op == "fill":
            return code("fill") + self.addr(args[0]) + self.size(args[1])
        if op == "setstat":
            return code("setstat") + bytes([1]) + struct.pack("<Q", number(args[0]))
        if op == "fault":
            classes = 0
            for w in args[0].split(","):
                if w not in CLASSES:
                    raise Skip("bad fault class %r" % w)
                classes |= CLASSES[w]
            nth, count, err = number(args[1]), number(args[2]), number(args[3])
            if nth > 255 or count > 255:
                raise Skip("fault nth/count above 255")
            e = ERRORS.index(err) if err in ERRORS else 0
            return code("fault") + bytes([classes, nth, count, e])
        if op == "nofault":
            return code("nofault")
        if op == "free":
            k = self.slot(args[0])
            size = self.size(args[1])
            al = number(args[2]) if len(args) > 2 else 1
            if al & (al - 1) or al >= 1 << 24:
                raise Skip("hole alignment %r" % args[2])
            return code("hole", k) + size + bytes([al.bit_length() - 1])
        if op == "drop":
            return code("drop", self.slot(args[0]))
        # Only in fuzz/seeds: a reservation made, or released, in exact mode.
        if op == "exactreserve":
            return code("exactreserve") + self.size(args[0])
        if op == "exactfree":
            return code("exactfree", self.slot(args[0]))
        raise Skip("no fuzzer equivalent for %r" % op)


def convert(path, quiet):
    conv = Converter()
    out = bytearray()
    with open(path) as f:
        for ln, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line or line.split()[0] in ("desc", "since"):
                continue
            try:
                out += conv.step(line.split())
            except (Skip, IndexError) as e:
                if not quiet:
                    print("vec2seed: %s:%d: skipped (%s)" % (path, ln, e or "arguments"),
                          file=sys.stderr)
    return bytes(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("files", nargs="*")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    n = 0
    for path in a.files:
        if not path.endswith(".vec") or not os.path.isfile(path):
            continue
        data = convert(path, a.quiet)
        if data:
            name = os.path.splitext(os.path.basename(path))[0]
            with open(os.path.join(a.out, name + ".bin"), "wb") as f:
                f.write(data)
            n += 1
    print("vec2seed: %d seed(s) in %s" % (n, a.out))


if __name__ == "__main__":
    main()
