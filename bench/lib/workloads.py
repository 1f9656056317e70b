"""The four workloads, generated once into a cache directory outside the repository and reused.

(a) one 2 GiB file, (b) 512 files of 4 MiB, (c) 20,000 files of 4 KiB, (d) a 1 GiB CSV of text lines with numbers.
BENCH_SCALE scales (a) and (d) in bytes and (b) and (c) in file count. Binary data is random (incompressible).
Each workload also gets, for kcat, the same bytes cut into messages of the push's chunk size."""
from dataclasses import dataclass, field
import os
import random
import shutil

GIB = 1 << 30
MIB = 1 << 20
KIB = 1 << 10
CHUNK = 960 * KIB  # kafka-stream-push's default stream.chunk.bytes


@dataclass
class Workload:
    key: str          # a, b, c, d
    title: str
    tree: str         # the directory that is pushed / copied
    files: int
    bytes: int
    record_bytes: int  # the message size peers use (the push's chunk size, or the file size when smaller)
    pieces: list = field(default_factory=list)  # files kcat sends, one message each

    @property
    def messages(self):
        return len(self.pieces)


def _write_random(path, size):
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 4 * MIB)
            f.write(os.urandom(n))
            left -= n


def _write_csv(path, size, seed=7):
    """Text lines such as `1234567,1700000000.123,23.456789,-0.001234,sensor-17,OK`."""
    rng = random.Random(seed)
    written, i = 0, 0
    with open(path, "w") as f:
        while written < size:
            block = []
            for _ in range(20000):
                i += 1
                status = "OK" if rng.random() < .97 else "WARN"
                block.append(f"{i},{1700000000 + i * 0.001:.3f},{rng.uniform(-100, 100):.6f},"
                             f"{rng.gauss(0, 1):.6f},sensor-{rng.randrange(64)},{status}\n")
            text = "".join(block)
            if written + len(text) > size:  # end on a whole line, at most `size` bytes
                text = text[:text.rfind("\n", 0, size - written) + 1]
                if not text:
                    break
            f.write(text)
            written += len(text)


def _cut(src_files, dest, size):
    """Cuts each file into pieces of `size` bytes (the last one shorter); returns the piece paths in order."""
    os.makedirs(dest, exist_ok=True)
    pieces = []
    for n, src in enumerate(src_files):
        with open(src, "rb") as f:
            k = 0
            while True:
                data = f.read(size)
                if not data and k > 0:
                    break
                p = os.path.join(dest, f"{n:06d}.{k:05d}")
                with open(p, "wb") as out:
                    out.write(data)
                pieces.append(p)
                k += 1
                if len(data) < size:
                    break
    return pieces


def _files_under(tree):
    out = []
    for root, dirs, files in os.walk(tree):
        dirs.sort()
        out += [os.path.join(root, f) for f in sorted(files)]
    return out


def _spec(scale):
    return {
        "a": ("one 2 GiB file", lambda t: _write_random(os.path.join(t, "big.bin"), max(CHUNK, int(2 * GIB * scale)))),
        "b": ("512 files of 4 MiB", lambda t: [_write_random(os.path.join(t, f"part-{i:04d}.bin"), 4 * MIB)
                                               for i in range(max(1, round(512 * scale)))]),
        "c": ("20,000 files of 4 KiB", lambda t: _small_files(t, max(1, round(20000 * scale)))),
        "d": ("1 GiB CSV of text lines", lambda t: _write_csv(os.path.join(t, "data.csv"), max(MIB, int(GIB * scale)))),
    }


def _small_files(tree, count):
    for i in range(count):  # 1,000 per directory, as a job writing many small outputs would
        d = os.path.join(tree, f"dir{i // 1000:03d}")
        if i % 1000 == 0:
            os.makedirs(d, exist_ok=True)
        _write_random(os.path.join(d, f"f{i:05d}.bin"), 4 * KIB)


def prepare(cache, scale, keys, log):
    """Returns {key: Workload}, generating what the cache does not hold yet."""
    base = os.path.join(cache, f"scale-{scale:g}")
    os.makedirs(base, exist_ok=True)
    out = {}
    for key in keys:
        title, make = _spec(scale)[key]
        tree, pieces_dir, done = (os.path.join(base, key), os.path.join(base, key + ".pieces"),
                                  os.path.join(base, key + ".complete"))
        if not os.path.exists(done):
            log(f"generating workload ({key}) {title} at scale {scale:g} in {tree}")
            shutil.rmtree(tree, ignore_errors=True)
            shutil.rmtree(pieces_dir, ignore_errors=True)
            os.makedirs(tree)
            make(tree)
            files = _files_under(tree)
            if key in "ab" and max(os.path.getsize(f) for f in files) > CHUNK:  # (d) is the Python comparison
                _cut(files, pieces_dir, CHUNK)
            open(done, "w").close()
        files = _files_under(tree)
        sizes = [os.path.getsize(f) for f in files]
        pieces = _files_under(pieces_dir) if os.path.isdir(pieces_dir) else files  # (d): kcat does not run on it
        out[key] = Workload(key, title, tree, len(files), sum(sizes), min(CHUNK, max(sizes)), pieces)
    return out

