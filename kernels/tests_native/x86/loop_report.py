"""Static check of the native micro-kernels: the innermost loops of an object file.

For every function in `objdump -d` output, finds each loop (a backward jump), and prints
its instruction mix: the multiply / dot-product instructions, loads, stack references
(%rsp/%rbp: an accumulator spill shows up here), and the total.  Optionally writes each
loop body to DIR/<function>.s for llvm-mca.

    python3 loop_report.py build/native-objs/avx512vnni.o [--mca-dir DIR]
"""

import argparse
import collections
import pathlib
import re
import subprocess

KEY = (
    "vpdpbusds",
    "vpdpbusd",
    "{vex}",
    "vpmaddubsw",
    "vpmaddwd",
    "vfmadd231ps",
    "vpaddw",
    "vpaddd",
    "vpmovsxbw",
    "vpbroadcastd",
    "tdpbusd",
    "tileloadd",
    "tilestored",
    "vpand",
    "vpandd",
    "vpandq",
    "vpsrlw",
    "vpsrld",
)

MULTIPLY = {"vpdpbusd", "vpdpbusds", "{vex}", "vpmaddubsw", "vpmaddwd", "vfmadd231ps", "tdpbusd"}


def functions(obj):
    out = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", "-C", obj],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    name, body = None, []
    for line in out.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
        if m:
            if name:
                yield name, body
            name, body = m.group(1), []
            continue
        m = re.match(r"^\s+([0-9a-f]+):\s+(\S+)\s*(.*)$", line)
        if m and name:
            body.append((int(m.group(1), 16), m.group(2), m.group(3)))
    if name:
        yield name, body


def loops(body):
    """(start, end) index ranges of the innermost backward-jump loops."""
    addr_index = {a: i for i, (a, _, _) in enumerate(body)}
    found = []
    for i, (_, op, args) in enumerate(body):
        if op.startswith("j"):
            m = re.match(r"([0-9a-f]+)\s", args + " ")
            if m and int(m.group(1), 16) in addr_index and int(m.group(1), 16) <= body[i][0]:
                found.append((addr_index[int(m.group(1), 16)], i))
    # innermost: no other loop strictly inside
    return [
        (s, e)
        for s, e in found
        if not any(s <= s2 and e2 <= e and (s2, e2) != (s, e) for s2, e2 in found)
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("objects", nargs="+")
    ap.add_argument("--mca-dir")
    args = ap.parse_args()
    for obj in args.objects:
        for name, body in functions(obj):
            for s, e in loops(body):
                ins = body[s : e + 1]
                if not any(op in MULTIPLY for _, op, _ in ins):
                    continue  # a backward jump that is not a K loop (store paths)
                mix = collections.Counter(op for _, op, _ in ins)
                stack = sum(1 for _, _, a in ins if "%rsp" in a or "%rbp" in a)
                loads = sum(1 for _, op, a in ins if "(" in a and not op.startswith("lea"))
                keys = " ".join(f"{k}={mix[k]}" for k in KEY if mix[k])
                short = re.sub(r"\(long, void const\*, void const\*, void\*, long, int\)", "", name)
                print(
                    f"{pathlib.Path(obj).name}: {short}\n    loop {len(ins)} instr, "
                    f"stack refs {stack}, memory operands {loads}: {keys}"
                )
                if args.mca_dir:
                    d = pathlib.Path(args.mca_dir)
                    d.mkdir(parents=True, exist_ok=True)
                    fname = re.sub(r"[^A-Za-z0-9_]+", "_", short)[:80] + f"_{s}.s"
                    (d / fname).write_text("\n".join(f"{op} {a}" for _, op, a in ins[:-1]) + "\n")


if __name__ == "__main__":
    main()
