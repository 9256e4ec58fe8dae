"""Python's own tarfile module, driven by the box tests: it writes corpus archives in each of its
formats, lists any archive as the reference the tests compare homelab's reader against, and
writes archives whose members are spelled out member by member (the hostile boxes), so every
header in them comes from a real, independent tar implementation.

  tarfile-tool.py write FORMAT OUT SRCDIR [--gzip] [--global KEY=VALUE]
  tarfile-tool.py list ARCHIVE            (JSON: one object per member, with a sha256 of each file
                                           up to 64 MiB: larger ones are sparse giants, not read)
  tarfile-tool.py members FORMAT OUT      (JSON list of members on stdin)
"""

import hashlib
import io
import json
import os
import sys
import tarfile

FORMATS = {"gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT, "ustar": tarfile.USTAR_FORMAT}
TYPES = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.CONTTYPE: "file",
    tarfile.GNUTYPE_SPARSE: "file",
    tarfile.LNKTYPE: "hardlink",
    tarfile.SYMTYPE: "symlink",
    tarfile.DIRTYPE: "directory",
    tarfile.CHRTYPE: "char-device",
    tarfile.BLKTYPE: "block-device",
    tarfile.FIFOTYPE: "fifo",
}
HASH_MAX = 64 << 20
WRITE_TYPES = {v: k for k, v in TYPES.items() if k not in (tarfile.AREGTYPE, tarfile.CONTTYPE, tarfile.GNUTYPE_SPARSE)}


def write(fmt, out, src, gz, global_headers):
    mode = "w:gz" if gz else "w"
    kwargs = {"format": FORMATS[fmt]}
    if global_headers:
        kwargs["pax_headers"] = global_headers  # written as one global ('g') header first
    with tarfile.open(out, mode, **kwargs) as tar:
        for root, dirs, files in os.walk(src):
            dirs.sort()
            for name in sorted(dirs) + sorted(files):
                path = os.path.join(root, name)
                tar.add(path, arcname=os.path.relpath(path, src), recursive=False)


def list_archive(archive):
    out = []
    with tarfile.open(archive, "r:*") as tar:
        for m in tar:
            entry = {"name": m.name, "type": TYPES.get(m.type, "other"), "size": m.size, "linkname": m.linkname}
            if m.isfile() and m.size <= HASH_MAX:
                h = hashlib.sha256()
                f = tar.extractfile(m)
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
                entry["sha256"] = h.hexdigest()
            out.append(entry)
    json.dump(out, sys.stdout)


def members(fmt, out):
    """Members as JSON: {name, type, linkname?, data?, size?}. A `size` larger than `data` writes
    only the header (a declared size with no body: a truncated or bombing archive)."""
    with open(out, "wb") as f:
        tar = tarfile.open(fileobj=f, mode="w", format=FORMATS[fmt])
        for spec in json.load(sys.stdin):
            info = tarfile.TarInfo(spec["name"])
            info.type = WRITE_TYPES[spec.get("type", "file")]
            info.linkname = spec.get("linkname", "")
            info.mode = 0o755 if info.type == tarfile.DIRTYPE else 0o644
            data = spec.get("data", "").encode()
            info.size = len(data) if info.type == tarfile.REGTYPE else 0
            if "size" in spec:
                info.size = spec["size"]
                f.write(info.tobuf(FORMATS[fmt], "utf-8", "surrogateescape"))
                continue
            tar.addfile(info, io.BytesIO(data))
        tar.close()


def main(argv):
    cmd = argv[1]
    if cmd == "write":
        globals_ = {}
        rest = argv[5:]
        while rest:
            if rest[0] == "--global":
                key, _, value = rest[1].partition("=")
                globals_[key] = value
                rest = rest[2:]
            else:
                rest = rest[1:]
        write(argv[2], argv[3], argv[4], "--gzip" in argv[5:], globals_)
    elif cmd == "list":
        list_archive(argv[2])
    elif cmd == "members":
        members(argv[2], argv[3])
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
