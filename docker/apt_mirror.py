#!/usr/bin/env python3
"""Print the Debian archive URL that this machine's apt configuration uses for a suite.

The repository must not name a mirror, so the rootfs scripts ask the host's apt sources
(one-line `.list` files and deb822 `.sources` files) at run time.
"""

from __future__ import annotations

import glob
import sys
from pathlib import Path

APT_DIR = Path("/etc/apt")


def _one_line_entries(text: str):
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) < 3 or words[0] != "deb":
            continue
        # Drop the optional "[arch=... signed-by=...]" block.
        if words[1].startswith("["):
            while words and not words[1].endswith("]"):
                words.pop(1)
            words.pop(1)
        if len(words) >= 3:
            yield words[1], [words[2]]


def _deb822_entries(text: str):
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = None
        for line in stanza.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line[0].isspace() and key:
                fields[key] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        suites = fields.get("suites", "").split()
        for uri in fields.get("uris", "").split():
            yield uri, suites


def mirrors(suite: str, apt_dir: Path = APT_DIR) -> list[str]:
    found = []
    files = [apt_dir / "sources.list", *sorted(glob.glob(str(apt_dir / "sources.list.d/*.list")))]
    for path in map(Path, files):
        if path.is_file():
            found += [u for u, s in _one_line_entries(path.read_text()) if suite in s]
    for path in sorted(glob.glob(str(apt_dir / "sources.list.d/*.sources"))):
        found += [u for u, s in _deb822_entries(Path(path).read_text()) if suite in s]
    return found


def main() -> int:
    suite = sys.argv[1] if len(sys.argv) > 1 else "bookworm"
    found = mirrors(suite)
    if not found:
        print(f"no apt source for suite {suite!r} in {APT_DIR}", file=sys.stderr)
        return 1
    print(found[0].rstrip("/"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
