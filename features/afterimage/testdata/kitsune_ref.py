#!/usr/bin/python3
"""Reference AfterImage features for afterimage's TestReference.

Written from the definitions of Kitsune (Mirsky et al., NDSS 2018, Table I
and Section IV-B) and the incremental update of its reference code
(incStat / incStat_cov), with the per-direction keys and single covariance
update described in features/afterimage/doc.go. Independent of the Go
code: its own pcap reader and header decoding, dict-keyed state, no
bounds (the capture is small).

    /usr/bin/python3 kitsune_ref.py lab-mixed-600.pcap.gz | gzip -9 > lab-mixed-600.csv.gz

Output: one row per IP packet: index of the frame in the capture, then the
115 features (MI_dir, H, HH, HH_jit, HpHp; each λ-major) with repr floats.
"""
import gzip
import math
import struct
import sys

LAMBDAS = [5, 3, 1, 0.1, 0.01]


class Inc:  # damped incremental statistic for one lambda
    def __init__(self, lam, t):
        self.lam, self.last = lam, t
        self.w = self.ls = self.ss = 0.0

    def decay(self, t):
        if t > self.last:
            f = 2.0 ** (-self.lam * (t - self.last) / 1e9)
            self.w *= f
            self.ls *= f
            self.ss *= f
            self.last = t

    def insert(self, v, t):
        self.decay(t)
        self.w += 1
        self.ls += v
        self.ss += v * v

    def mean(self):
        return self.ls / self.w if self.w > 0 else 0.0

    def var(self):
        if self.w <= 0:
            return 0.0
        m = self.ls / self.w
        return abs(self.ss / self.w - m * m)


class Cov:  # residual-product sum between two directions, one lambda
    def __init__(self, lam, t):
        self.lam, self.last = lam, t
        self.cf3 = self.w3 = 0.0
        self.res = [0.0, 0.0]

    def update(self, d, streams, v, t):
        me, other = streams[d], streams[1 - d]
        other.decay(t)
        if t > self.last:
            f = 2.0 ** (-self.lam * (t - self.last) / 1e9)
            self.cf3 *= f
            self.w3 *= f
            self.last = t
        r = v - me.mean()
        self.cf3 += r * self.res[1 - d]
        self.w3 += 1
        self.res[d] = r
        cov = self.cf3 / self.w3
        sm, so = math.sqrt(me.var()), math.sqrt(other.var())
        pcc = cov / (sm * so) if sm * so != 0 else 0.0
        return [me.w, me.mean(), sm,
                math.sqrt(me.mean() ** 2 + other.mean() ** 2),
                math.sqrt(me.var() ** 2 + other.var() ** 2), cov, pcc]


def one_d(db, key, v, t):
    if key not in db:
        db[key] = [Inc(l, t) for l in LAMBDAS]
    out = []
    for s in db[key]:
        s.insert(v, t)
        out += [s.w, s.mean(), s.var()]
    return out


def two_d(db, a, b, v, t, tag=0):
    d = 0
    if b < a:
        a, b, d = b, a, 1
    if (a, b, tag) not in db:
        db[(a, b, tag)] = [([Inc(l, t), Inc(l, t)], Cov(l, t)) for l in LAMBDAS]
    out = []
    for streams, cov in db[(a, b, tag)]:
        streams[d].insert(v, t)
        out += cov.update(d, streams, v, t)
    return out


def frames(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rb") as f:
        hdr = f.read(24)
        magic = struct.unpack("<I", hdr[:4])[0]
        nano = magic == 0xA1B23C4D
        assert magic in (0xA1B2C3D4, 0xA1B23C4D), "little-endian pcap only"
        assert struct.unpack("<I", hdr[20:24])[0] == 1, "ethernet only"
        while True:
            rh = f.read(16)
            if len(rh) < 16:
                return
            sec, frac, incl, orig = struct.unpack("<IIII", rh)
            yield sec * 10**9 + (frac if nano else frac * 1000), orig, f.read(incl)


def decode(b):
    """Returns (srcmac, src, dst, proto, sport, dport) or None."""
    if len(b) < 14:
        return None
    srcmac, et, off = b[6:12], struct.unpack(">H", b[12:14])[0], 14
    while et in (0x8100, 0x88A8) and len(b) >= off + 4:
        et, off = struct.unpack(">H", b[off + 2:off + 4])[0], off + 4
    if et == 0x0800 and len(b) >= off + 20 and b[off] >> 4 == 4:
        ihl = (b[off] & 15) * 4
        proto = b[off + 9]
        src, dst = b"\0" * 10 + b"\xff\xff" + b[off + 12:off + 16], b"\0" * 10 + b"\xff\xff" + b[off + 16:off + 20]
        frag = struct.unpack(">H", b[off + 6:off + 8])[0] & 0x1FFF
        l4 = off + ihl if frag == 0 else None
    elif et == 0x86DD and len(b) >= off + 40:
        proto, src, dst, l4 = b[off + 6], b[off + 8:off + 24], b[off + 24:off + 40], off + 40
    else:
        return None
    sp = dp = 0
    if l4 is not None and proto in (6, 17) and len(b) >= l4 + (20 if proto == 6 else 8):
        sp, dp = struct.unpack(">HH", b[l4:l4 + 4])
    return srcmac, src, dst, proto, sp, dp


def main():
    mi, h, hh, jit, hphp, last = {}, {}, {}, {}, {}, {}
    w = sys.stdout.write
    for i, (t, size, b) in enumerate(frames(sys.argv[1])):
        p = decode(b)
        if p is None:
            continue
        srcmac, src, dst, proto, sp, dp = p
        v = float(size)
        row = one_d(mi, srcmac + src, v, t)
        row += one_d(h, src, v, t)
        row += two_d(hh, src, dst, v, t)
        gap = (t - last[(src, dst)]) / 1e9 if (src, dst) in last and t > last[(src, dst)] else 0.0
        if (src, dst) not in last or t > last[(src, dst)]:
            last[(src, dst)] = t
        row += one_d(jit, (src, dst), gap, t)
        row += two_d(hphp, src + struct.pack(">H", sp), dst + struct.pack(">H", dp), v, t, proto)
        w(str(i) + "," + ",".join(repr(x) for x in row) + "\n")


main()
